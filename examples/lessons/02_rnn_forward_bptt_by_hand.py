"""Lesson 2 — the RNN's forward propagation and backpropagation through time, by hand.

The course's recurrent network, one step t (a<0> = 0):

    a<t> = tanh(W_aa a<t-1> + W_ax x<t> + b_a)
    ŷ<t> = σ(W_ya a<t> + b_y)
    L<t>(ŷ<t>, y<t>) = −y<t> log ŷ<t> − (1 − y<t>) log(1 − ŷ<t>)       L = Σ_t L<t>

This lesson computes all of it in numpy with the library's own weights (a binary tagger's
state_dict), checks the forward pass against the library's, then backpropagates through time by
hand — from the last step to the first, carrying ∂L/∂a<t> back to step t-1 — and checks every
gradient against the library's (rel 1e-4, abs 1e-5). The library is float32, numpy float64 here.

The library stores the weights under PyTorch's names:
    W_ax = rnn.weight_ih_l0 [H, I]    W_aa = rnn.weight_hh_l0 [H, H]    b_a = rnn.bias_ih_l0 + rnn.bias_hh_l0
    W_ya = head.weight [1, H]         b_y = head.bias [1]

Run: python3 02_rnn_forward_bptt_by_hand.py
"""

import sys

import numpy as np

import seqcore

TOLERANCE = dict(rtol=1e-4, atol=1e-5)


def require(condition, message):
    print(("  ok   " if condition else "  FAIL ") + message)
    if not condition:
        sys.exit(1)


def check_close(mine, library, what):
    np.testing.assert_allclose(mine, library, err_msg=what, **TOLERANCE)  # raises (exit 1) if not
    scale = max(float(np.max(np.abs(library))), 1e-30)
    print(f"  ok   {what}: largest difference {float(np.max(np.abs(mine - library))):.1e} (values up to {scale:.2f})")


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


# --- A batch: B = 3 sequences of I = 3 features, lengths Tx^(i) = 6, 4, 5; a 0/1 label per step ---
I, H, B, T = 3, 5, 3, 6
rng = np.random.default_rng(2)
x = rng.standard_normal((B, T, I))               # x^(i)<t> = x[i, t]
y = rng.integers(0, 2, size=(B, T)).astype(float)  # y^(i)<t> = y[i, t]
lengths = [6, 4, 5]

# A tagger with a sigmoid output and L = Σ_i Σ_t L<t> (reduction "sum": the course's loss, summed
# over the examples of the batch). Steps past a sequence's length contribute nothing.
model = seqcore.SequenceTagger(seqcore.RNN(I, H, seed=2), output_size=1, output="binary", reduction="sum",
                               optimizer="sgd", learning_rate=0.1, seed=2)
w = {name: value.astype(np.float64) for name, value in model.state_dict().items()}
W_ax, W_aa = w["rnn.weight_ih_l0"], w["rnn.weight_hh_l0"]
b_a = w["rnn.bias_ih_l0"] + w["rnn.bias_hh_l0"]  # PyTorch keeps two bias vectors; only their sum matters
W_ya, b_y = w["head.weight"], w["head.bias"]


# --- Forward propagation, one example at a time, as the course draws it ---------------------------

def forward(x_i, y_i):
    """Runs one example of Tx steps; returns a<t> [Tx, H], ŷ<t> [Tx] and L."""
    Tx = len(x_i)
    a = np.zeros((Tx + 1, H))      # a[t + 1] = a<t+1> in 0-based t; a[0] = a<0> = 0
    y_hat = np.zeros(Tx)
    loss = 0.0
    for t in range(Tx):
        a[t + 1] = np.tanh(W_aa @ a[t] + W_ax @ x_i[t] + b_a)          # a<t> = tanh(W_aa a<t-1> + W_ax x<t> + b_a)
        y_hat[t] = sigmoid(W_ya @ a[t + 1] + b_y)[0]                     # ŷ<t> = σ(W_ya a<t> + b_y)
        loss += -y_i[t] * np.log(y_hat[t]) - (1 - y_i[t]) * np.log(1 - y_hat[t])   # L<t>, summed
    return a, y_hat, loss


runs = [forward(x[i, :lengths[i]], y[i, :lengths[i]]) for i in range(B)]
total_loss = sum(loss for _, _, loss in runs)

print("Forward propagation against the library:")
# The library's a<t>: its recurrent layer (time-major [T, B, H]; 0 past each length).
a_library, _ = model.rnn(x.transpose(1, 0, 2), lengths=lengths)
a_mine = np.zeros((T, B, H))
for i, (a, _, _) in enumerate(runs):
    a_mine[:lengths[i], i] = a[1:]
check_close(a_mine, a_library, "a<t> at every step (padding steps are 0 in both)")
# The library's ŷ<t>: the tagger's predictions [B, T, 1].
y_hat_library = model.predict(x, lengths=lengths)[:, :, 0]
y_hat_mine = np.zeros((B, T))
for i, (_, y_hat, _) in enumerate(runs):
    y_hat_mine[i, :lengths[i]] = y_hat
check_close(y_hat_mine, y_hat_library, "ŷ<t> at every step")
loss_library = model.evaluate(x, y[:, :, None], lengths=lengths)
check_close(np.array([total_loss]), np.array([loss_library]), f"L = Σ_t L<t> = {total_loss:.5f}")


# --- Backpropagation through time, by hand --------------------------------------------------------

def backward(x_i, y_i, a, y_hat):
    """The gradients of one example's L, from its last step back to its first; also ‖∂L/∂a<t>‖²."""
    Tx = len(x_i)
    g = dict(W_ax=np.zeros_like(W_ax), W_aa=np.zeros_like(W_aa), b_a=np.zeros_like(b_a),
             W_ya=np.zeros_like(W_ya), b_y=np.zeros_like(b_y))
    da_squares = np.zeros(Tx)
    da_next = np.zeros(H)  # ∂L/∂a<t> arriving from step t+1 (nothing after the last step)
    for t in reversed(range(Tx)):
        dlogit = y_hat[t] - y_i[t]           # undoes ŷ = σ(v) and L<t> together: ∂L<t>/∂v = ŷ<t> − y<t>
        g["W_ya"] += dlogit * a[t + 1][None, :]   # undoes v = W_ya a<t> + b_y: ∂v/∂W_ya = a<t>
        g["b_y"] += dlogit                        # ... and ∂v/∂b_y = 1
        da = W_ya[0] * dlogit + da_next      # a<t> fed ŷ<t> and a<t+1>: both paths' gradients add up
        da_squares[t] = da @ da
        dz = da * (1 - a[t + 1] ** 2)        # undoes a<t> = tanh(z): tanh'(z) = 1 − a<t>²
        g["W_ax"] += np.outer(dz, x_i[t])    # undoes z = W_ax x<t> + ...: ∂z/∂W_ax = x<t>
        g["W_aa"] += np.outer(dz, a[t])      # undoes z = W_aa a<t-1> + ...: ∂z/∂W_aa = a<t-1>
        g["b_a"] += dz                       # undoes z = ... + b_a
        da_next = W_aa.T @ dz                # undoes W_aa a<t-1>: ∂L/∂a<t-1> through step t
    return g, da_squares, da_next            # da_next is now ∂L/∂a<0>


grads = {k: 0.0 for k in ("W_ax", "W_aa", "b_a", "W_ya", "b_y")}
da_squares = np.zeros(T)
da0 = np.zeros((B, H))
for i, (a, y_hat, _) in enumerate(runs):
    g, squares, da0[i] = backward(x[i, :lengths[i]], y[i, :lengths[i]], a, y_hat)
    for k in grads:
        grads[k] = grads[k] + g[k]         # L sums over the examples, so do its gradients
    da_squares[:lengths[i]] += squares

# The library's gradients of the same batch, without a step: gradient_norms(x, y) runs BPTT
# (seq_model_compute_gradients) and returns ‖∂L/∂a<t>‖ per step; gradients() reads dL/dθ by name.
before = model.state_dict()
norms = model.gradient_norms(x, y[:, :, None], lengths=lengths)  # [L·D, T] = [1, T]
library = model.gradients()
require(all(np.array_equal(before[k], v) for k, v in model.state_dict().items()),
        "computing the gradients left the weights as they were")

print("\nBackpropagation through time against the library:")
check_close(grads["W_ax"], library["rnn.weight_ih_l0"], "∂L/∂W_ax (weight_ih_l0)")
check_close(grads["W_aa"], library["rnn.weight_hh_l0"], "∂L/∂W_aa (weight_hh_l0)")
check_close(grads["b_a"], library["rnn.bias_ih_l0"], "∂L/∂b_a (bias_ih_l0)")
check_close(grads["b_a"], library["rnn.bias_hh_l0"], "∂L/∂b_a (bias_hh_l0: the same, since b_a is their sum)")
check_close(grads["W_ya"], library["head.weight"], "∂L/∂W_ya (head.weight)")
check_close(grads["b_y"], library["head.bias"], "∂L/∂b_y (head.bias)")
check_close(np.sqrt(da_squares), norms[0], "‖∂L/∂a<t>‖ at every step (over the batch)")
print(f"    {'t':>12s}" + "".join(f"{t + 1:>9d}" for t in range(T)))
print(f"    {'‖∂L/∂a<t>‖':>12s}" + "".join(f"{v:9.4f}" for v in norms[0]))

# --- The chain rule cut at v<t>: the library's backward from ∂L/∂v<t> given by hand ---------------
# model.forward returns v<t> = W_ya a<t> + b_y, before σ; model.backward takes ∂L/∂v<t> — here
# ŷ<t> − y<t>, the first line of the backward above — and runs the rest of BPTT. It also returns
# ∂L/∂a<0>, what the loop above carried out of step 1 (a<0> is an input too: a given initial state).
print("\nThe library's backward from ∂L/∂v<t> computed here:")
model.zero_grad()
v, _ = model.forward(x, lengths=lengths)                   # [B, T, 1]; this model has no dropout
valid = np.arange(T)[None, :] < np.array(lengths)[:, None]
check_close(np.where(valid, sigmoid(v[:, :, 0]), 0), y_hat_library, "σ(v<t>) = ŷ<t>")
_, da0_library = model.backward(np.where(valid, sigmoid(v[:, :, 0]) - y, 0)[:, :, None])
check_close(grads["W_aa"], model.gradients()["rnn.weight_hh_l0"], "∂L/∂W_aa from the library's backward of ŷ − y")
check_close(da0, da0_library[0], "∂L/∂a<0> of every example (the gradient that leaves step 1)")

# --- One step of gradient descent: θ := θ − α ∂L/∂θ ------------------------------------------------
alpha = model.learning_rate  # plain SGD, α = 0.1
model.train_step(x, y[:, :, None], lengths=lengths)
after = model.state_dict()
check_close(after["rnn.weight_hh_l0"].astype(np.float64), W_aa - alpha * grads["W_aa"],
            "after train_step (SGD, α = 0.1): W_aa := W_aa − α ∂L/∂W_aa")
check_close(after["head.weight"].astype(np.float64), W_ya - alpha * grads["W_ya"],
            "                                 W_ya := W_ya − α ∂L/∂W_ya")
require(model.evaluate(x, y[:, :, None], lengths=lengths) < loss_library, "and the loss went down")
