"""Lesson 6 — the GRU and the LSTM, gate by gate, in numpy against the library.

Both cells add a memory c<t> that a gate updates only in part, so it can carry information (and
gradients, lesson 5) across many steps. This lesson writes every gate equation in numpy with the
library's own weights (state_dict, PyTorch's layout) and compares the outputs and final states with
the library's forward pass (rel 1e-4, abs 1e-5), from a non-zero initial state:

- GRU in its three variants (the library's rows r, z, n, with z = 1 − Γ_u):
  "classic" (the course's full GRU), "linear_before_reset" (PyTorch's, cuDNN's), "simplified"
  (the course's first GRU: an update gate only);
- LSTM (rows i, f, g, o = Γ_u, Γ_f, c̃, Γ_o), also with peepholes (gates that see c) and a
  projection (a<t> = W_hr (Γ_o ⊙ tanh c<t>), smaller than c<t>).

Vectors here are rows (one per sequence of the batch), so W v in the course is v @ W.T.

Run: python3 06_gru_lstm_by_hand.py
"""

import sys

import numpy as np

import seqcore

TOLERANCE = dict(rtol=1e-4, atol=1e-5)


def check_close(mine, library, what):
    np.testing.assert_allclose(mine, library, err_msg=what, **TOLERANCE)  # raises (exit 1) if not
    print(f"  ok   {what}: largest difference {float(np.max(np.abs(mine - library))):.1e}")


def require(condition, message):
    print(("  ok   " if condition else "  FAIL ") + message)
    if not condition:
        sys.exit(1)


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


I, H, B, T = 3, 4, 2, 6
rng = np.random.default_rng(6)
x = rng.standard_normal((T, B, I))  # time-major [T, B, I]: x<t> = x[t]


def blocks(w, count):
    """Splits PyTorch's stacked gate rows (weight [G·H, ...] or bias [G·H]) into G blocks of H rows."""
    return np.split(np.asarray(w, np.float64), count)


# --- GRU ---------------------------------------------------------------------------------------------
# The course's full GRU, with c<t> = a<t>:
#   Γ_r = σ(W_r [c<t-1>, x<t>] + b_r)                    relevance (reset) gate       — r below
#   Γ_u = σ(W_u [c<t-1>, x<t>] + b_u)                    update gate                  — 1 − z below
#   c̃<t> = tanh(W_c [Γ_r ⊙ c<t-1>, x<t>] + b_c)           candidate                    — n below
#   c<t> = Γ_u ⊙ c̃<t> + (1 − Γ_u) ⊙ c<t-1>                                           — h below
# PyTorch and ONNX store z = 1 − Γ_u (the gate that keeps the old state), so h = (1 − z) n + z h.

def gru_by_hand(weights, variant, x, h0):
    gates = 2 if variant == "simplified" else 3
    if variant == "simplified":       # rows z, n: no reset gate
        (W_iz, W_in), (W_hz, W_hn) = blocks(weights["weight_ih_l0"], 2), blocks(weights["weight_hh_l0"], 2)
        (b_iz, b_in), (b_hz, b_hn) = blocks(weights["bias_ih_l0"], 2), blocks(weights["bias_hh_l0"], 2)
    else:                             # rows r, z, n
        W_ir, W_iz, W_in = blocks(weights["weight_ih_l0"], gates)
        W_hr, W_hz, W_hn = blocks(weights["weight_hh_l0"], gates)
        b_ir, b_iz, b_in = blocks(weights["bias_ih_l0"], gates)
        b_hr, b_hz, b_hn = blocks(weights["bias_hh_l0"], gates)
    h = h0
    outputs = []
    for t in range(len(x)):
        z = sigmoid(x[t] @ W_iz.T + b_iz + h @ W_hz.T + b_hz)                 # z = 1 − Γ_u
        if variant == "classic":      # the reset gate scales the old state before W_hn
            r = sigmoid(x[t] @ W_ir.T + b_ir + h @ W_hr.T + b_hr)             # r = Γ_r
            n = np.tanh(x[t] @ W_in.T + b_in + (r * h) @ W_hn.T + b_hn)       # c̃ = tanh(W_c[Γ_r ⊙ c<t-1>, x<t>] + b_c)
        elif variant == "linear_before_reset":  # ... or the product W_hn h + b_hn after it (PyTorch)
            r = sigmoid(x[t] @ W_ir.T + b_ir + h @ W_hr.T + b_hr)
            n = np.tanh(x[t] @ W_in.T + b_in + r * (h @ W_hn.T + b_hn))
        else:                         # simplified: no Γ_r at all
            n = np.tanh(x[t] @ W_in.T + b_in + h @ W_hn.T + b_hn)             # c̃ = tanh(W_c[c<t-1>, x<t>] + b_c)
        h = (1 - z) * n + z * h                                               # c<t> = Γ_u c̃ + (1 − Γ_u) c<t-1>
        outputs.append(h)
    return np.stack(outputs), h


for variant in ("classic", "linear_before_reset", "simplified"):
    print(f"GRU, variant {variant!r}")
    gru = seqcore.GRU(I, H, variant=variant, seed=6)
    weights = gru.state_dict()
    h0 = rng.standard_normal((1, B, H))  # [L·D, B, H]
    output, h_n = gru(x, h0)             # the library: output [T, B, H], h_n [1, B, H]
    mine, mine_h_n = gru_by_hand(weights, variant, x, h0[0])
    check_close(mine, output, "h<t> at every step")
    check_close(mine_h_n, h_n[0], "h_n")

# The variants differ only in how the reset gate enters; with Γ_r ≡ 1 classic and linear-before-reset
# agree (r ⊙ h then W_hn, or W_hn h then r ⊙: the same when r = 1). Forcing r = 1 through its bias:
both = {}
for variant in ("classic", "linear_before_reset"):
    gru = seqcore.GRU(I, H, variant=variant, seed=6)
    weights = gru.state_dict()
    weights["bias_ih_l0"][:H] = 50.0  # σ(50) = 1 in float32
    gru.load_state_dict(weights)
    both[variant] = gru(x)[0]
check_close(both["classic"], both["linear_before_reset"], "with Γ_r = 1, classic = linear-before-reset")


# --- LSTM --------------------------------------------------------------------------------------------
# The course's LSTM, on [a<t-1>, x<t>] (PyTorch's weight_hh and weight_ih side by side):
#   Γ_u = σ(W_u [a<t-1>, x<t>] + b_u)   (+ p_i ⊙ c<t-1> with peepholes)     update (input) gate   rows i
#   Γ_f = σ(W_f [a<t-1>, x<t>] + b_f)   (+ p_f ⊙ c<t-1>)                    forget gate            rows f
#   c̃<t> = tanh(W_c [a<t-1>, x<t>] + b_c)                                   candidate              rows g
#   c<t> = Γ_u ⊙ c̃<t> + Γ_f ⊙ c<t-1>
#   Γ_o = σ(W_o [a<t-1>, x<t>] + b_o)   (+ p_o ⊙ c<t>: the new c)           output gate            rows o
#   a<t> = Γ_o ⊙ tanh(c<t>)             (a<t> = W_hr (Γ_o ⊙ tanh c<t>) with a projection)

def lstm_by_hand(weights, x, a0, c0):
    # W_· = [W_h· | W_i·]: one matrix acting on the concatenation [a<t-1>, x<t>], as the course writes it.
    W = np.concatenate([weights["weight_hh_l0"], weights["weight_ih_l0"]], axis=1).astype(np.float64)
    W_u, W_f, W_c, W_o = blocks(W, 4)
    b_u, b_f, b_c, b_o = blocks(weights["bias_ih_l0"] + weights["bias_hh_l0"], 4)
    p_i, p_f, p_o = weights["peephole_l0"].astype(np.float64) if "peephole_l0" in weights else np.zeros((3, H))
    W_hr = weights.get("weight_hr_l0")
    a, c = a0, c0
    outputs = []
    for t in range(len(x)):
        ax = np.concatenate([a, x[t]], axis=1)                    # [a<t-1>, x<t>]
        gamma_u = sigmoid(ax @ W_u.T + b_u + p_i * c)             # Γ_u (the peephole sees c<t-1>)
        gamma_f = sigmoid(ax @ W_f.T + b_f + p_f * c)             # Γ_f
        c_tilde = np.tanh(ax @ W_c.T + b_c)                       # c̃<t>
        c = gamma_u * c_tilde + gamma_f * c                       # c<t> = Γ_u ⊙ c̃<t> + Γ_f ⊙ c<t-1>
        gamma_o = sigmoid(ax @ W_o.T + b_o + p_o * c)             # Γ_o (its peephole sees the new c<t>)
        a = gamma_o * np.tanh(c)                                  # a<t> = Γ_o ⊙ tanh(c<t>)
        if W_hr is not None:
            a = a @ W_hr.T.astype(np.float64)                     # projected: a<t> = W_hr (Γ_o ⊙ tanh c<t>)
        outputs.append(a)
    return np.stack(outputs), a, c


for options in ({}, {"peepholes": True}, {"proj_size": 2}, {"peepholes": True, "proj_size": 2}):
    print(f"LSTM {options or '(plain)'}")
    lstm = seqcore.LSTM(I, H, seed=6, **options)
    weights = lstm.state_dict()
    hout = lstm.state_size  # proj_size when projected, else H
    a0 = rng.standard_normal((1, B, hout))  # h0 [L·D, B, Hout]
    c0 = rng.standard_normal((1, B, H))     # c0 [L·D, B, H]
    output, (h_n, c_n) = lstm(x, (a0, c0))
    require(output.shape == (T, B, hout) and c_n.shape == (1, B, H),
            f"output [T, B, Hout] = {list(output.shape)}, c_n [1, B, H] = {list(c_n.shape)}")
    mine, mine_a, mine_c = lstm_by_hand(weights, x, a0[0], c0[0])
    check_close(mine, output, f"a<t> at every step ([T, B, {hout}])")
    check_close(mine_a, h_n[0], "h_n = a<Tx>")
    check_close(mine_c, c_n[0], "c_n = c<Tx>")

# Γ_f = 1, Γ_u = 0 (forget bias +50, input bias −50): the memory cell passes c<t-1> through untouched,
# the path that lets gradients cross many steps (lesson 5).
lstm = seqcore.LSTM(I, H, seed=6)
weights = lstm.state_dict()
weights["bias_ih_l0"][:H] = -50.0      # Γ_u = σ(−50) = 0
weights["bias_ih_l0"][H:2 * H] = 50.0  # Γ_f = σ(50) = 1
lstm.load_state_dict(weights)
c0 = rng.standard_normal((1, B, H))
_, (_, c_n) = lstm(x, (np.zeros((1, B, H)), c0))
check_close(c_n, c0, "with Γ_f = 1 and Γ_u = 0, c<Tx> = c<0> after 6 steps")
