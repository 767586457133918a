"""Thread safety as documented: calls on different models in parallel, calls on one model
serialised, close() waiting for a call in progress, error messages kept per thread."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import seqcore
from seqcore import errors

from conftest import assert_close


def test_parallel_predictions_equal_serial_ones(rng):
    models = [seqcore.SequenceTagger(seqcore.LSTM(3, 16, seed=i), output_size=4) for i in range(4)]
    xs = [rng.standard_normal((8, 20, 3)).astype(np.float32) for _ in range(4)]
    serial = [m.predict(x) for m, x in zip(models, xs)]
    with ThreadPoolExecutor(8) as pool:
        # Every model from two threads at once, several times.
        jobs = [pool.submit(models[i % 4].predict, xs[i % 4]) for i in range(32)]
        results = [j.result() for j in jobs]
    for i, r in enumerate(results):
        assert_close(r, serial[i % 4], 0, 0, f"job {i}")


def test_training_while_other_threads_predict(rng):
    model = seqcore.SequenceClassifier(seqcore.GRU(2, 8), output_size=2, learning_rate=0.01)
    x = rng.standard_normal((64, 10, 2)).astype(np.float32)
    y = (x[:, :, 0].sum(1) > 0).astype(np.int64)
    stop = threading.Event()
    seen = []

    def reader() -> None:
        while not stop.is_set():
            p = model.predict(x[:4])
            assert p.shape == (4, 2) and np.all(np.isfinite(p))
            seen.append(1)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        history = model.fit(x, y, epochs=5, batch_size=16, verbose=0)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert history.epochs == 5 and seen


def test_close_waits_for_a_call_in_progress(rng):
    model = seqcore.SequenceTagger(seqcore.LSTM(4, 64, num_layers=2), output_size=3)
    x = rng.standard_normal((32, 200, 4)).astype(np.float32)
    y = rng.integers(0, 3, size=(32, 200))
    started = threading.Event()
    result = {}

    def train() -> None:
        started.set()
        result["history"] = model.fit(x, y, epochs=3, batch_size=8, verbose=0)

    t = threading.Thread(target=train)
    t.start()
    started.wait()
    # Close only once fit holds the model (its lock is taken by the other thread): a fixed sleep
    # let a loaded machine close first and fit fail with ClosedError.
    lock = model._handle._lock
    while t.is_alive() and lock.acquire(blocking=False):
        lock.release()
        time.sleep(0.001)
    model.close()  # blocks until fit returns, then frees
    t.join()
    assert result["history"].epochs == 3
    with pytest.raises(errors.ClosedError):
        model.predict(x[:1])


def test_error_messages_are_per_thread():
    model = seqcore.SequenceTagger(seqcore.GRU(2, 3), output_size=2, vocab_size=5)
    barrier = threading.Barrier(4)
    messages = {}

    def fail(i: int) -> None:
        barrier.wait()
        for _ in range(50):
            try:
                model.predict(np.array([[1, 5 + i]]))
            except errors.InvalidArgument as error:
                messages[i] = str(error)

    threads = [threading.Thread(target=fail, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(4):
        assert f"got {5 + i}" in messages[i], messages[i]


def _pause_inside(monkeypatch, owner, name, target):
    """Makes ``owner.name`` (a function on a class) pause on its first call on ``target``'s thread
    until released: returns (inside, release) events."""
    original = owner.__dict__[name]
    func = original.__func__ if isinstance(original, staticmethod) else original
    inside, release = threading.Event(), threading.Event()

    def paused(*args, **kwargs):
        result = func(*args, **kwargs)
        if threading.current_thread() is target[0] and not inside.is_set():
            inside.set()
            assert release.wait(10)
        return result

    monkeypatch.setattr(owner, name, staticmethod(paused) if isinstance(original, staticmethod) else paused)
    return inside, release


def _run(results, key, func):
    try:
        results[key] = func()
    except Exception as error:  # reported by the assertions of the test
        results[key] = error


def test_load_state_dict_is_one_call_for_other_threads(rng, monkeypatch):
    """A predict or state_dict on another thread sees the weights before a load_state_dict or
    after it, never some parameters of each: the model's lock is held for the whole call."""
    from seqcore._model import ModelHandle

    model = seqcore.SequenceTagger(seqcore.LSTM(2, 8, num_layers=2), output_size=3, output="regression")
    x = rng.standard_normal((2, 5, 2)).astype(np.float32)
    old = model.state_dict()
    new = {k: (v * 0.5 + 0.1).astype(np.float32) for k, v in old.items()}
    model.load_state_dict(new)
    expected_new = model.predict(x)
    model.load_state_dict(old)
    for what, reader in (("predict", lambda: model.predict(x)), ("state_dict", model.state_dict)):
        model.load_state_dict(old)
        target = [None]
        with monkeypatch.context() as patch:
            inside, release = _pause_inside(patch, ModelHandle, "set_parameter", target)
            results = {}
            loader = threading.Thread(target=_run, args=(results, "load", lambda: model.load_state_dict(new)))
            target[0] = loader
            loader.start()
            assert inside.wait(10), "load_state_dict wrote its first parameter"
            other = threading.Thread(target=_run, args=(results, "read", reader))
            other.start()
            other.join(0.3)
            assert other.is_alive(), f"{what} ran in the middle of a load_state_dict"
            release.set()
            loader.join()
            other.join()
        assert results["load"] is None
        if what == "predict":
            assert np.array_equal(results["read"], expected_new)
        else:
            assert all(np.array_equal(results["read"][k], new[k]) for k in new)


def test_layer_calls_are_serialised(rng, monkeypatch):
    """A forward holds the layer's lock: a load_state_dict plus forward on another thread waits
    for it (they used to close the sub-models under it: ClosedError), and so does close()."""
    layer = seqcore.LSTM(2, 8, num_layers=2)
    x = rng.standard_normal((5, 2, 2)).astype(np.float32)
    old = layer.state_dict()
    new = {k: (v * 0.5).astype(np.float32) for k, v in old.items()}
    layer.load_state_dict(new)
    out_new = layer(x)[0]
    layer.load_state_dict(old)
    out_old = layer(x)[0]
    target = [None]
    inside, release = _pause_inside(monkeypatch, seqcore.RecurrentLayer, "_run_direction", target)
    results = {}
    forward = threading.Thread(target=_run, args=(results, "forward", lambda: layer(x)[0]))
    target[0] = forward
    forward.start()
    assert inside.wait(10)

    def load_and_run():
        layer.load_state_dict(new)
        return layer(x)[0]

    other = threading.Thread(target=_run, args=(results, "other", load_and_run))
    other.start()
    closer = threading.Thread(target=_run, args=(results, "close", layer.close))
    other.join(0.3)
    assert other.is_alive(), "load_state_dict ran in the middle of a forward"
    release.set()
    forward.join()
    other.join()
    assert np.array_equal(results["forward"], out_old), results["forward"]
    assert np.array_equal(results["other"], out_new), results["other"]
    # close() during a forward waits for it.
    inside.clear()
    release.clear()
    forward = threading.Thread(target=_run, args=(results, "forward", lambda: layer(x)[0]))
    target[0] = forward
    forward.start()
    assert inside.wait(10)
    closer.start()
    closer.join(0.3)
    assert closer.is_alive(), "close() did not wait for the forward in progress"
    release.set()
    forward.join()
    closer.join()
    assert np.array_equal(results["forward"], out_new), results["forward"]
    assert layer.closed
