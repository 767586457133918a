"""The four architectures: each learns a tiny task; predict, evaluate, streams, files, weights,
fit's History, progress display and early stopping; generation and decoding."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest

import seqcore
from seqcore import errors, training

from conftest import assert_close, fixture_path, load_json, read_safetensors


@pytest.fixture
def names_data(rng):
    """The course's name tagger, in miniature: token ids >= 10 are names (label 1)."""
    seqs = [rng.integers(1, 20, size=int(rng.integers(3, 9))) for _ in range(200)]
    return seqs, [(s >= 10).astype(np.float32) for s in seqs]


def make_tagger(**kw):
    return seqcore.SequenceTagger(seqcore.LSTM(8, 16, bidirectional=True), output_size=1, output="binary",
                                  vocab_size=20, learning_rate=0.02, **kw)


def test_tagger_learns_names(names_data):
    seqs, labels = names_data
    tagger = make_tagger()
    history = tagger.fit(seqs, labels, epochs=15, batch_size=16, verbose=0)
    assert history.epochs == 15 and history.loss[-1] < 0.1 * history.loss[0]
    p = tagger.predict(seqs)
    assert p.shape == (200, max(len(s) for s in seqs), 1) and p.dtype == np.float32
    accuracy = np.mean(np.concatenate([(p[i, : len(s), 0] > 0.5) == (s >= 10) for i, s in enumerate(seqs)]))
    assert accuracy > 0.97
    assert np.all(p[0, len(seqs[0]):] == 0), "outputs past a length are zero"


def test_classifier_learns_the_sign_of_a_sum(rng):
    x = rng.standard_normal((300, 10, 2)).astype(np.float32)
    y = (x[:, :, 0].sum(1) > 0).astype(np.int64)
    clf = seqcore.SequenceClassifier(seqcore.GRU(2, 16), output_size=2, learning_rate=0.02)
    history = clf.fit(x, y, epochs=20, batch_size=32, verbose=0)
    assert history.loss[-1] < 0.3 * history.loss[0]
    p = clf.predict(x)
    assert p.shape == (300, 2)
    assert_close(p.sum(1), np.ones(300), 1e-5, 1e-5, "softmax rows sum to 1")
    assert np.mean(p.argmax(1) == y) > 0.95


def test_language_model_learns_a_pattern_and_generates():
    pattern = np.array([2, 3, 4, 5] * 30)
    seqs = [pattern[i : i + 12] for i in range(0, 100, 3)]
    lm = seqcore.LanguageModel(seqcore.GRU(8, 32), vocab_size=8, learning_rate=0.02)
    history = lm.fit(seqs, epochs=20, batch_size=8, verbose=0)
    assert history.loss[-1] < 0.05
    assert lm.generate([2, 3], 10, temperature=0).tolist() == [4, 5, 2, 3, 4, 5, 2, 3, 4, 5]
    sampled = lm.generate(np.array([2]), 20, temperature=1.5, top_k=3, seed=7)
    assert sampled.dtype == np.int32 and len(sampled) == 20
    assert np.array_equal(sampled, lm.generate([2], 20, temperature=1.5, top_k=3, seed=7)), "seeded sampling repeats"
    stopped = lm.generate([2], 10, temperature=0, stop_token=5)
    assert stopped.tolist() == [3, 4, 5]
    assert lm.generate(3, 0).size == 0
    p = lm.predict(np.array([[2, 3, 4]]))
    assert p.shape == (1, 3, 8) and p[0, -1].argmax() == 5


def test_seq2seq_learns_to_copy(rng):
    src = [rng.integers(2, 8, size=int(rng.integers(2, 5))) for _ in range(300)]
    model = seqcore.Seq2Seq(seqcore.LSTM(8, 48), target_vocab_size=8, vocab_size=8, learning_rate=0.02)
    history = model.fit(src, src, epochs=30, batch_size=16, verbose=0)
    assert history.loss[-1] < 0.05
    decoded = model.decode(src[:50], max_length=8)
    assert len(decoded) == 50 and all(d.dtype == np.int32 for d in decoded)
    assert np.mean([np.array_equal(a, b) for a, b in zip(decoded, src[:50])]) > 0.9
    sampled = model.decode(src[:5], max_length=8, temperature=1.0, seed=3)
    again = model.decode(src[:5], max_length=8, temperature=1.0, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(sampled, again))
    with pytest.raises(errors.InvalidArgument, match="decode"):
        model.predict(src[:2])
    # Padded arrays with explicit lengths give the same as lists.
    padded = np.zeros((3, 4), np.int64)
    for i, s in enumerate(src[:3]):
        padded[i, : len(s)] = s
    lengths = [len(s) for s in src[:3]]
    assert all(np.array_equal(a, b) for a, b in zip(model.decode(padded, lengths), model.decode(src[:3])))
    assert model.evaluate(padded, padded, lengths, lengths) == pytest.approx(model.evaluate(src[:3], src[:3]), rel=1e-6)
    assert isinstance(model.decoder, seqcore.LSTM)


def test_regression_tagger_with_features_and_time_major(rng):
    x = rng.standard_normal((5, 16, 3)).astype(np.float32)  # [T, B, I]
    y = np.cumsum(x[:, :, :1], axis=0)  # running sum, [T, B, 1]
    model = seqcore.SequenceTagger(seqcore.LSTM(3, 16), output_size=1, output="regression", learning_rate=0.02,
                                   batch_first=False)
    before = model.evaluate(x, y)
    model.fit(x, y, epochs=60, batch_size=16, verbose=0)
    assert model.evaluate(x, y) < 0.3 * before
    assert model.predict(x).shape == (5, 16, 1)
    assert model.predict(x, lengths=[5] * 8 + [3] * 8)[4, 9, 0] == 0


def test_train_step_evaluate_and_gradients(names_data):
    seqs, labels = names_data
    tagger = make_tagger(seed=5)
    loss0 = tagger.evaluate(seqs[:32], labels[:32])
    assert tagger.evaluate(seqs[:32], labels[:32]) == loss0, "evaluate leaves the weights alone"
    step_loss = tagger.train_step(seqs[:32], labels[:32])
    assert step_loss == pytest.approx(loss0, rel=1e-6), "train_step returns the loss before its update"
    assert tagger.evaluate(seqs[:32], labels[:32]) < loss0
    grads = tagger.gradients()
    assert list(grads) == list(tagger.state_dict())
    assert all(g.shape == tagger.state_dict()[n].shape for n, g in grads.items())
    assert any(np.any(g != 0) for g in grads.values())


def test_stream_equals_predict(rng):
    lm = seqcore.LanguageModel(seqcore.LSTM(6, 12, num_layers=2, proj_size=4), vocab_size=9, seed=3)
    tokens = rng.integers(0, 9, size=(2, 7))
    whole = lm.predict(tokens)
    with lm.stream(batch=2) as s:
        steps = np.stack([s.step(tokens[:, t]) for t in range(7)], axis=1)
        assert s.position == 7
        h, c = s.state
        assert h.shape == (2, 2, 4) and c.shape == (2, 2, 12)
    assert_close(steps, whole, 1e-5, 1e-6, "stream step by step")
    with lm.stream() as s:
        first = s.feed(tokens[0, :4])  # [T] for B = 1
        rest = s.feed(tokens[0, 4:])
        assert first.shape == (4, 9)
        assert_close(np.concatenate([first, rest]), whole[0], 1e-5, 1e-6, "stream in chunks")
        saved = s.state
        next_a = s.step(int(tokens[0, 0]))
        s.state = saved
        assert_close(s.step(tokens[0, 0]), next_a, 0, 0, "state restored")
        s.reset()
        assert s.position == 0
        assert_close(s.step(tokens[0, 0]), whole[0, 0], 1e-5, 1e-6, "after reset")


def test_stream_of_a_feature_classifier_time_major(rng):
    clf = seqcore.SequenceClassifier(seqcore.RNN(3, 5), output_size=4, batch_first=False, seed=2)
    x = rng.standard_normal((6, 2, 3)).astype(np.float32)
    with clf.stream(2) as s:
        out = s.feed(x)
        assert out.shape == (6, 2, 4)
        h = s.state
        assert isinstance(h, np.ndarray) and h.shape == (1, 2, 5)
    assert_close(out[-1], clf.predict(x), 1e-5, 1e-6, "classifier stream's last step is its prediction")
    assert_close(out[2], clf.predict(x[:3]), 1e-5, 1e-6, "output at t = prediction of the sequence cut at t")


def test_save_and_load_round_trip(tmp_path, names_data):
    seqs, labels = names_data
    tagger = make_tagger()
    tagger.fit(seqs[:64], labels[:64], epochs=2, verbose=0)
    path = tmp_path / "tagger.safetensors"
    tagger.save(path)
    loaded = seqcore.load(path)
    assert type(loaded) is seqcore.SequenceTagger
    assert_close(loaded.predict(seqs[:10]), tagger.predict(seqs[:10]), 0, 0, "loaded model")
    assert loaded.config["architecture"] == "tagger" and loaded.config["vocab_size"] == 20
    assert seqcore.SequenceTagger.load(str(path)).output == "binary"
    with pytest.raises(errors.InvalidArgument, match="not a LanguageModel"):
        seqcore.LanguageModel.load(path)
    safetensors = read_safetensors(path)
    for name, value in tagger.state_dict().items():
        assert np.array_equal(safetensors[name], value), f"{name} in the file under its PyTorch name"


def test_state_dict_rnn_copy_and_layer_weights_start_the_model(rng):
    layer = seqcore.GRU(3, 4, num_layers=2, seed=11)
    model = seqcore.SequenceTagger(layer, output_size=2)
    names = list(model.state_dict())
    assert names[0] == "rnn.weight_ih_l0" and names[-2:] == ["head.weight", "head.bias"]
    for name, value in layer.state_dict().items():
        assert np.array_equal(model.state_dict()["rnn." + name], value)
    copy = model.rnn
    assert isinstance(copy, seqcore.GRU) and copy.num_layers == 2
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    assert_close(copy(x, )[0], layer(x)[0], 0, 0, "model.rnn holds the layer's weights")
    other = seqcore.SequenceTagger(seqcore.GRU(3, 4, num_layers=2, seed=12), output_size=2)
    other.load_state_dict(model.state_dict())
    assert_close(other.predict(x), model.predict(x), 0, 0, "load_state_dict")
    assert model.num_parameters == sum(v.size for v in model.state_dict().values())
    assert "SequenceTagger(GRU(3, 4, num_layers=2), output_size=2" in repr(model)


def test_torch_tagger_golden_file():
    """A PyTorch tagger (Embedding, bidirectional GRU, Linear) saved by safetensors: its
    state_dict loads by name and gives torch's logits (predict returns their softmax)."""
    f = load_json("interop_torch_tagger.json")
    c = f["config"]
    r = c["rnn"]
    layer = seqcore.GRU(r["input_size"], r["hidden_size"], bidirectional=r["direction"] == "bidirectional")
    model = seqcore.SequenceTagger(layer, output_size=c["output_size"], vocab_size=c["vocab_size"], batch_first=False)
    model.load_state_dict(read_safetensors(fixture_path("interop_torch_tagger.safetensors")))
    T, B, K = f["T"], f["B"], c["output_size"]
    tokens = np.array(f["tokens"]).reshape(T, B)
    p = model.predict(tokens, f["lengths"])
    logits = np.array(f["logits"]).reshape(T, B, K)
    expected = np.exp(logits - logits.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    mask = np.arange(T)[:, None] < np.array(f["lengths"])[None, :]
    assert_close(p[mask], expected[mask], label="tagger probabilities")


def test_fit_history_validation_and_learning_rate(names_data):
    seqs, labels = names_data
    tagger = make_tagger()
    history = tagger.fit(seqs[:150], labels[:150], epochs=4, batch_size=50,
                         validation_data=(seqs[150:], labels[150:]), verbose=0)
    assert len(history.loss) == len(history.val_loss) == 4
    assert len(history.batch_loss) == 12
    assert history.val_loss[-1] == pytest.approx(tagger.evaluate(seqs[150:], labels[150:]), rel=1e-9)
    assert history.learning_rate == [pytest.approx(0.02)] * 4
    assert "History(epochs=4" in repr(history)
    tagger.learning_rate = 0.005
    assert tagger.learning_rate == pytest.approx(0.005)
    history = tagger.fit(seqs[:10], labels[:10], epochs=1, verbose=0)
    assert history.learning_rate == [pytest.approx(0.005)]


def test_fit_early_stopping_restores_the_best_weights(names_data):
    seqs, labels = names_data
    tagger = make_tagger()
    flipped = [1 - y for y in labels[100:]]  # validation labels that training moves away from
    history = tagger.fit(seqs[:100], labels[:100], epochs=40, batch_size=10,
                         validation_data=(seqs[100:], flipped), patience=2, verbose=0)
    assert history.stopped_early and history.epochs < 40
    best = int(np.argmin(history.val_loss))
    assert history.best_epoch == best + 1
    assert best < history.epochs - 1
    assert tagger.evaluate(seqs[100:], flipped) == pytest.approx(history.val_loss[best], rel=1e-6)


def test_language_model_validation_data_may_be_sequences():
    lm = seqcore.LanguageModel(seqcore.RNN(4, 8), vocab_size=6)
    history = lm.fit([[1, 2, 3, 4]] * 4, epochs=2, validation_data=[[1, 2, 3]], verbose=0)
    assert len(history.val_loss) == 2


def test_progress_display(names_data, monkeypatch):
    seqs, labels = names_data
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setitem(sys.modules, "tqdm", None)  # the plain display, whether or not tqdm is installed
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    stream = Terminal()
    bar = training.ProgressBar(total=3, epochs=1, verbose=1, stream=stream)
    for _ in range(3):
        bar.update(1, 0.5, 0.25)
    bar.close()
    text = stream.getvalue()
    assert "epoch 1/1" in text and "3/3" in text and "loss 0.2500" in text and "ETA" in text and "\r" in text
    log = io.StringIO()  # not a terminal: a line per epoch, no redrawing
    bar = training.ProgressBar(total=2, epochs=2, verbose=1, stream=log)
    bar.update(1, 0.5, 0.5)
    bar.epoch_end(1, 0.5, None)
    assert log.getvalue() == "epoch 1/2 loss 0.5000 (00:00, ETA 00:00)\n"
    stream = io.StringIO()
    bar = training.ProgressBar(total=2, epochs=2, verbose=2, stream=stream)
    bar.update(1, 0.5, 0.5)
    bar.epoch_end(1, 0.5, 0.75)
    bar.close()
    assert stream.getvalue().startswith("epoch 1/2 loss 0.5000 val_loss 0.7500 (")
    # fit itself: verbose=0 is silent; verbose=1 draws on stderr.
    tagger = make_tagger()
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    tagger.fit(seqs[:20], labels[:20], epochs=2, batch_size=10, verbose=0)
    assert err.getvalue() == ""
    tagger.fit(seqs[:20], labels[:20], epochs=2, batch_size=10, verbose=1)
    assert "loss" in err.getvalue()


def test_progress_uses_tqdm_when_installed():
    pytest.importorskip("tqdm")
    stream = io.StringIO()
    bar = training.ProgressBar(total=4, epochs=2, verbose=1, stream=stream)
    assert bar._tqdm is not None
    for i in range(4):
        bar.update(1 + i // 2, 0.5, 0.5)
    bar.close()
    assert "4/4" in stream.getvalue()


def test_history_plot():
    history = training.History(loss=[1.0, 0.5], val_loss=[1.2, 0.7])
    try:
        import matplotlib
    except ImportError:
        with pytest.raises(ImportError, match="matplotlib"):
            history.plot()
        with pytest.raises(errors.MissingDependency):
            history.plot()
        return
    matplotlib.use("Agg")
    ax = history.plot()
    assert len(ax.get_lines()) == 2


def test_an_exception_in_the_progress_callback_stops_fit_and_propagates(names_data, monkeypatch):
    seqs, labels = names_data
    tagger = make_tagger()
    calls = []

    def boom(self, epoch, loss, epoch_loss):
        calls.append(epoch)
        raise KeyboardInterrupt

    monkeypatch.setattr(training.ProgressBar, "update", boom)
    with pytest.raises(KeyboardInterrupt):
        tagger.fit(seqs, labels, epochs=5, batch_size=10, verbose=0)
    assert calls == [1], "training stopped after the first batch"
    assert tagger.predict(seqs[:1]).shape[0] == 1, "the model is still usable"


def test_gradient_norms_shape_and_side_effects(rng):
    x = rng.standard_normal((4, 12, 2)).astype(np.float32)
    y = rng.integers(0, 3, size=(4, 12))
    model = seqcore.SequenceTagger(seqcore.RNN(2, 8, num_layers=2, bidirectional=True), output_size=3)
    weights = model.state_dict()
    norms = model.gradient_norms(x, y, lengths=[12, 12, 5, 3])
    assert norms.shape == (4, 12) and norms.dtype == np.float32 and np.all(norms >= 0)
    assert np.all(norms[:, :5] > 0)
    for name, value in model.state_dict().items():
        assert np.array_equal(value, weights[name]), "gradient_norms leaves the weights alone"
    s2s = seqcore.Seq2Seq(seqcore.GRU(2, 6), target_vocab_size=5)
    assert s2s.gradient_norms(x[:, :7], [[2, 3], [4], [2, 2, 2], [3]]).shape == (1, 7), "the encoder's steps"


def test_gradient_norms_show_vanishing_gradients():
    """A classifier reads only the final state: ∂L/∂a<t> shrinks towards early steps much faster
    for a vanilla RNN than for an LSTM."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 40, 2)).astype(np.float32)
    y = rng.integers(0, 2, size=8)
    ratios = {}
    for name, layer in (("rnn", seqcore.RNN(2, 16, seed=1)), ("lstm", seqcore.LSTM(2, 16, seed=1, forget_bias=3.0))):
        norms = seqcore.SequenceClassifier(layer, output_size=2).gradient_norms(x, y)[0]
        ratios[name] = norms[0] / norms[-1]
    assert ratios["rnn"] < 1e-3 < ratios["lstm"], ratios


def test_compute_gradients_matches_finite_differences_and_leaves_weights(rng):
    """compute_gradients is BPTT without a step: the weights stay, the gradient of one weight
    matches a central difference of evaluate()."""
    model = seqcore.SequenceTagger(seqcore.GRU(2, 3), output_size=1, output="regression", seed=3)
    x = rng.standard_normal((2, 4, 2)).astype(np.float32)
    y = rng.standard_normal((2, 4, 1)).astype(np.float32)
    before = model.state_dict()
    loss = model.compute_gradients(x, y)
    after = model.state_dict()
    for name in before:
        np.testing.assert_array_equal(before[name], after[name], err_msg=name)
    assert loss == pytest.approx(model.evaluate(x, y), rel=1e-6)
    grads = model.gradients()
    name = "rnn.weight_hh_l0"
    eps = 1e-2
    w = before[name].copy()
    w[1, 2] += eps
    model.load_state_dict({**before, name: w})
    plus = model.evaluate(x, y)
    w[1, 2] -= 2 * eps
    model.load_state_dict({**before, name: w})
    minus = model.evaluate(x, y)
    assert grads[name][1, 2] == pytest.approx((plus - minus) / (2 * eps), rel=2e-2, abs=1e-4)


MODEL_VARIETY = [
    lambda: seqcore.SequenceTagger(seqcore.GRU(3, 4, bidirectional=True), output_size=2, output="binary",
                                   vocab_size=6, padding_index=0, optimizer="sgd", momentum=0.5),
    lambda: seqcore.SequenceClassifier(seqcore.LSTM(2, 4, proj_size=3), output_size=3, batch_first=False,
                                       clip_norm=1.0),
    lambda: seqcore.LanguageModel(seqcore.RNN(3, 5), vocab_size=6, learning_rate=0.05, seed=4),
    lambda: seqcore.Seq2Seq(seqcore.LSTM(2, 4), target_vocab_size=5, embedding_size=3, start_token=2, stop_token=3),
]


def _sample_batch(model, rng):
    if model.uses_tokens:
        x = rng.integers(0, 6, size=(2, 4))
    else:
        x = rng.standard_normal((2, 4, 2)).astype(np.float32)
    return x if model.batch_first else np.swapaxes(x, 0, 1).copy()


def _outputs(model, x):
    if isinstance(model, seqcore.Seq2Seq):
        return np.concatenate(model.decode(x, max_length=4))
    return model.predict(x)


@pytest.mark.parametrize("make", MODEL_VARIETY, ids=["tagger", "classifier", "language_model", "seq2seq"])
def test_model_copies_and_pickles_are_independent_models(make, rng):
    """copy.copy, copy.deepcopy and pickle give a new model: same class, configuration, weights
    and batch_first (and training state: see test_optim); training or closing one leaves the
    other alone."""
    import copy
    import pickle

    model = make()
    model.learning_rate = 0.125
    x = _sample_batch(model, rng)
    expected = _outputs(model, x)
    for clone in (copy.copy(model), copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert type(clone) is type(model) and clone.batch_first == model.batch_first
        assert clone.config == model.config and clone.learning_rate == pytest.approx(0.125)
        assert clone._handle is not model._handle
        assert np.array_equal(_outputs(clone, x), expected)
        clone.load_state_dict({k: np.zeros_like(v) for k, v in clone.state_dict().items()})
        clone.close()
        assert not model.closed and np.array_equal(_outputs(model, x), expected)
    model.close()
    with pytest.raises(errors.ClosedError, match="this model is closed"):
        pickle.dumps(model)


def test_a_model_copy_keeps_a_subclass(rng):
    import copy

    class Tagger(seqcore.SequenceTagger):
        pass

    model = Tagger(seqcore.GRU(2, 3), output_size=2)
    assert type(copy.deepcopy(model)) is Tagger
