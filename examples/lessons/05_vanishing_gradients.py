"""Lesson 5 — vanishing and exploding gradients.

Backpropagation through time carries ∂L/∂a<t> from step t to step t-1 through the recurrence:

    ∂L/∂a<t-1> = W_aaᵀ (g'(z<t>) ⊙ ∂L/∂a<t>)       (+ the loss of step t-1 itself)

so the gradient reaching step 1 from a loss at step Tx is a product of Tx-1 such factors: it
shrinks geometrically when they are below 1 (vanishing: early inputs cannot be learned from) and
grows geometrically when they are above 1 (exploding: one step wrecks the weights). A GRU's or an
LSTM's memory has an additive path instead, c<t> = Γ_u ⊙ c̃<t> + Γ_f ⊙ c<t-1>, along which the
factor is the forget gate Γ_f (for the GRU, 1 − Γ_u): when the gate says "keep", the gradient
passes through unchanged.

The library measures ‖∂L/∂a<t>‖ at every step of a batch: model.gradient_norms(x, y) -> [L·D, T].
Three parts: the gradient per step at initialisation; a long-memory task that only the gated cell
learns; and clipping (clip_norm, clip_value) bounding an exploding gradient.

Run: python3 05_vanishing_gradients.py
"""

import sys
import time

import numpy as np

import seqcore


def require(condition, message):
    print(("  ok   " if condition else "  FAIL ") + message)
    if not condition:
        sys.exit(1)


def show(name, norms, steps):
    print(f"  {name:30s}" + "".join(f"{norms[t - 1]:10.1e}" for t in steps))


I, H = 2, 32

# --- 1. The gradient per step, loss at the last step only ------------------------------------------
# A many-to-one model (the loss comes from the final state a<Tx> alone), Tx = 100 steps.
T = 100
rng = np.random.default_rng(5)
x = rng.standard_normal((16, T, I)).astype(np.float32)
y = rng.integers(0, 2, 16)
STEPS = (1, 25, 50, 75, 100)


def per_step_norms(layer):
    return seqcore.SequenceClassifier(layer, output_size=2, seed=5).gradient_norms(x, y)[0]  # row 0: the one layer


print("1. ‖∂L/∂a<t>‖ per step, loss at step 100 (B = 16 sequences)")
print(f"  {'t =':>30s}" + "".join(f"{t:>10d}" for t in STEPS))
# At initialisation the gates sit near σ(0) = 1/2: a gated cell keeps only half its memory per step,
# so its gradient vanishes too (0.5^99 ≈ 1.6e-30). Gating does not help until the gates say "keep".
# (The RNN's 0.0 at step 1 is a float32 underflow: below 1e-45.)
fresh = {name: per_step_norms(layer) for name, layer in
         [("RNN (tanh)", seqcore.RNN(I, H, seed=5)), ("GRU", seqcore.GRU(I, H, seed=5)),
          ("LSTM", seqcore.LSTM(I, H, seed=5))]}
for name, norms in fresh.items():
    show(name + ", initial weights", norms, STEPS)
require(all(n[0] < 1e-6 * n[-1] for n in fresh.values()),
        "with gates at 1/2, all three lose more than 6 orders of magnitude over 100 steps")

# Gates that say "keep": the LSTM's forget gate biased to Γ_f = σ(4) ≈ 0.98 (forget_bias), the GRU's
# z = 1 − Γ_u likewise (PyTorch rows r, z, n: z's bias is rows H..2H). This is what training does
# when a task needs memory (part 2); the RNN has no gate to set: W_aa and tanh' are all it has.
gru = seqcore.GRU(I, H, seed=5)
weights = gru.state_dict()
weights["bias_hh_l0"][H:2 * H] += 4.0
gru.load_state_dict(weights)
rnn_norms = fresh["RNN (tanh)"]
gru_norms = per_step_norms(gru)
lstm_norms = per_step_norms(seqcore.LSTM(I, H, seed=5, forget_bias=4.0))
show("GRU, update gate z ≈ 0.98", gru_norms, STEPS)
show("LSTM, forget gate Γ_f ≈ 0.98", lstm_norms, STEPS)
ratio = {name: n[0] / n[-1] for name, n in
         [("RNN", rnn_norms), ("GRU", gru_norms), ("LSTM", lstm_norms)]}  # ‖∂L/∂a<1>‖ / ‖∂L/∂a<100>‖
print("  ‖∂L/∂a<1>‖ / ‖∂L/∂a<100>‖: " + ", ".join(f"{k} {v:.1e}" for k, v in ratio.items()))
require(ratio["GRU"] > 1e-2 and ratio["LSTM"] > 1e-2, "the gated cells carry the gradient back to step 1 (> 1e-2)")
require(ratio["RNN"] < 1e-3 * min(ratio["GRU"], ratio["LSTM"]),
        "the RNN's reaches step 1 more than 3 orders of magnitude weaker than the gated cells'")

# --- 2. What it costs: the adding problem ---------------------------------------------------------
# Each step carries a random number and a marker; two steps are marked, one in each half; the target
# is the sum of the two marked numbers. Answering the mean scores MSE ≈ 0.17: to beat it, the model
# must learn from inputs up to 50 steps before the loss.
print("\n2. The adding problem, Tx = 50: RNN against GRU, 8 epochs of 2000 sequences")
T = 50


def adding(n):
    x = np.zeros((n, T, 2), np.float32)
    x[:, :, 0] = rng.random((n, T))
    x[np.arange(n), rng.integers(0, T // 2, n), 1] = 1.0  # a marker in the first half
    x[np.arange(n), rng.integers(T // 2, T, n), 1] = 1.0  # and one in the second
    return x, (x[:, :, 0] * x[:, :, 1]).sum(1, keepdims=True)


x_train, y_train = adding(2000)
x_test, y_test = adding(300)
baseline = float(np.mean((y_test - y_train.mean()) ** 2))
results = {}
for name, layer in [("RNN (tanh)", seqcore.RNN(I, H, seed=5)), ("GRU", seqcore.GRU(I, H, seed=5))]:
    started = time.perf_counter()
    model = seqcore.SequenceClassifier(layer, output_size=1, output="regression", learning_rate=0.01, seed=5)
    model.fit(x_train, y_train, epochs=8, batch_size=32, verbose=0)
    norms = model.gradient_norms(x_test, y_test)[0]
    results[name] = (model.evaluate(x_test, y_test), norms[0] / norms[-1])
    print(f"  {name:10s} test MSE {results[name][0]:.4f} (answering the mean: {baseline:.4f}); after training "
          f"‖∂L/∂a<1>‖ / ‖∂L/∂a<50>‖ = {results[name][1]:.1e}  ({time.perf_counter() - started:.1f} s)")
require(results["RNN (tanh)"][0] > 0.8 * baseline, "the RNN stays stuck near the mean")
require(results["GRU"][0] < 0.05 * baseline, "the GRU learns the sum (MSE under 5% of the mean's)")
require(results["RNN (tanh)"][1] < 1e-2 * results["GRU"][1],
        "the trained GRU's gradient reaches step 1 at least 100 times stronger than the RNN's")
# (The LSTM learns it too, with more steps: `seqcore demo` trains all three at Tx = 100.)

# --- 3. Exploding gradients, and clipping -----------------------------------------------------------
# A ReLU RNN with W_aa = 1.3 I: every step back multiplies ∂L/∂a by about 1.3, so over 40 steps the
# gradient grows about 1.3^39 ≈ 28000-fold, and one plain gradient step would throw the weights far away.
print("\n3. Exploding gradients: a ReLU RNN with W_aa = 1.3 I, Tx = 40")
T = 40
x = rng.standard_normal((8, T, I)).astype(np.float32)
y = rng.integers(0, 2, 8)
explosive = seqcore.RNN(I, 16, nonlinearity="relu", seed=5)
weights = explosive.state_dict()
weights["weight_hh_l0"] = 1.3 * np.eye(16, dtype=np.float32)
explosive.load_state_dict(weights)


def global_norm(tensors):
    return float(np.sqrt(sum(np.sum(np.asarray(v, np.float64) ** 2) for v in tensors.values())))


def make(**clipping):
    return seqcore.SequenceClassifier(explosive, output_size=2, optimizer="sgd", learning_rate=0.1, seed=5, **clipping)


plain = make()
norms = plain.gradient_norms(x, y)[0]  # computes the gradients, no step
print(f"  {'t =':>30s}" + "".join(f"{t:>10d}" for t in (1, 10, 20, 30, 40)))
show("‖∂L/∂a<t>‖", norms, (1, 10, 20, 30, 40))
raw = plain.gradients()
raw_norm = global_norm(raw)
print(f"  the global gradient norm ‖∂L/∂θ‖ = {raw_norm:.3g}")
require(norms[0] > 1e3 * norms[-1], "the gradient grows more than 1000-fold from step 40 back to step 1")

# clip_norm = c: if ‖g‖ > c, g := g · c / ‖g‖ — same direction, length c — before the step.
before = plain.state_dict()
clipped = make(clip_norm=1.0)
clipped.train_step(x, y)
g = clipped.gradients()  # left as clipped by the step
after = clipped.state_dict()
step = {k: after[k].astype(np.float64) - before[k] for k in after}
print(f"  clip_norm = 1: gradient norm {global_norm(g):.6f}, weights moved by {global_norm(step):.6f} (α = 0.1)")
require(abs(global_norm(g) - 1.0) < 1e-4, "the clipped gradient has norm 1")
require(all(np.allclose(g[k], raw[k] / raw_norm, rtol=1e-3, atol=1e-6) for k in g),
        "in the same direction as the unclipped one: g · 1/‖g‖")
require(global_norm(step) <= 0.1 * 1.0 + 1e-5, "so one SGD step moves the weights by at most α · 1")
plain.train_step(x, y)
unclipped_step = global_norm({k: v.astype(np.float64) - before[k] for k, v in plain.state_dict().items()})
print(f"  without clipping the same step moves them by {unclipped_step:.3g}")

# clip_value = v: every component clamped into [−v, v] (the direction changes; simpler, cruder).
by_value = make(clip_value=0.5)
by_value.train_step(x, y)
largest = max(float(np.max(np.abs(v))) for v in by_value.gradients().values())
require(largest <= 0.5 + 1e-6, f"clip_value = 0.5: the largest gradient component is {largest:.3f}")
