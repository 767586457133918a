"""``model.input_gradient``: ∂L/∂x against central differences of the loss, in both layouts, and
for token inputs against the embedding table's gradient (no torch needed; test_torch.py compares
with autograd when torch is installed)."""

from __future__ import annotations

import numpy as np
import pytest

import seqcore
from seqcore import errors

from conftest import assert_close


def regressor(batch_first=True):
    return seqcore.SequenceTagger(seqcore.LSTM(2, 3, seed=4), 2, output="regression", batch_first=batch_first)


def batch():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 4, 2)).astype(np.float32)  # [B, T, I]
    y = rng.standard_normal((3, 4, 2)).astype(np.float32)
    return x, y, [4, 2, 3]


def test_matches_central_differences_and_is_zero_past_each_length():
    model = regressor()
    x, y, lengths = batch()
    grad = model.input_gradient(x, y, lengths)
    assert grad.shape == x.shape and grad.dtype == np.float32
    eps = 1e-2
    numeric = np.zeros_like(grad)
    for index in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[index] += eps
        down[index] -= eps
        numeric[index] = (model.evaluate(up, y, lengths) - model.evaluate(down, y, lengths)) / (2 * eps)
    assert_close(grad, numeric, 2e-2, 2e-3, "dL/dx")
    assert np.all(grad[1, 2:] == 0) and np.all(grad[2, 3:] == 0)
    assert np.abs(grad[0]).max() > 1e-3


def test_time_major_is_the_same_gradient_transposed():
    x, y, lengths = batch()
    first = regressor().input_gradient(x, y, lengths)
    major = regressor(batch_first=False).input_gradient(x.transpose(1, 0, 2), y.transpose(1, 0, 2), lengths)
    assert np.array_equal(major, first.transpose(1, 0, 2))


def test_token_gradients_sum_to_the_embedding_gradient():
    model = seqcore.LanguageModel(seqcore.GRU(3, 4, seed=2), vocab_size=5)
    tokens = np.array([[0, 1, 2, 3, 4], [4, 4, 1, 0, 2]])
    grad = model.input_gradient(tokens)  # inputs tokens[:, :-1], targets tokens[:, 1:]
    assert grad.shape == (2, 4, 3)
    table = model.gradients()["embedding.weight"]
    sums = np.zeros_like(table)
    np.add.at(sums, tokens[:, :-1].reshape(-1), grad.reshape(-1, 3))
    assert_close(sums, table, 1e-5, 1e-7, "embedding rows")


def test_bad_targets_are_named():
    x, y, lengths = batch()
    with pytest.raises(errors.InvalidArgument, match="y"):
        regressor().input_gradient(x, y[:, :, :1], lengths)
