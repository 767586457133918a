"""Lesson 4 — bidirectional and deep RNNs, taken apart.

Bidirectional (BRNN): a forward RNN reads x<1> ... x<Tx> into a→<t>, a backward RNN reads
x<Tx> ... x<1> into a←<t>, and the output at step t sees both — the whole sentence:

    ŷ<t> = g(W_y [a→<t>, a←<t>] + b_y)            (merge "concat": 2H features; "sum": a→ + a←, H)

Deep: layer l reads the states of layer l−1 at the same step, a^[0]<t> = x<t>:

    a^[l]<t> = g(W_a^[l] [a^[l]<t-1>, a^[l-1]<t>] + b_a^[l])

This lesson runs the library's whole stacks (in C) and rebuilds each from one-direction,
one-layer pieces with the same weights, asserting they are equal: the backward half is a
forward RNN over each sequence reversed within its own length, and a 2-layer stack is two
1-layer stacks chained.

Run: python3 04_brnn_deep_rnn.py
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


def stack_output(layer, x, lengths):
    """The library's own forward pass of a whole stack, [T, B, F], from C (seq_model_predict): a
    tagger over the layer whose output head is the identity, so that ŷ<t> = a<t>."""
    k = layer.output_size
    model = seqcore.SequenceTagger(layer, output_size=k, output="regression", batch_first=False)
    model.load_state_dict({"head.weight": np.eye(k), "head.bias": np.zeros(k)}, strict=False)
    return model.predict(x, lengths=lengths)


def piece(cls, state, suffix, input_size, **options):
    """A one-layer, one-direction layer holding the weights of `suffix` (e.g. "_l0_reverse") of a stack."""
    layer = cls(input_size, H, **options)
    layer.load_state_dict({name.replace(suffix, "_l0"): value for name, value in state.items()
                           if name.endswith(suffix)})
    return layer


def reverse_within(x, lengths):
    """Each sequence b of x [T, B, F] reversed within its first lengths[b] steps (padding left in place)."""
    out = x.copy()
    for b, n in enumerate(lengths):
        out[:n, b] = x[:n, b][::-1]
    return out


I, H, B, T = 3, 4, 3, 7
rng = np.random.default_rng(4)
x = rng.standard_normal((T, B, I)).astype(np.float32)  # time-major [T, B, I]
lengths = [7, 5, 2]

# --- Bidirectional ----------------------------------------------------------------------------------
print("Bidirectional GRU, lengths", lengths)
brnn = seqcore.GRU(I, H, bidirectional=True, seed=4)
state = brnn.state_dict()  # weight_ih_l0 ... (forward) and weight_ih_l0_reverse ... (backward)
both = stack_output(brnn, x, lengths)
require(both.shape == (T, B, 2 * H), f"concat: output [T, B, 2H] = {list(both.shape)}")
forward_half, backward_half = both[:, :, :H], both[:, :, H:]

# a→<t>: a forward-only GRU with the forward weights.
check_close(stack_output(piece(seqcore.GRU, state, "_l0", I), x, lengths), forward_half,
            "a→<t> = a forward-only GRU with weight_*_l0")
# a←<t>: a reverse-direction GRU with the backward weights ...
check_close(stack_output(piece(seqcore.GRU, state, "_l0_reverse", I, direction="reverse"), x, lengths),
            backward_half, "a←<t> = a reverse-direction GRU with weight_*_l0_reverse")
# ... which is a forward GRU run on each sequence reversed within its own length, its outputs
# reversed back: the backward direction starts at each sequence's last valid step, never at padding.
forward_on_reversed = stack_output(piece(seqcore.GRU, state, "_l0_reverse", I), reverse_within(x, lengths), lengths)
check_close(reverse_within(forward_on_reversed, lengths), backward_half,
            "a←<t> = a forward GRU over x<Tx^(i)> ... x<1>, reversed back")
require(np.all(both[5:, 1] == 0) and np.all(both[2:, 2] == 0), "outputs past each sequence's length are 0")
check_close(brnn(x, lengths=lengths)[0], both, "the layer called directly, brnn(x, lengths=...), gives the same")

# ŷ<t> = σ(W_y [a→<t>, a←<t>] + b_y): a binary tagger over the BRNN, by hand from the two halves.
tagger = seqcore.SequenceTagger(brnn, output_size=1, output="binary", batch_first=False, seed=4)
head = tagger.state_dict()
logits = both @ head["head.weight"].T + head["head.bias"]
mask = (np.arange(T)[:, None] < np.array(lengths)[None, :])[:, :, None]
check_close(mask / (1 + np.exp(-logits)), tagger.predict(x, lengths=lengths), "ŷ<t> = σ(W_y [a→<t>, a←<t>] + b_y)")

# Merge "sum": the same weights, H features a→<t> + a←<t> instead of 2H.
summed = seqcore.GRU(I, H, bidirectional=True, merge="sum")
summed.load_state_dict(state)
sum_output = stack_output(summed, x, lengths)
require(sum_output.shape == (T, B, H) and summed.output_size == H and brnn.output_size == 2 * H,
        f"sum: output [T, B, H] = {list(sum_output.shape)}; output_size {summed.output_size} vs concat {brnn.output_size}")
check_close(forward_half + backward_half, sum_output, "merge 'sum' = a→<t> + a←<t>")

# --- Deep -------------------------------------------------------------------------------------------
print("\nDeep LSTM, 2 layers")
deep = seqcore.LSTM(I, H, num_layers=2, seed=4)
state = deep.state_dict()  # PyTorch counts layers from 0: *_l0 is the course's layer [1], *_l1 its layer [2]
require(state["weight_ih_l1"].shape == (4 * H, H), "layer [2]'s input weights (weight_ih_l1) read H features: a^[1]<t>")
a1 = stack_output(piece(seqcore.LSTM, state, "_l0", I), x, lengths)   # a^[1]<t> from a^[0]<t> = x<t>
a2 = stack_output(piece(seqcore.LSTM, state, "_l1", H), a1, lengths)  # a^[2]<t> from a^[1]<t>
check_close(a2, stack_output(deep, x, lengths), "2-layer stack = layer [1], then layer [2] on its outputs")

# Both at once: a deep bidirectional stack; layer [2] reads [a→^[1]<t>, a←^[1]<t>], 2H features.
print("\nDeep bidirectional RNN, 2 layers")
deep_brnn = seqcore.RNN(I, H, num_layers=2, bidirectional=True, seed=4)
state = deep_brnn.state_dict()
layer1 = seqcore.RNN(I, H, bidirectional=True)
layer1.load_state_dict({k: v for k, v in state.items() if "_l0" in k})
layer2 = seqcore.RNN(2 * H, H, bidirectional=True)
layer2.load_state_dict({k.replace("_l1", "_l0"): v for k, v in state.items() if "_l1" in k})
chained = stack_output(layer2, stack_output(layer1, x, lengths), lengths)
check_close(chained, stack_output(deep_brnn, x, lengths), "2-layer BRNN = two 1-layer BRNNs chained")
out, h_n = deep_brnn(x, lengths=lengths)
require(h_n.shape == (4, B, H), f"h_n [L·D, B, H] = {list(h_n.shape)}: rows l0, l0_reverse, l1, l1_reverse")
# The forward direction's final state is its output at each sequence's last valid step; the
# backward direction's final state is its output at step 1 (where it finished).
last = np.array(lengths) - 1
check_close(h_n[2], out[last, np.arange(B), :H], "h_n (layer [2], forward) = a→<Tx^(i)>")
check_close(h_n[3], out[0, :, H:], "h_n (layer [2], backward) = a←<1>")
