"""Truncated BPTT (``truncated_bptt=k``): fit against torch's loop with detached states (the golden
file Tests/Fixtures/tbptt_training.json, made by make_tbptt_fixtures.py; no torch needed), a whole
window equal to whole sequences, the option kept in files, and its refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

import seqcore
from seqcore import errors

from conftest import assert_close, fixture_path

LAYERS = {"gru": seqcore.GRU, "lstm": seqcore.LSTM}


def golden_cases():
    with open(fixture_path("tbptt_training.json")) as fh:
        return json.load(fh)["cases"]


def tagger(case, window):
    rnn = LAYERS[case["cell"]](case["input_size"], case["hidden_size"], num_layers=case["num_layers"])
    model = seqcore.SequenceTagger(rnn, case["classes"], optimizer="sgd", learning_rate=case["learning_rate"],
                                   momentum=case["momentum"], truncated_bptt=window, batch_first=False)
    model.load_state_dict({name: np.asarray(p["values"], np.float32).reshape(p["shape"])
                           for name, p in case["initial"].items()})
    return model


def data(case):
    steps, batch = max(case["lengths"]), len(case["lengths"])
    x = np.asarray(case["x"], np.float32).reshape(steps, batch, case["input_size"])
    y = np.asarray(case["labels"], np.int64).reshape(steps, batch)
    return x, y, case["lengths"]


@pytest.mark.parametrize("index", [0, 1])
def test_fit_in_windows_matches_torch(index):
    """One epoch, one batch of every sequence: each window an SGD step from the state the previous
    one ended in, as torch's loop with .detach() (float32 against float64)."""
    case = golden_cases()[index]
    model = tagger(case, case["window"])
    x, y, lengths = data(case)
    history = model.fit(x, y, lengths=lengths, epochs=1, batch_size=len(lengths), verbose=0)
    assert history.batch_loss[0] == pytest.approx(np.mean(case["window_losses"]), rel=1e-5)
    state = model.state_dict()
    for name, p in case["final"].items():
        assert_close(state[name], np.reshape(p["values"], p["shape"]), 1e-4, 1e-5, f"{case['name']}: {name}")


def test_a_whole_window_is_whole_sequences_and_the_option_is_kept(tmp_path):
    case = golden_cases()[0]
    x, y, lengths = data(case)
    windowed, plain = tagger(case, max(lengths)), tagger(case, None)
    assert windowed.config["truncated_bptt"] == max(lengths) and plain.config["truncated_bptt"] == 0
    windowed.fit(x, y, lengths=lengths, epochs=2, batch_size=2, verbose=0)
    plain.fit(x, y, lengths=lengths, epochs=2, batch_size=2, verbose=0)
    for name, value in plain.state_dict().items():
        assert np.array_equal(windowed.state_dict()[name], value), name
    path = tmp_path / "windowed.safetensors"
    windowed.save(path)
    assert seqcore.load(path).config["truncated_bptt"] == max(lengths)


def test_a_language_model_trains_in_windows():
    """A periodic text read in windows of 3 steps: the carried state lets the model predict the
    steps that need context from before the window (0, 1, 2, 3, 2, 1: after 1 and after 2 the
    next token depends on the one before)."""
    pattern = np.array([0, 1, 2, 3, 2, 1])
    text = np.stack([np.roll(np.tile(pattern, 5), -s) for s in range(6)])  # 6 phases × 30 tokens
    model = seqcore.LanguageModel(seqcore.LSTM(8, 24, seed=3), vocab_size=4, learning_rate=0.02, truncated_bptt=3)
    model.fit(text, epochs=150, batch_size=6, verbose=0)
    inputs, targets = text[:, :-1], text[:, 1:]
    predicted = model.predict(inputs).argmax(-1)
    # Past the first two steps, every next token is determined by the two before it.
    assert (predicted[:, 2:] == targets[:, 2:]).mean() > 0.97


def test_refusals_name_the_option():
    gru = seqcore.GRU(2, 3)
    with pytest.raises(errors.InvalidArgument, match="truncated_bptt"):
        seqcore.SequenceTagger(seqcore.GRU(2, 3, bidirectional=True), 2, truncated_bptt=4)
    with pytest.raises(errors.InvalidArgument, match="truncated_bptt: expected an integer >= 1, got 0"):
        seqcore.SequenceTagger(gru, 2, truncated_bptt=0)
    with pytest.raises(errors.InvalidType, match="truncated_bptt"):
        seqcore.SequenceTagger(gru, 2, truncated_bptt=2.5)
    with pytest.raises(errors.InvalidType, match="truncated_bptt"):
        seqcore.LanguageModel(seqcore.GRU(2, 3), 5, truncated_bptt=True)
    with pytest.raises(TypeError, match="truncated_bptt"):
        seqcore.SequenceClassifier(gru, 2, truncated_bptt=4)  # type: ignore[call-arg]
