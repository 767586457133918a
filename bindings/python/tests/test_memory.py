"""Objects free their C handles: the resident memory stays flat over 10,000 create/use/free
cycles, whether freed by close(), by a with block or by garbage collection."""

from __future__ import annotations

import gc

import numpy as np
import pytest

import seqcore

from conftest import rss_bytes

CYCLES = 10_000
WARM_UP = 1_000
# Growth allowed after the warm-up: allocator noise, far below a leak of even one small model per
# cycle (an LSTM(4, 8) tagger holds ~2 KiB of weights and gradients, so 10,000 leaked ones would be
# well over 20 MiB with their optimizer state and bookkeeping).
LIMIT = 4 * 2**20

X = np.ones((2, 5, 4), np.float32)
Y = np.zeros((2, 5), np.int64)


def cycle(i: int, how: str, tmp_path) -> None:
    layer = seqcore.LSTM(4, 8, seed=i)
    model = seqcore.SequenceTagger(layer, output_size=3)
    model.predict(X)
    stream = model.stream()
    stream.step(X[0, 0])
    if i % 10 == 0:
        layer(X.transpose(1, 0, 2), lengths=[5, 2])  # the layer is time-major
        model.fit(X, Y, epochs=1, verbose=0)
    if i % 100 == 0:
        model.save(tmp_path / "m.safetensors")
        seqcore.load(tmp_path / "m.safetensors").close()
    if how == "close":
        stream.close()
        model.close()
        layer.close()
    elif how == "with":
        with stream, model, layer:
            pass
    # "gc": dropped here, freed by __del__


@pytest.mark.skipif(rss_bytes() is None, reason="needs /proc/self/statm")
@pytest.mark.parametrize("how", ["close", "gc"])
def test_memory_is_flat_over_create_free_cycles(how, tmp_path):
    for i in range(WARM_UP):
        cycle(i, how, tmp_path)
    gc.collect()
    base = rss_bytes()
    samples = []
    for i in range(CYCLES):
        cycle(i, how, tmp_path)
        if (i + 1) % 2_000 == 0:
            gc.collect()
            samples.append(rss_bytes() - base)
    growth = max(samples)
    assert growth < LIMIT, f"RSS grew by {growth / 2**20:.1f} MiB over {CYCLES} cycles ({how}); samples (MiB): " \
                           f"{[round(s / 2**20, 2) for s in samples]}"


@pytest.mark.skipif(rss_bytes() is None, reason="needs /proc/self/statm")
def test_memory_is_flat_over_failing_calls():
    """Errors (exceptions carrying C messages) leak nothing either."""
    model = seqcore.SequenceTagger(seqcore.GRU(4, 8), output_size=3)
    bad = np.full((2, 5, 4), np.nan, np.float32)

    def fail() -> None:
        try:
            model.predict(bad)
        except seqcore.InvalidArgument:
            pass
        try:
            model.load_state_dict({"nope": np.zeros(3)}, strict=False)
        except seqcore.NotFound:
            pass
        try:
            seqcore.load("/nonexistent/model.safetensors")
        except seqcore.FileError:
            pass

    for _ in range(WARM_UP):
        fail()
    gc.collect()
    base = rss_bytes()
    for _ in range(CYCLES):
        fail()
    gc.collect()
    assert rss_bytes() - base < LIMIT
