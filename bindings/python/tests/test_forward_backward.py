"""``forward`` / ``backward`` for a loss of the caller's: the model's own loss through them equals
``compute_gradients``; a loss the library does not have against central differences (weights,
inputs, initial state); state carried between pieces; accumulation; refusals. test_torch.py
compares with autograd when torch is installed."""

from __future__ import annotations

import numpy as np
import pytest

import seqcore
from seqcore import errors

from conftest import assert_close


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_the_models_own_loss_through_backward_equals_compute_gradients():
    rng = np.random.default_rng(3)
    model = seqcore.SequenceTagger(seqcore.GRU(3, 5, num_layers=2, seed=1), 4, reduction="sum")
    x = rng.standard_normal((3, 6, 3)).astype(np.float32)
    y = rng.integers(0, 4, (3, 6))
    lengths = [6, 2, 4]
    model.compute_gradients(x, y, lengths)
    expected = model.gradients()
    expected_dx = model.input_gradient(x, y, lengths)

    model.zero_grad()
    z, h_n = model.forward(x, lengths)
    assert z.shape == (3, 6, 4) and h_n.shape == (2, 3, 5)
    assert np.all(z[1, 2:] == 0) and np.all(z[2, 4:] == 0)
    # Cross-entropy summed over valid steps: dL/dz = softmax(z) - onehot(y).
    dz = softmax(z) - np.eye(4, dtype=np.float32)[y]
    dz[1, 2:] = 1e3  # past the lengths: ignored
    dz[2, 4:] = np.nan
    dx, dh0 = model.backward(dz)
    got = model.gradients()
    for name in expected:
        assert_close(got[name], expected[name], 1e-4, 1e-6, name)
    assert_close(dx, expected_dx, 1e-4, 1e-6, "dL/dx")
    assert dh0.shape == (2, 3, 5) and np.abs(dh0).max() > 1e-3


def test_probabilities_of_the_logits_are_predict():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 5, 2)).astype(np.float32)
    clf = seqcore.SequenceClassifier(seqcore.LSTM(2, 3, bidirectional=True, seed=2), 1, output="binary")
    z, (h_n, c_n) = clf.forward(x, [5, 3, 1, 4], training=False)
    assert z.shape == (4, 1) and h_n.shape == (2, 4, 3) and c_n.shape == (2, 4, 3)
    assert_close(1 / (1 + np.exp(-z)), clf.predict(x, [5, 3, 1, 4]), 1e-5, 1e-7, "sigmoid(z)")
    tagger = seqcore.SequenceTagger(seqcore.RNN(2, 3, seed=5), 3, batch_first=False)
    z, _ = tagger.forward(x.transpose(1, 0, 2), training=False)
    assert_close(softmax(z), tagger.predict(x.transpose(1, 0, 2)), 1e-5, 1e-7, "softmax(z)")


def scalar_loss(z, w):
    """A loss the library does not have: sum(w ⊙ z) + 0.5 · sum(z²)."""
    return float(np.sum(w * z) + 0.5 * np.sum(z.astype(np.float64) ** 2))


def test_a_loss_of_ones_own_against_central_differences():
    rng = np.random.default_rng(5)
    model = seqcore.SequenceClassifier(seqcore.LSTM(2, 3, num_layers=2, bidirectional=True, seed=6), 2,
                                       output="regression")
    x = rng.standard_normal((3, 4, 2)).astype(np.float32)
    lengths = [4, 2, 3]
    h0 = 0.5 * rng.standard_normal((4, 3, 3)).astype(np.float32)
    c0 = 0.5 * rng.standard_normal((4, 3, 3)).astype(np.float32)
    w = rng.standard_normal((3, 2)).astype(np.float32)

    def loss(xx=x, hh=h0, cc=c0):
        z, _ = model.forward(xx, lengths, initial_state=(hh, cc), training=False)
        return scalar_loss(z, w)

    model.zero_grad()
    z, _ = model.forward(x, lengths, initial_state=(h0, c0))
    dx, (dh0, dc0) = model.backward(w + z)
    grads = model.gradients()
    eps = 1e-2

    def numeric(array, f):
        out = np.zeros(array.shape, np.float64)
        for index in np.ndindex(array.shape):
            up, down = array.copy(), array.copy()
            up[index] += eps
            down[index] -= eps
            out[index] = (f(up) - f(down)) / (2 * eps)
        return out

    assert_close(dx, numeric(x, lambda v: loss(xx=v)), 2e-2, 2e-3, "dL/dx")
    assert np.all(dx[1, 2:] == 0)
    assert_close(dh0, numeric(h0, lambda v: loss(hh=v)), 2e-2, 2e-3, "dL/dh0")
    assert_close(dc0, numeric(c0, lambda v: loss(cc=v)), 2e-2, 2e-3, "dL/dc0")
    weights = model.state_dict()
    for name in ("rnn.weight_hh_l0", "rnn.weight_ih_l1_reverse", "rnn.bias_hh_l1", "head.weight"):
        base = weights[name]

        def with_weight(v, name=name):
            model.load_state_dict({name: v}, strict=False)
            return loss()

        expected = numeric(base, with_weight)
        model.load_state_dict({name: base}, strict=False)
        assert_close(grads[name], expected, 2e-2, 2e-3, name)


def test_state_carried_between_pieces_equals_one_pass():
    rng = np.random.default_rng(6)
    for layer in (seqcore.GRU(3, 4, num_layers=2, seed=3), seqcore.LSTM(3, 4, proj_size=2, seed=3)):
        model = seqcore.SequenceTagger(layer, 2, output="regression")
        x = rng.standard_normal((2, 7, 3)).astype(np.float32)
        whole, final = model.forward(x, training=False)
        first, state = model.forward(x[:, :3], training=False)
        second, state = model.forward(x[:, 3:], initial_state=state, training=False)
        assert_close(np.concatenate([first, second], axis=1), whole, 1e-5, 1e-6, "pieces")
        for a, b in zip(state if isinstance(state, tuple) else (state,), final if isinstance(final, tuple) else (final,)):
            assert_close(a, b, 1e-5, 1e-6, "final state")


def test_backward_accumulates_and_apply_gradients_steps():
    rng = np.random.default_rng(7)
    model = seqcore.SequenceTagger(seqcore.GRU(2, 3, seed=8), 2, output="regression",
                                   optimizer="sgd", learning_rate=0.5)
    x = rng.standard_normal((2, 5, 2)).astype(np.float32)
    g1 = rng.standard_normal((2, 5, 2)).astype(np.float32)
    g2 = rng.standard_normal((2, 5, 2)).astype(np.float32)
    model.zero_grad()
    model.forward(x)
    model.backward(g1 + g2)
    together = model.gradients()
    model.zero_grad()
    model.forward(x)
    model.backward(g1)
    model.forward(x)
    model.backward(g2)
    apart = model.gradients()
    for name in together:
        assert_close(apart[name], together[name], 1e-5, 1e-6, name)
    before = model.state_dict()
    model.apply_gradients()
    after = model.state_dict()
    for name in before:
        assert_close(after[name], before[name] - 0.5 * apart[name], 1e-5, 1e-6, name)


def test_refusals():
    rng = np.random.default_rng(8)
    model = seqcore.SequenceTagger(seqcore.GRU(2, 3, seed=8), 2, output="regression")
    x = rng.standard_normal((2, 5, 2)).astype(np.float32)
    with pytest.raises(errors.StateError, match="no seq_model_forward"):
        model.backward(np.zeros((2, 5, 2), np.float32))
    model.forward(x, training=False)
    with pytest.raises(errors.StateError, match="training 0"):
        model.backward(np.zeros((2, 5, 2), np.float32))
    z, _ = model.forward(x)
    with pytest.raises(errors.InvalidArgument, match=r"grad: expected the shape .*\[2, 5, 2\].*got \[5, 2, 2\]"):
        model.backward(np.zeros((5, 2, 2), np.float32))  # time-major for batch-first: same size
    model._logits_shape = None  # the library's own check of the size
    with pytest.raises(errors.InvalidArgument, match="count"):
        model.backward(np.zeros((2, 4, 2), np.float32))
    model.backward(z)  # the refused call kept the pass
    with pytest.raises(errors.StateError, match="already"):
        model.backward(z)
    model.forward(x)
    model.load_state_dict(model.state_dict())
    with pytest.raises(errors.StateError, match="parameters changed"):
        model.backward(z)
    with pytest.raises(errors.InvalidArgument, match="h0 must have shape"):
        model.forward(x, initial_state=np.zeros((1, 3, 3), np.float32))
    with pytest.raises(errors.InvalidArgument, match="initial_state"):
        model.forward(x, initial_state=(np.zeros((1, 2, 3), np.float32), np.zeros((1, 2, 3), np.float32)))
    with pytest.raises(errors.InvalidArgument, match="h0"):
        model.forward(x, initial_state=np.full((1, 2, 3), np.nan, np.float32))
    model.forward(x)
    with pytest.raises(errors.InvalidArgument, match="gradient"):
        bad = np.zeros((2, 5, 2), np.float32)
        bad[0, 1, 1] = np.inf
        model.backward(bad)
    s2s = seqcore.Seq2Seq(seqcore.GRU(3, 4), target_vocab_size=6, vocab_size=5)
    with pytest.raises(errors.InvalidArgument, match="seq2seq"):
        s2s.forward(np.array([[1, 2, 3]]))


def test_a_custom_loss_trains():
    """A loss the library does not have (a weighted MSE that counts late steps more) decreases
    under forward / backward / apply_gradients."""
    rng = np.random.default_rng(9)
    model = seqcore.SequenceTagger(seqcore.LSTM(1, 8, seed=2), 1, output="regression",
                                   optimizer="adam", learning_rate=0.02)
    x = rng.standard_normal((16, 10, 1)).astype(np.float32)
    y = np.cumsum(x, axis=1) / 3  # a running sum: needs the state
    weight = np.linspace(0.1, 1.0, 10, dtype=np.float32)[None, :, None]

    def step():
        model.zero_grad()
        z, _ = model.forward(x)
        loss = float(np.mean(weight * (z - y) ** 2))
        model.backward(2 * weight * (z - y) / z.size)
        model.apply_gradients()
        return loss

    first = step()
    for _ in range(150):
        last = step()
    assert last < 0.25 * first, (first, last)


def test_a_large_output_is_sized_by_the_library():
    """Past a million floats the output's size is asked of the library first (as predict does)."""
    rng = np.random.default_rng(10)
    model = seqcore.LanguageModel(seqcore.GRU(4, 8, seed=1), vocab_size=2000)
    tokens = rng.integers(0, 2000, (30, 40))
    z, h_n = model.forward(tokens, training=False)
    assert z.shape == (30, 40, 2000) and z.size > 1 << 20 and h_n.shape == (1, 30, 8)
    assert_close(softmax(z[7]), model.predict(tokens[7:8])[0], 1e-5, 1e-8, "softmax(z) of sequence 7")


def test_an_overflowing_backward_and_a_refused_update_change_nothing():
    rng = np.random.default_rng(11)
    model = seqcore.SequenceTagger(seqcore.GRU(3, 4, seed=2), 2, output="regression",
                                   optimizer="sgd", learning_rate=1e38)
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    model.zero_grad()
    z, _ = model.forward(x)
    model.backward(1000 * np.ones_like(z))
    kept = model.gradients()
    z, _ = model.forward(x)
    with pytest.raises(errors.NumericError, match="overflow"):
        model.backward(np.full_like(z, 3e38))  # finite, but its sum over the steps is not
    for name, value in model.gradients().items():
        assert np.array_equal(value, kept[name]), name
    weights = model.state_dict()
    z, _ = model.forward(x)
    with pytest.raises(errors.NumericError, match="unchanged"):
        model.apply_gradients()  # 1e38 times gradients of ~1000
    for name, value in model.state_dict().items():
        assert np.array_equal(value, weights[name]), name
    model.backward(np.ones_like(z))  # the refused update left the weights, and the pass, as they were
    with pytest.raises(errors.InvalidType, match="training"):
        model.forward(x, training="no")
