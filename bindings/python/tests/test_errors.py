"""Every error path raises a SeqcoreError subclass with a message that says what is wrong: wrong
types and dtypes, wrong shapes, NaN, unknown names, closed objects, bad files, bad options. And no
malformed argument crashes the process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import seqcore
from seqcore import errors


@pytest.fixture
def feature_tagger():
    return seqcore.SequenceTagger(seqcore.LSTM(2, 4), output_size=1, output="regression")


@pytest.fixture
def token_tagger():
    return seqcore.SequenceTagger(seqcore.GRU(3, 4), output_size=3, vocab_size=5)


X = np.ones((2, 3, 2), np.float32)  # [B, T, I]


# --- Types and dtypes -------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [
    np.ones((2, 3, 2), np.complex64),
    np.array([[["a", "b"]] * 3] * 2),
    np.ones((2, 3, 2), bool),
    np.empty((2, 3, 2), object),
])
def test_wrong_feature_dtype(feature_tagger, bad):
    with pytest.raises(errors.InvalidType, match="x"):
        feature_tagger.predict(bad)


def test_wrong_token_dtype(token_tagger):
    with pytest.raises(errors.InvalidType, match="integer token ids"):
        token_tagger.predict(np.array([[1.0, 2.0]]))
    with pytest.raises(errors.InvalidType):
        token_tagger.predict([["a", "b"]])
    with pytest.raises(errors.InvalidArgument, match="32 bits"):
        token_tagger.predict(np.array([[2**40]]))


def test_wrong_lengths_type_and_values(feature_tagger):
    with pytest.raises(errors.InvalidType, match="lengths"):
        feature_tagger.predict(X, lengths=[1.5, 2])
    with pytest.raises(errors.InvalidArgument, match="2 lengths"):
        feature_tagger.predict(X, lengths=[3])
    with pytest.raises(errors.InvalidArgument, match=r"1\.\.\.3"):
        feature_tagger.predict(X, lengths=[3, 4])
    with pytest.raises(errors.InvalidArgument, match=r"got 0 at index 1"):
        feature_tagger.predict(X, lengths=[3, 0])


def test_wrong_option_types_and_values():
    with pytest.raises(errors.InvalidType, match="learning_rate"):
        seqcore.SequenceTagger(seqcore.LSTM(2, 4), output_size=1, learning_rate="fast")  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidArgument, match="optimizer"):
        seqcore.SequenceTagger(seqcore.LSTM(2, 4), output_size=1, optimizer="sgdd")
    with pytest.raises(errors.InvalidArgument, match="output"):
        seqcore.SequenceTagger(seqcore.LSTM(2, 4), output_size=1, output="softmax")
    with pytest.raises(errors.InvalidArgument, match="learning_rate"):
        seqcore.SequenceTagger(seqcore.LSTM(2, 4), output_size=1, learning_rate=-1.0)
    with pytest.raises(errors.InvalidType, match="rnn"):
        seqcore.SequenceTagger("lstm", output_size=1)  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidArgument, match="embedding_size"):
        seqcore.SequenceTagger(seqcore.LSTM(2, 4), output_size=1, vocab_size=5, embedding_size=3)
    with pytest.raises(errors.InvalidType, match="betas"):
        seqcore.SequenceTagger(seqcore.LSTM(2, 4), output_size=1, betas=0.9)  # type: ignore[arg-type]


def test_wrong_layer_arguments():
    with pytest.raises(errors.InvalidArgument, match="hidden_size"):
        seqcore.LSTM(2, 0)
    with pytest.raises(errors.InvalidType, match="input_size"):
        seqcore.LSTM(2.5, 4)  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidArgument, match="proj_size"):
        seqcore.LSTM(2, 4, proj_size=4)
    with pytest.raises(errors.InvalidArgument, match="variant"):
        seqcore.GRU(2, 4, variant="fancy")
    with pytest.raises(errors.InvalidArgument, match="nonlinearity"):
        seqcore.RNN(2, 4, nonlinearity="sigmoid")
    with pytest.raises(errors.InvalidArgument, match="dropout"):
        seqcore.LSTM(2, 4, num_layers=2, dropout=1.5)
    with pytest.raises(errors.InvalidArgument, match="direction"):
        seqcore.LSTM(2, 4, direction="sideways")
    with pytest.raises(errors.InvalidArgument, match="contradicts"):
        seqcore.LSTM(2, 4, bidirectional=True, direction="reverse")
    with pytest.raises(errors.InvalidArgument, match="merge"):
        seqcore.LSTM(2, 4, bidirectional=True, merge="max")


# --- Shapes -----------------------------------------------------------------------------------

def test_wrong_input_shapes(feature_tagger, token_tagger):
    with pytest.raises(errors.InvalidArgument, match=r"\[B, T, 2\]"):
        feature_tagger.predict(np.ones((2, 3), np.float32))
    with pytest.raises(errors.InvalidArgument, match="I = 2"):
        feature_tagger.predict(np.ones((2, 3, 5), np.float32))
    with pytest.raises(errors.InvalidArgument, match="at least one"):
        feature_tagger.predict(np.ones((0, 3, 2), np.float32))
    with pytest.raises(errors.InvalidArgument, match=r"\[B, T\]"):
        token_tagger.predict(np.ones((2, 3, 1), np.int32))
    with pytest.raises(errors.InvalidArgument, match="empty"):
        token_tagger.predict([[1, 2], []])
    with pytest.raises(errors.InvalidArgument, match="empty list"):
        token_tagger.predict([])
    with pytest.raises(errors.InvalidArgument, match="same number of features|shape"):
        feature_tagger.predict([np.ones((2, 2)), np.ones((2, 3))])


def test_wrong_target_shapes(feature_tagger, token_tagger):
    with pytest.raises(errors.InvalidArgument, match="y"):
        feature_tagger.train_step(X, np.ones((2, 4, 1), np.float32))
    with pytest.raises(errors.InvalidArgument, match="one target per input step"):
        token_tagger.train_step([[1, 2, 3], [1]], [[0, 1], [2]])
    with pytest.raises(errors.InvalidArgument, match="class ids"):
        token_tagger.train_step(np.array([[1, 2]]), np.array([[0, 1, 2]]))
    with pytest.raises(errors.InvalidArgument, match="required"):
        token_tagger.fit(np.array([[1, 2]]), verbose=0)
    clf = seqcore.SequenceClassifier(seqcore.GRU(2, 3), output_size=2)
    with pytest.raises(errors.InvalidArgument, match=r"\[2\] \(\[B\]\)"):
        clf.train_step(X, np.array([0, 1, 1]))
    with pytest.raises(errors.InvalidArgument, match="target_lengths"):
        clf.train_step(X, np.array([0, 1]), target_lengths=[1, 1])


def test_class_ids_out_of_range_are_refused_by_the_library(token_tagger):
    with pytest.raises(errors.InvalidArgument, match="seq_model_train_step"):
        token_tagger.train_step(np.array([[1, 2]]), np.array([[0, 7]]))


def test_wrong_state_shapes():
    lstm = seqcore.LSTM(2, 4, num_layers=2)
    with pytest.raises(errors.InvalidArgument, match="h0"):
        lstm(np.ones((3, 1, 2)), (np.zeros((1, 1, 4)), np.zeros((2, 1, 4))))
    with pytest.raises(errors.InvalidArgument, match="c0"):
        lstm(np.ones((3, 1, 2)), (np.zeros((2, 1, 4)), np.zeros((2, 1, 3))))
    with pytest.raises(errors.InvalidType, match="pair"):
        lstm(np.ones((3, 1, 2)), np.zeros((2, 1, 4)))
    with pytest.raises(errors.InvalidArgument, match="lengths"):
        lstm(np.ones((3, 2)), lengths=[2])


def test_wrong_stream_inputs(token_tagger):
    with token_tagger.stream(batch=2) as s:
        with pytest.raises(errors.InvalidArgument, match="B = 2"):
            s.step(3)
        with pytest.raises(errors.InvalidArgument, match="2 sequences"):
            s.step(np.array([1, 2, 3]))
        with pytest.raises(errors.InvalidArgument, match="seq_stream_feed"):
            s.step(np.array([1, 9]))  # token out of the vocabulary: the library refuses it
        with pytest.raises(errors.InvalidArgument, match="state h"):
            s.state = np.zeros((1, 3, 4))
        assert s.position == 0, "a failed call leaves the state alone"
    with pytest.raises(errors.InvalidArgument, match="batch"):
        token_tagger.stream(batch=0)


def test_streaming_a_bidirectional_or_seq2seq_model_is_refused():
    tagger = seqcore.SequenceTagger(seqcore.LSTM(2, 4, bidirectional=True), output_size=1)
    with pytest.raises(errors.InvalidArgument, match="seq_stream_create.*forward"):
        tagger.stream()
    with pytest.raises(errors.InvalidArgument, match="decode"):
        seqcore.Seq2Seq(seqcore.LSTM(2, 4), target_vocab_size=4).stream()


def test_generate_and_decode_arguments():
    lm = seqcore.LanguageModel(seqcore.GRU(3, 4), vocab_size=6)
    with pytest.raises(errors.InvalidArgument, match="prefix"):
        lm.generate([], 3)
    with pytest.raises(errors.InvalidArgument, match="seq_model_generate"):
        lm.generate([9], 3)
    with pytest.raises(errors.InvalidArgument, match="count"):
        lm.generate([1], -1)
    with pytest.raises(errors.InvalidArgument, match="temperature"):
        lm.generate([1], 3, temperature=-1.0)
    with pytest.raises(errors.InvalidArgument, match="at least 2 tokens"):
        lm.fit([[1, 2, 3], [4]], verbose=0)
    s2s = seqcore.Seq2Seq(seqcore.LSTM(2, 4), target_vocab_size=4)
    with pytest.raises(errors.InvalidArgument, match="max_length"):
        s2s.decode(X, max_length=0)
    with pytest.raises(errors.InvalidArgument, match="one per source"):
        s2s.train_step(X, [[2, 3]])


def test_fit_arguments(feature_tagger):
    y = np.zeros((2, 3, 1), np.float32)
    for kwargs in ({"epochs": 0}, {"batch_size": 0}, {"patience": 0}):
        with pytest.raises(errors.InvalidArgument):
            feature_tagger.fit(X, y, verbose=0, **kwargs)
    with pytest.raises(errors.InvalidType, match="epochs"):
        feature_tagger.fit(X, y, epochs=1.5, verbose=0)
    with pytest.raises(errors.InvalidType, match="validation_data"):
        feature_tagger.fit(X, y, validation_data=[X, y], verbose=0)


def test_bad_validation_data_fails_before_any_training(rng):
    """Validation data is checked whole before the first epoch (its values too, which the library
    checks only when it reads them), and the error names validation_data."""
    x = rng.standard_normal((8, 6, 2)).astype(np.float32)
    y = rng.integers(0, 3, (8, 6))
    model = seqcore.SequenceTagger(seqcore.GRU(2, 6), output_size=3)
    before = model.state_dict()
    bad_y = y.copy()
    bad_y[0, 0] = 7
    nan_x = x.copy()
    nan_x[1, 2, 0] = np.nan
    cases = [((x, bad_y), r"validation_data: seq_model_evaluate: argument 'target_ids'"),
             ((nan_x, y), r"validation_data: seq_model_evaluate: argument 'features': expected finite"),
             ((x[:, :, :1], y), r"validation_data: x: .*I = 2"),
             ((x, y[:, :4]), r"validation_data: y: "),
             ((x, y, [7] * 8), r"validation_data: lengths: ")]
    for data, match in cases:
        with pytest.raises(errors.InvalidArgument, match=match):
            model.fit(x, y, epochs=2, validation_data=data, verbose=0)
    for name, value in model.state_dict().items():
        assert np.array_equal(value, before[name]), f"{name}: trained before the validation data was refused"
    lm = seqcore.LanguageModel(seqcore.GRU(3, 4), vocab_size=6)
    with pytest.raises(errors.InvalidArgument, match=r"validation_data: seq_model_evaluate: .*tokens"):
        lm.fit([[1, 2, 3]] * 4, validation_data=[[1, 9, 2]], verbose=0)


# --- NaN and numeric failures -----------------------------------------------------------------

def test_nan_inputs_are_refused_by_the_library(feature_tagger):
    bad = X.copy()
    bad[1, 2, 0] = np.nan
    with pytest.raises(errors.InvalidArgument, match="seq_model_predict.*features.*finite") as info:
        feature_tagger.predict(bad)
    assert info.value.status == "SEQ_ERR_INVALID_ARGUMENT"
    with pytest.raises(errors.InvalidArgument, match="target_values.*finite"):
        feature_tagger.train_step(X, np.full((2, 3, 1), np.inf, np.float32))
    lstm = seqcore.LSTM(2, 4)
    with pytest.raises(errors.InvalidArgument, match="finite"):
        lstm(np.ones((3, 1, 2)), (np.full((1, 1, 4), np.nan), np.zeros((1, 1, 4))))


def test_nan_weights_are_refused_and_nothing_is_written(feature_tagger):
    before = feature_tagger.state_dict()
    state = dict(before)
    state["head.bias"] = np.array([np.nan], np.float32)
    state["rnn.weight_hh_l0"] = np.zeros_like(before["rnn.weight_hh_l0"])
    with pytest.raises(errors.InvalidArgument, match="head.bias.*finite"):
        feature_tagger.load_state_dict(state)
    for name, value in feature_tagger.state_dict().items():
        assert np.array_equal(value, before[name])


def test_an_overflowing_loss_is_a_numeric_error_and_leaves_the_weights(feature_tagger):
    before = feature_tagger.state_dict()
    huge = np.full((2, 3, 1), 1e30, np.float32)
    with pytest.raises(errors.NumericError, match="seq_model_train_step") as info:
        feature_tagger.train_step(X, huge)
    assert isinstance(info.value, ArithmeticError)
    with pytest.raises(errors.NumericError) as info:
        feature_tagger.fit(X, huge, epochs=3, verbose=0)
    assert info.value.history.epochs == 0  # type: ignore[attr-defined]
    for name, value in feature_tagger.state_dict().items():
        assert np.array_equal(value, before[name])


# --- Names ------------------------------------------------------------------------------------

def test_unknown_parameter_names(feature_tagger):
    with pytest.raises(errors.NotFound, match="rnn.weight_xx_l0") as info:
        feature_tagger.load_state_dict({"rnn.weight_xx_l0": np.zeros(3)}, strict=False)
    assert isinstance(info.value, KeyError)
    assert "rnn.weight_ih_l0" in str(info.value), "the message lists the names that exist"
    with pytest.raises(errors.NotFound):
        seqcore.LSTM(2, 4).load_state_dict({"weight_ih_l0_reverse": np.zeros((16, 2))}, strict=False)
    with pytest.raises(errors.InvalidArgument, match=r"expected shape \[16, 2\]"):
        seqcore.LSTM(2, 4).load_state_dict({"weight_ih_l0": np.zeros((2, 16))}, strict=False)
    with pytest.raises(errors.InvalidType, match="mapping"):
        seqcore.LSTM(2, 4).load_state_dict([("weight_ih_l0", np.zeros((16, 2)))])  # type: ignore[arg-type]


def test_model_import_onnx_stack_names(feature_tagger):
    with pytest.raises(errors.InvalidArgument, match="expected 'rnn', got 'decoder'"):
        feature_tagger.import_onnx(np.zeros((1, 16, 2)), np.zeros((1, 16, 4)), stack="decoder")
    s2s = seqcore.Seq2Seq(seqcore.GRU(2, 3, num_layers=2), target_vocab_size=5, embedding_size=4)
    R = np.arange(27, dtype=np.float32).reshape(1, 9, 3) / 27
    s2s.import_onnx(np.zeros((1, 9, 3)), R, layer=1, stack="decoder")
    assert np.array_equal(s2s.state_dict()["decoder.weight_hh_l1"][3:6], R[0, :3]), "ONNX z block -> torch block 1"
    s2s.import_onnx(np.zeros((1, 9, 4)), R, stack="decoder")  # the decoder's layer 0 reads its embedding (4)
    with pytest.raises(errors.InvalidArgument, match=r"W: expected shape \[1, 9, 4\]"):
        s2s.import_onnx(np.zeros((1, 9, 2)), R, stack="decoder")


# --- Closed objects ---------------------------------------------------------------------------

def test_closed_objects_refuse_use(feature_tagger):
    stream = feature_tagger.stream()
    feature_tagger.close()
    feature_tagger.close()  # twice is harmless
    assert feature_tagger.closed
    for call in (lambda: feature_tagger.predict(X), lambda: feature_tagger.state_dict(),
                 lambda: feature_tagger.save("/tmp/never.safetensors"), lambda: feature_tagger.learning_rate,
                 lambda: feature_tagger.fit(X, np.zeros((2, 3, 1)), verbose=0), lambda: feature_tagger.stream()):
        with pytest.raises(errors.ClosedError, match="closed"):
            call()
    assert "closed" in repr(feature_tagger)
    # A stream keeps its model alive in the library.
    assert stream.step(np.ones(2)).shape == (1,)
    stream.close()
    with pytest.raises(errors.ClosedError, match="stream"):
        stream.step(np.ones(2))
    with pytest.raises(errors.ClosedError):
        _ = stream.state
    layer = seqcore.GRU(2, 3)
    with layer:
        layer(np.ones((2, 1, 2)))
    with pytest.raises(errors.ClosedError, match="this GRU layer is closed"):
        layer(np.ones((2, 1, 2)))
    with pytest.raises(errors.ClosedError, match="this GRU layer is closed"):
        layer.state_dict()
    with pytest.raises(errors.ClosedError):
        seqcore.SequenceTagger(layer, output_size=1)


# --- Files ------------------------------------------------------------------------------------

def test_bad_files(tmp_path, feature_tagger):
    missing = tmp_path / "missing.safetensors"
    with pytest.raises(errors.FileError, match="missing.safetensors") as info:
        seqcore.load(missing)
    assert isinstance(info.value, OSError)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"this is not a model file at all")
    with pytest.raises(errors.FormatError) as info2:
        seqcore.load(garbage)
    assert isinstance(info2.value, ValueError)
    good = tmp_path / "good.safetensors"
    feature_tagger.save(good)
    data = good.read_bytes()
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(errors.FormatError, match="truncated|exceeds|bytes"):
        seqcore.load(truncated)
    flipped = bytearray(data)
    flipped[10] ^= 0xFF  # inside the JSON header
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(bytes(flipped))
    with pytest.raises(errors.FormatError):
        seqcore.load(damaged)
    with pytest.raises(errors.FileError):
        feature_tagger.save(tmp_path / "no" / "such" / "dir" / "m.safetensors")
    with pytest.raises(errors.InvalidType, match="path"):
        feature_tagger.save(42)  # type: ignore[arg-type]
    assert seqcore.load(good).config["output"] == "regression"


# --- Strings for C ------------------------------------------------------------------------------

def test_nul_bytes_and_unencodable_strings_are_refused_not_cut(tmp_path, feature_tagger):
    """A C string ends at its first NUL: "model.st\\0.new" would write model.st, "sgd\\0junk" would
    be "sgd". Every string bound for C is refused instead, naming the argument; so is text that
    cannot be encoded (a lone surrogate), which used to escape as a UnicodeEncodeError."""
    with pytest.raises(errors.InvalidArgument, match=r"path: expected a path without NUL bytes"):
        feature_tagger.save(str(tmp_path / "model.st\0.new"))
    assert list(tmp_path.iterdir()) == [], "nothing was written under a cut name"
    with pytest.raises(errors.InvalidArgument, match="path: .*NUL"):
        seqcore.load("x\0y")
    with pytest.raises(errors.InvalidArgument, match="path: .*encod"):
        seqcore.load("\ud800.safetensors")
    with pytest.raises(errors.InvalidArgument, match="optimizer: .*NUL"):
        seqcore.SequenceTagger(seqcore.LSTM(2, 4), output_size=2, optimizer="sgd\0junk")
    with pytest.raises(errors.InvalidArgument, match="optimizer: .*UTF-8"):
        seqcore.SequenceTagger(seqcore.LSTM(2, 4), output_size=2, optimizer="\udcff")
    with pytest.raises(errors.InvalidArgument, match="initialization: .*NUL"):
        seqcore.LSTM(2, 4, initialization="xavier\0")
    with pytest.raises(errors.InvalidArgument, match="reduction: .*NUL"):
        seqcore.SequenceTagger(seqcore.LSTM(2, 4), output_size=2, reduction="sum\0")


# --- Arguments named in every error --------------------------------------------------------------

def test_scalar_arguments_are_checked_and_named(feature_tagger):
    for bad, error in (("fast", errors.InvalidType), (None, errors.InvalidType)):
        with pytest.raises(error, match="learning_rate"):
            feature_tagger.learning_rate = bad
    for bad in ("a", None, 1.7):
        with pytest.raises(errors.InvalidType, match="seed: expected an integer"):
            seqcore.LSTM(2, 4, seed=bad)
    assert seqcore.LSTM(2, 4, seed=np.int64(3)).seed == 3
    for make in (lambda: seqcore.SequenceTagger(seqcore.LSTM(2, 4), output_size=2, seed=2**64),
                 lambda: seqcore.LSTM(2, 4, seed=2**64)):
        with pytest.raises(errors.InvalidArgument, match="seed: expected a 64-bit integer") as info:
            make()
        assert "'value'" not in str(info.value)
    with pytest.raises(errors.InvalidArgument, match="verbose: expected 0 .*, 1 .* or 2"):
        feature_tagger.fit(X, np.zeros((2, 3, 1)), verbose=5)


def test_base_classes_and_streams_cannot_be_made_directly():
    with pytest.raises(errors.InvalidType, match="SequenceModel is the base class.*SequenceTagger"):
        seqcore.SequenceModel()
    with pytest.raises(errors.InvalidType, match="RecurrentLayer is the base class of RNN, GRU and LSTM"):
        seqcore.RecurrentLayer(2, 4)
    with pytest.raises(errors.InvalidType, match=r"model: .*model\.stream"):
        seqcore.Stream("x")  # type: ignore[arg-type]


def test_embedding_options_without_a_vocabulary_are_refused_not_ignored():
    with pytest.raises(errors.InvalidArgument, match="embedding_size: .*vocab_size"):
        seqcore.SequenceTagger(seqcore.LSTM(2, 4), output_size=2, embedding_size=7)
    with pytest.raises(errors.InvalidArgument, match="padding_index: .*vocab_size"):
        seqcore.SequenceClassifier(seqcore.LSTM(2, 4), output_size=2, padding_index=0)
    with pytest.raises(errors.InvalidArgument, match="padding_index: .*vocab_size"):
        seqcore.Seq2Seq(seqcore.LSTM(2, 4), target_vocab_size=4, padding_index=0)
    # The decoder's embedding size needs no source vocabulary.
    assert seqcore.Seq2Seq(seqcore.LSTM(2, 4), target_vocab_size=4, embedding_size=3).config["embedding_size"] == 3


def test_float64_values_beyond_float32_are_named_without_a_warning(feature_tagger):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's overflow RuntimeWarning would fail here
        with pytest.raises(errors.InvalidArgument, match=r"x: values out of float32 range \(largest magnitude 1e\+300"):
            feature_tagger.predict(np.full((1, 2, 2), 1e300))
        with pytest.raises(errors.InvalidArgument, match=r"state_dict\['head.bias'\]: values out of float32 range"):
            feature_tagger.load_state_dict({"head.bias": np.array([-1e39])}, strict=False)
        # Infinity and NaN themselves still reach the library's finiteness check.
        with pytest.raises(errors.InvalidArgument, match="seq_model_predict.*finite"):
            feature_tagger.predict(np.full((1, 2, 2), np.inf))
        assert feature_tagger.predict(np.full((1, 2, 2), 3e38)).shape == (1, 2, 1)


# --- No crash on any malformed argument -------------------------------------------------------

def test_malformed_arguments_never_crash_the_process(tmp_path):
    """Throws a grid of malformed values at every entry point in a child process: each call must
    raise a SeqcoreError (or succeed); a crash would kill the child."""
    script = textwrap.dedent("""
        import itertools, numpy as np, seqcore
        bad_values = [None, 0, -1, 2**40, 2**63, -2**63 - 1, 1.5, float("nan"), "x", b"x", [], [[]], [[1, 2], [3]], {}, object(),
                      np.zeros(0), np.zeros((0, 0, 0)), np.full((2, 3, 2), np.nan), np.ones((3, 2, 1)),
                      np.ones((2, 3, 2), np.float64), np.ones((2, 3, 2), np.float32)[:, ::2],
                      np.ones((2, 3), np.int64) * 99, -np.ones((2, 3), np.int32), np.ones((2, 3, 2), np.complex64)]
        models = [seqcore.SequenceTagger(seqcore.LSTM(2, 3), output_size=2),
                  seqcore.SequenceClassifier(seqcore.GRU(2, 3), output_size=2, vocab_size=4),
                  seqcore.LanguageModel(seqcore.RNN(2, 3), vocab_size=4),
                  seqcore.Seq2Seq(seqcore.LSTM(2, 3), target_vocab_size=4)]
        calls = 0
        for model in models:
            for a, b in itertools.product(bad_values, repeat=2):
                for method in ("predict", "evaluate", "train_step", "fit", "gradient_norms"):
                    try:
                        if method == "fit":
                            model.fit(a, b, verbose=0)
                        elif method == "predict":
                            model.predict(a, b)
                        else:
                            getattr(model, method)(a, b)
                    except seqcore.SeqcoreError:
                        pass
                    calls += 1
            for a in bad_values:
                for call in (lambda: model.load_state_dict({"head.bias": a}, strict=False),
                             lambda: model.generate(a, 3) if hasattr(model, "generate") else None,
                             lambda: model.decode(a) if hasattr(model, "decode") else None,
                             lambda: model.stream(a), lambda: model.save(a), lambda: seqcore.load(a),
                             lambda: model.import_onnx(a, a, a, a)):
                    try:
                        call()
                    except seqcore.SeqcoreError:
                        pass
                    calls += 1
        lm, s2s = models[2], models[3]
        keywords = {lm.generate: ["count", "temperature", "top_k", "seed", "stop_token"],
                    s2s.decode: ["max_length", "temperature", "top_k", "seed"],
                    models[0].fit: ["epochs", "batch_size", "verbose", "patience", "validation_data"]}
        for method, names in keywords.items():
            for name, a in itertools.product(names, bad_values):
                try:
                    if method == lm.generate:
                        method([1, 2], **({"count": 3} | {name: a}))
                    elif method == s2s.decode:
                        method(np.ones((1, 2, 2)), **{name: a})
                    else:
                        method(np.ones((1, 2, 2)), np.zeros((1, 2), np.int64), **{name: a})
                except seqcore.SeqcoreError:
                    pass
                calls += 1
        layer = seqcore.LSTM(2, 3)
        for a, b in itertools.product(bad_values, repeat=2):
            try:
                layer(a, b)
            except seqcore.SeqcoreError:
                pass
            calls += 1
        print("calls", calls)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, f"child exited with {result.returncode}:\n{result.stderr[-3000:]}"
    assert "calls" in result.stdout
