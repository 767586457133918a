"""numpy in and out: no copy for float32 C-contiguous input, one conversion otherwise, layouts,
lengths as lists or arrays, ragged lists padded, results as new float32 arrays."""

from __future__ import annotations

import numpy as np
import pytest

import seqcore
from seqcore import _arrays

from conftest import assert_close


def test_float32_c_contiguous_input_is_not_copied(rng):
    x = rng.standard_normal((3, 4, 2)).astype(np.float32)
    assert _arrays.features_array(x) is x
    inputs = _arrays.prepare_inputs(x, None, uses_tokens=False, input_size=2, batch_first=True)
    assert inputs.features is x
    tokens = np.ones((3, 4), np.int32)
    assert _arrays.tokens_array(tokens) is tokens
    assert _arrays.prepare_inputs(tokens, None, uses_tokens=True, input_size=1, batch_first=True).tokens is tokens


@pytest.mark.parametrize("convert", [
    lambda x: x.astype(np.float64),
    lambda x: x.astype(np.float16).astype(np.float16),
    lambda x: np.asfortranarray(x),
    lambda x: x.tolist(),
])
def test_other_inputs_are_converted_once(rng, convert):
    x = rng.standard_normal((3, 4, 2)).astype(np.float32)
    model = seqcore.SequenceTagger(seqcore.GRU(2, 3, seed=1), output_size=2)
    converted = convert(x)
    result = _arrays.features_array(converted)
    assert result.dtype == np.float32 and result.flags.c_contiguous and result is not converted
    assert_close(model.predict(converted), model.predict(np.asarray(converted, np.float32)), 0, 0, "converted input")


def test_non_contiguous_views_and_integer_features(rng):
    big = rng.standard_normal((3, 8, 2)).astype(np.float32)
    view = big[:, ::2]
    model = seqcore.SequenceTagger(seqcore.LSTM(2, 3, seed=2), output_size=2)
    assert_close(model.predict(view), model.predict(np.ascontiguousarray(view)), 0, 0, "strided view")
    ints = np.arange(24).reshape(3, 4, 2) % 3
    assert_close(model.predict(ints), model.predict(ints.astype(np.float32)), 0, 0, "integer features")


def test_token_dtypes(rng):
    model = seqcore.SequenceTagger(seqcore.GRU(3, 4, seed=3), output_size=2, vocab_size=9)
    t = rng.integers(0, 9, size=(2, 5))
    expected = model.predict(t.astype(np.int32))
    for dtype in (np.int64, np.int16, np.uint8, np.uint64):
        assert_close(model.predict(t.astype(dtype)), expected, 0, 0, f"tokens as {dtype.__name__}")
    assert_close(model.predict(t.tolist()), expected, 0, 0, "tokens as nested lists (sequences)")


def test_outputs_are_new_float32_arrays(rng):
    x = rng.standard_normal((2, 3, 2)).astype(np.float32)
    model = seqcore.SequenceTagger(seqcore.RNN(2, 3), output_size=4)
    out = model.predict(x)
    assert out.dtype == np.float32 and out.flags.c_contiguous and out.flags.writeable
    assert not np.shares_memory(out, x)
    out[:] = 0  # the caller owns it
    assert np.any(model.predict(x) != 0)
    state = model.state_dict()
    state["head.bias"][:] = 99  # a copy: the model is unaffected
    assert np.all(model.state_dict()["head.bias"] != 99)


def test_lengths_as_lists_tuples_and_arrays(rng):
    x = rng.standard_normal((3, 5, 2)).astype(np.float32)
    model = seqcore.SequenceTagger(seqcore.GRU(2, 3, bidirectional=True), output_size=2)
    expected = model.predict(x, [5, 2, 4])
    for lengths in ((5, 2, 4), np.array([5, 2, 4], np.int32), np.array([5, 2, 4], np.uint64),
                    np.array([5.0, 2.0, 4.0])):
        assert_close(model.predict(x, lengths), expected, 0, 0, f"lengths {lengths!r}")


def test_ragged_lists_are_padded(rng):
    seqs = [rng.standard_normal((n, 2)).astype(np.float32) for n in (4, 1, 3)]
    padded = np.zeros((3, 4, 2), np.float32)
    for i, s in enumerate(seqs):
        padded[i, : len(s)] = s
    for batch_first in (True, False):
        model = seqcore.SequenceTagger(seqcore.LSTM(2, 3, bidirectional=True, seed=4), output_size=2,
                                       batch_first=batch_first)
        data = padded if batch_first else padded.transpose(1, 0, 2)
        expected = model.predict(data, [4, 1, 3])
        assert_close(model.predict(seqs), expected, 0, 0, f"ragged, batch_first={batch_first}")
        assert_close(model.predict([s.tolist() for s in seqs]), expected, 0, 0, "ragged nested lists")
    one_feature = seqcore.SequenceTagger(seqcore.GRU(1, 3), output_size=1)
    assert one_feature.predict([[0.5, 1.0, 2.0], [1.0]]).shape == (2, 3, 1), "[T_i] sequences when I = 1"


def test_time_major_and_batch_first_agree(rng):
    bf = seqcore.SequenceTagger(seqcore.LSTM(2, 3, seed=5), output_size=2)
    tm = seqcore.SequenceTagger(seqcore.LSTM(2, 3, seed=5), output_size=2, batch_first=False)
    tm.load_state_dict(bf.state_dict())
    x = rng.standard_normal((3, 4, 2)).astype(np.float32)
    y = rng.integers(0, 2, size=(3, 4))
    assert_close(tm.predict(x.transpose(1, 0, 2), [4, 2, 3]).transpose(1, 0, 2), bf.predict(x, [4, 2, 3]), 0, 0,
                 "predict")
    assert tm.evaluate(x.transpose(1, 0, 2), y.T, [4, 2, 3]) == pytest.approx(bf.evaluate(x, y, [4, 2, 3]), rel=1e-6)


def test_ragged_targets(rng):
    seqs = [rng.integers(1, 6, size=n) for n in (3, 5, 2)]
    tags = [(s > 3).astype(np.int64) for s in seqs]
    model = seqcore.SequenceTagger(seqcore.GRU(4, 4), output_size=2, vocab_size=6)
    padded_x = np.zeros((3, 5), np.int64)
    padded_y = np.zeros((3, 5), np.int64)
    for i, (s, t) in enumerate(zip(seqs, tags)):
        padded_x[i, : len(s)] = s
        padded_y[i, : len(t)] = t
    assert model.evaluate(seqs, tags) == pytest.approx(model.evaluate(padded_x, padded_y, [3, 5, 2]), rel=1e-9)
    values = seqcore.SequenceTagger(seqcore.GRU(4, 4), output_size=1, output="binary", vocab_size=6)
    assert values.evaluate(seqs, [t.astype(np.float32) for t in tags]) > 0
