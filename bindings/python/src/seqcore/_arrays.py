"""numpy in: conversion and validation of inputs, targets and lengths before they reach C.

Rules (documented in the package docstring):

- float32 C-contiguous arrays are passed to C as they are, without a copy. Any other real numeric
  array (float64, float16, integers, a non-contiguous view, a torch tensor, nested lists) is
  converted once, to a new float32 C-contiguous array. Booleans, complex numbers, strings and
  objects are refused with :class:`InvalidType`.
- Token ids must be integers (any integer dtype; int32 C-contiguous passes without a copy). Float
  token ids are refused rather than truncated.
- Lengths: ``None`` (every sequence has T steps), a list or a 1-D integer array of B values, each
  in 1..T.
- A Python list (or tuple) of sequences is a ragged batch: sequence i is ``x[i]`` ([T_i, I]
  features or [T_i] token ids), padded with zeros to the longest; the lengths come from the
  sequences unless given.

Shape legend: B sequences, T steps, I features per step, K outputs per step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from . import _capi
from .errors import InvalidArgument, InvalidType

__all__ = ["check_int", "check_float", "c_string", "Inputs", "features_array", "tokens_array", "prepare_inputs",
           "prepare_lengths", "is_ragged"]

_INT32_MAX = np.iinfo(np.int32).max


def check_int(value: Any, name: str, minimum: Optional[int] = None) -> int:
    """An integer argument (bools and floats refused), at least ``minimum`` when given."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidType(f"{name}: expected an integer, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        raise InvalidArgument(f"{name}: expected an integer >= {minimum}, got {value}")
    return int(value)


def check_float(value: Any, name: str) -> float:
    """A real-number argument (the C library checks its range)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidType(f"{name}: expected a number, got {type(value).__name__} {value!r}")
    try:
        return float(value)
    except OverflowError:  # an int past float's range
        raise InvalidArgument(f"{name}: expected a number within float range, got {value}") from None


def c_string(value: Any, name: str) -> bytes:
    """A str as the UTF-8 bytes of a NUL-terminated C string. A NUL inside would end the string
    early in C (``"sgd\\0junk"`` read as ``"sgd"``), so it is refused, as is text UTF-8 cannot
    encode (a lone surrogate)."""
    if not isinstance(value, str):
        raise InvalidType(f"{name}: expected a string, got {type(value).__name__} {value!r}")
    if "\0" in value:
        raise InvalidArgument(f"{name}: expected a string without NUL bytes (C would cut it at the first), "
                              f"got {value!r}")
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidArgument(f"{name}: expected text that UTF-8 can encode, got {value!r} ({error.reason})") from None


def _to_numpy(x: Any) -> Any:
    """A torch tensor (or anything with ``.detach().cpu().numpy()``) as numpy; others unchanged."""
    if not isinstance(x, np.ndarray) and hasattr(x, "detach") and hasattr(x, "cpu"):
        return x.detach().cpu().numpy()
    return x


def _as_array(x: Any, name: str) -> np.ndarray:
    x = _to_numpy(x)
    if isinstance(x, np.ndarray):
        return x
    try:
        return np.asarray(x)
    except (ValueError, TypeError) as error:
        raise InvalidType(f"{name}: cannot be read as an array: {error}") from None


def features_array(x: Any, name: str = "x") -> np.ndarray:
    """``x`` as a float32 C-contiguous array: ``x`` itself when it already is one, else one copy."""
    a = _as_array(x, name)
    if a.dtype == np.float32 and a.flags.c_contiguous:
        return a
    if a.dtype.kind not in "fiu":
        raise InvalidType(f"{name}: expected real numbers (a float array), got an array of dtype {a.dtype}")
    if a.dtype.kind != "f" or a.dtype.itemsize <= 4:
        return np.asarray(a, dtype=np.float32, order="C")  # (ascontiguousarray would make 0-d arrays 1-d)
    # A finite float64 beyond float32's range would become infinity, and C would then report an
    # infinite value the caller never passed: refused here, naming the real cause, without
    # numpy's overflow warning.
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.asarray(a, dtype=np.float32, order="C")
    if not np.all(np.isfinite(out)):
        finite = np.isfinite(a)
        if np.any(np.isinf(out) & finite):
            largest = float(np.max(np.abs(a[finite])))
            raise InvalidArgument(f"{name}: values out of float32 range (largest magnitude {largest:.3g}; "
                                  f"float32 holds up to {float(np.finfo(np.float32).max):.3g})")
    return out


def tokens_array(x: Any, name: str = "tokens") -> np.ndarray:
    """Integer token ids as an int32 C-contiguous array (``x`` itself when it already is one)."""
    a = _as_array(x, name)
    if a.dtype == np.int32 and a.flags.c_contiguous:
        return a
    if a.dtype.kind not in "iu":
        if a.size == 0 and a.dtype.kind == "f":  # np.asarray([]) is float64
            return np.zeros(a.shape, dtype=np.int32)
        raise InvalidType(f"{name}: expected integer token ids, got an array of dtype {a.dtype}")
    if a.size and (a.min() < -_INT32_MAX - 1 or a.max() > _INT32_MAX):
        raise InvalidArgument(f"{name}: token ids must fit in 32 bits, got values in [{a.min()}, {a.max()}]")
    return np.asarray(a, dtype=np.int32, order="C")


def is_ragged(x: Any) -> bool:
    """A list or tuple of sequences (see the module docstring)."""
    return isinstance(x, (list, tuple))


def pad_sequences(
    sequences: Sequence[Any], *, tokens: bool, width: Optional[int], batch_first: bool, name: str
) -> Tuple[np.ndarray, np.ndarray]:
    """Pads a list of sequences: token ids [T_i] or values [T_i, width] (or [T_i] when width is 1).

    Returns the padded array, [B, T(, width)] when ``batch_first`` else [T, B(, width)], and the
    lengths [B] (int64).
    """
    if len(sequences) == 0:
        raise InvalidArgument(f"{name}: expected at least one sequence, got an empty list")
    arrays: List[np.ndarray] = []
    for i, s in enumerate(sequences):
        label = f"{name}[{i}]"
        a = tokens_array(s, label) if tokens else features_array(s, label)
        if tokens:
            if a.ndim != 1:
                raise InvalidArgument(f"{label}: expected a sequence of token ids [T_i], got shape {a.shape}")
        else:
            if a.ndim == 1 and width == 1:
                a = a.reshape(-1, 1)
            if a.ndim != 2 or (width is not None and a.shape[1] != width):
                want = f"[T_i, {width}]" if width is not None else "[T_i, F]"
                raise InvalidArgument(f"{label}: expected a sequence of shape {want}, got shape {a.shape}")
        if a.shape[0] == 0:
            raise InvalidArgument(f"{label}: a sequence needs at least one step, got an empty one")
        arrays.append(a)
    if not tokens and width is None:
        widths = {a.shape[1] for a in arrays}
        if len(widths) != 1:
            raise InvalidArgument(f"{name}: every sequence needs the same number of features, got {sorted(widths)}")
    lengths = np.array([a.shape[0] for a in arrays], dtype=np.int64)
    batch, steps = len(arrays), int(lengths.max())
    tail = () if tokens else (arrays[0].shape[1],)
    dtype = np.int32 if tokens else np.float32
    padded = np.zeros((batch, steps) + tail if batch_first else (steps, batch) + tail, dtype=dtype)
    for i, a in enumerate(arrays):
        if batch_first:
            padded[i, : a.shape[0]] = a
        else:
            padded[: a.shape[0], i] = a
    return padded, lengths


def prepare_lengths(lengths: Any, batch: int, steps: int, name: str = "lengths") -> Optional[np.ndarray]:
    """Lengths as a C-contiguous int64 array of B values in 1..T, or None."""
    if lengths is None:
        return None
    a = _as_array(lengths, name)
    if a.dtype.kind not in "iu":
        if a.dtype.kind == "f" and a.size and np.all(np.isfinite(a)) and np.all(a == np.round(a)):
            a = a.astype(np.int64)
        else:
            raise InvalidType(f"{name}: expected integer lengths, got an array of dtype {a.dtype}")
    if a.ndim != 1 or a.shape[0] != batch:
        raise InvalidArgument(f"{name}: expected {batch} lengths (one per sequence), got shape {a.shape}")
    if a.size and (a.min() < 1 or a.max() > steps):
        bad = int(np.argmax((a < 1) | (a > steps)))
        raise InvalidArgument(f"{name}: expected every length in 1...{steps} (T), got {int(a[bad])} at index {bad}")
    return np.ascontiguousarray(a, dtype=np.int64)


@dataclass
class Inputs:
    """A batch ready for C: features [T, B, I] / [B, T, I] or tokens [T, B] / [B, T] (the other
    None), its sizes, lengths and layout flag."""

    features: Optional[np.ndarray]
    tokens: Optional[np.ndarray]
    steps: int
    batch: int
    input_size: int
    lengths: Optional[np.ndarray]
    batch_first: bool

    @property
    def layout(self) -> int:
        return _capi.SEQ_LAYOUT_BATCH_FIRST if self.batch_first else _capi.SEQ_LAYOUT_TIME_MAJOR

    @property
    def data(self) -> np.ndarray:
        return self.features if self.features is not None else self.tokens  # type: ignore[return-value]

    def effective_lengths(self) -> np.ndarray:
        if self.lengths is not None:
            return self.lengths
        return np.full(self.batch, self.steps, dtype=np.int64)


def prepare_inputs(
    x: Any, lengths: Any, *, uses_tokens: bool, input_size: int, batch_first: bool, name: str = "x"
) -> Inputs:
    """Validates and converts a batch of inputs (see the module docstring for the rules).

    Features: [B, T, I] when ``batch_first`` else [T, B, I]; tokens: [B, T] or [T, B]; or a list
    of sequences.
    """
    if is_ragged(x):
        data, ragged_lengths = pad_sequences(
            x, tokens=uses_tokens, width=None if uses_tokens else input_size, batch_first=batch_first, name=name
        )
        if lengths is None:
            lengths = ragged_lengths
    elif uses_tokens:
        data = tokens_array(x, name)
        if data.ndim != 2:
            want = "[B, T]" if batch_first else "[T, B]"
            raise InvalidArgument(f"{name}: expected token ids of shape {want}, got shape {data.shape}")
    else:
        data = features_array(x, name)
        if data.ndim != 3 or data.shape[2] != input_size:
            want = f"[B, T, {input_size}]" if batch_first else f"[T, B, {input_size}]"
            raise InvalidArgument(f"{name}: expected features of shape {want} (I = {input_size}), got shape {data.shape}")
    batch, steps = (data.shape[0], data.shape[1]) if batch_first else (data.shape[1], data.shape[0])
    if batch == 0 or steps == 0:
        raise InvalidArgument(f"{name}: expected at least one sequence of at least one step, got shape {data.shape}")
    return Inputs(
        features=None if uses_tokens else data,
        tokens=data if uses_tokens else None,
        steps=int(steps),
        batch=int(batch),
        input_size=1 if uses_tokens else input_size,
        lengths=prepare_lengths(lengths, int(batch), int(steps)),
        batch_first=batch_first,
    )


def take_batch(inputs: Inputs, index: np.ndarray) -> Inputs:
    """The sequences ``index`` of a batch (a copy), trimmed to their longest length."""
    lengths = inputs.effective_lengths()[index]
    steps = int(lengths.max())
    data = inputs.data
    part = data[index, :steps] if inputs.batch_first else data[:steps, index]
    part = np.ascontiguousarray(part)
    return Inputs(
        features=part if inputs.features is not None else None,
        tokens=part if inputs.tokens is not None else None,
        steps=steps,
        batch=len(index),
        input_size=inputs.input_size,
        lengths=np.ascontiguousarray(lengths, dtype=np.int64),
        batch_first=inputs.batch_first,
    )
