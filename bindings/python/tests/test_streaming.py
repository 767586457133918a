"""Stream.step's prepared path: one input and one output buffer per stream, filled and read around
one unchecked C call. Every form of input gives the same numbers as a chunk fed through the
checked path; the output has the size the library reports; refused input leaves the stream usable
and its state alone; results never alias the stream's buffers."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

import seqcore
from seqcore import _capi, errors

from conftest import assert_close


def feature_tagger(cell=seqcore.LSTM, k=3, **kw):
    return seqcore.SequenceTagger(cell(4, 6, **kw), output_size=k, output="regression", seed=5)


@pytest.mark.parametrize("batch", [1, 2, 3])
@pytest.mark.parametrize("k", [1, 2, 5])
def test_step_output_has_the_size_the_library_reports(batch, k, rng):
    model = feature_tagger(k=k)
    x = rng.standard_normal((batch, 4)).astype(np.float32)
    with model.stream(batch) as s:
        out = s.step(x)
        assert out.shape == (batch, k) and out.dtype == np.float32, (batch, k, out.shape)
        chunk = s.feed(rng.standard_normal((batch, 3, 4)).astype(np.float32))  # batch_first model
        assert chunk.shape == (batch, 3, k)
        if batch == 1:
            assert s.step(x[0]).shape == (k,)


def test_token_stream_output_is_the_vocabulary():
    lm = seqcore.LanguageModel(seqcore.GRU(3, 5), vocab_size=7, seed=1)
    with lm.stream(2) as s:
        assert s.step(np.array([1, 6], np.int32)).shape == (2, 7)
    with lm.stream() as s:
        p = s.step(3)
        assert p.shape == (7,)
        assert abs(float(p.sum()) - 1) < 1e-5


@pytest.mark.parametrize("cell", [seqcore.RNN, seqcore.GRU, seqcore.LSTM])
def test_every_input_form_gives_the_numbers_of_the_checked_path(cell, rng):
    """float32 (the fast path), float64, a list, a non-contiguous view, big-endian, an integer
    array: each step equals the same step fed as a one-step chunk through the checked path."""
    model = feature_tagger(cell)
    steps = rng.standard_normal((6, 2, 4)).astype(np.float32)
    wide = np.zeros((2, 8), np.float32)
    forms = [
        lambda a: a,
        lambda a: a.astype(np.float64),
        lambda a: a.tolist(),
        lambda a: (wide.__setitem__((slice(None), slice(None, None, 2)), a), wide[:, ::2])[1],
        lambda a: a.astype(">f4"),
    ]
    for form in forms:
        with model.stream(2) as fast, model.stream(2) as checked:
            for t in range(steps.shape[0]):
                got = fast.step(form(steps[t]))
                want = checked.feed(steps[t][:, None, :])[:, 0]  # [B, 1, I]: a chunk of one step
                assert_close(got, want, 0, 0, f"step {t}")
    ints = np.arange(8, dtype=np.int64).reshape(2, 4)
    with model.stream(2) as a, model.stream(2) as b:
        assert_close(a.step(ints), b.step(ints.astype(np.float32)), 0, 0, "integer features")


def test_token_forms_agree(rng):
    lm = seqcore.LanguageModel(seqcore.LSTM(3, 5), vocab_size=9, seed=2)
    tokens = rng.integers(0, 9, size=8)
    with lm.stream() as a, lm.stream() as b, lm.stream() as c, lm.stream() as d:
        for t in tokens:
            want = a.step(int(t))
            assert_close(b.step(np.int64(t)), want, 0, 0, "np.int64 token")
            assert_close(c.step(np.array(t, np.int32)), want, 0, 0, "0-d int32 token")
            assert_close(d.step(np.array([t], np.uint8))[0], want, 0, 0, "[1] uint8 tokens")
    whole = lm.predict(tokens[None, :])[0]
    with lm.stream() as s:
        assert_close(np.stack([s.step(int(t)) for t in tokens]), whole, 1e-5, 1e-6, "steps = predict")


def test_results_do_not_alias_the_stream_buffers(rng):
    model = feature_tagger()
    x = rng.standard_normal((1, 4)).astype(np.float32)
    with model.stream() as s:
        first = s.step(x)
        kept = first.copy()
        second = s.step(x * 2)
        assert not np.shares_memory(first, second)
        assert_close(first, kept, 0, 0, "an earlier result changed under a later step")
        assert not np.shares_memory(s.step(x), x)


@pytest.mark.parametrize("bad,error,match", [
    (np.array([[np.nan, 0, 0, 0]], np.float32), errors.InvalidArgument, "seq_stream_feed.*finite"),
    (np.array([[np.inf, 0, 0, 0]]), errors.InvalidArgument, "finite"),
    (np.ones((1, 3), np.float32), errors.InvalidArgument, "4 features"),
    (np.ones((2, 4), np.float32), errors.InvalidArgument, "1 sequences"),
    (np.ones((1, 1, 4), np.float32), errors.InvalidArgument, "2-D"),
    (np.ones((1, 4), np.complex64), errors.InvalidType, "real numbers"),
    (np.ones((1, 4), bool), errors.InvalidType, "real numbers"),
    ("abcd", errors.InvalidType, "x"),
])
def test_a_refused_step_leaves_the_stream_usable_and_its_state_alone(bad, error, match, rng):
    model = feature_tagger()
    xs = rng.standard_normal((3, 1, 4)).astype(np.float32)
    with model.stream() as s, model.stream() as clean:
        s.step(xs[0])
        clean.step(xs[0])
        h_before = s.state[0].copy()
        with pytest.raises(error, match=match):
            s.step(bad)
        assert s.position == 1
        assert_close(s.state[0], h_before, 0, 0, "state after a refused step")
        for t in (1, 2):
            assert_close(s.step(xs[t]), clean.step(xs[t]), 0, 0, f"step {t} after the refused one")
        assert s.position == 3


def test_refused_tokens_leave_the_stream_usable():
    lm = seqcore.LanguageModel(seqcore.GRU(3, 4), vocab_size=5, seed=3)
    with lm.stream() as s, lm.stream() as clean:
        s.step(1)
        clean.step(1)
        for bad, error, match in [(9, errors.InvalidArgument, "seq_stream_feed.*tokens"),
                                  (-1, errors.InvalidArgument, "seq_stream_feed"),
                                  (2**40, errors.InvalidArgument, "32 bits"),
                                  (-2**31 - 1, errors.InvalidArgument, "32 bits"),
                                  (True, errors.InvalidType, "integer token ids"),
                                  (1.0, errors.InvalidType, "integer token ids"),
                                  (np.array([1, 2], np.int32), errors.InvalidArgument, "1 sequences")]:
            with pytest.raises(error, match=match):
                s.step(bad)
        assert s.position == 1
        assert_close(s.step(4), clean.step(4), 0, 0, "after refused tokens")


def test_step_after_close_and_closing_during_use():
    model = feature_tagger()
    s = model.stream()
    s.step(np.zeros(4, np.float32))
    s.close()
    for x in (np.zeros(4, np.float32), [0.0] * 4):
        with pytest.raises(errors.ClosedError, match="stream"):
            s.step(x)


def test_unchecked_binding_follows_the_header():
    feed = _capi.unchecked("seq_stream_feed")
    assert feed is not _capi.DECLARED["seq_stream_feed"]
    proto = _capi.HEADER.functions["seq_stream_feed"]
    assert len(feed.argtypes) == proto.arity
    for p, t in zip(proto.parameters, feed.argtypes):
        assert t is (_capi.ctypes.c_void_p if "*" in p.ctype else {"int64_t": _capi.c_int64, "seq_layout": _capi.c_int32}[p.ctype])
    # The checked declaration is untouched by the second binding.
    assert _capi.DECLARED["seq_stream_feed"].argtypes[1] is _capi.ConstFloatArray
    status = feed(None, None, None, 1, 1, 1, 0, None, 0, None)
    assert status == _capi.STATUS["SEQ_ERR_NULL_POINTER"]
    with pytest.raises(errors.InternalError, match="seq_stream_feed.*stream"):
        _capi.raise_for_status(status)
    _capi.raise_for_status(_capi.SEQ_OK)


def test_array_arguments_accept_read_only_and_empty_inputs():
    """The checked bindings map a writeable array's buffer; a read-only or empty one takes the
    other route, with the same result."""
    model = feature_tagger()
    x = np.ones((1, 2, 4), np.float32)
    ro = x.copy()
    ro.flags.writeable = False
    assert_close(model.predict(ro), model.predict(x), 0, 0, "read-only input")
    assert _capi.ConstFloatArray.from_param(np.zeros(0, np.float32)) is not None


def test_dropped_objects_are_freed_without_the_cycle_collector():
    gc.disable()
    try:
        model = feature_tagger()
        stream = model.stream()
        handles = [weakref.ref(model._handle), weakref.ref(stream._handle)]
        del model, stream
        assert [h() for h in handles] == [None, None]
    finally:
        gc.enable()


def test_a_stream_cannot_be_copied_or_pickled():
    import copy
    import pickle

    with feature_tagger().stream() as s:
        for attempt in (copy.copy, copy.deepcopy, pickle.dumps):
            with pytest.raises(errors.InvalidType, match=r"a Stream cannot be copied or pickled: .*\.state"):
                attempt(s)
        s.step(np.ones(4, np.float32))  # still usable
    with pytest.raises(errors.InvalidType, match="cannot be copied"):
        copy.copy(feature_tagger()._handle)  # a handle copy would free its C object twice
