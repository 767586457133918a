"""A thin owner of one ``seq_model`` handle: every C call on a model, with numpy in and out.

The friendly classes (layers in :mod:`seqcore.layers`, architectures in :mod:`seqcore.models`) are
built on this; nothing here decides shapes for the user beyond what the C functions define.

Shape legend: B sequences, T steps, I features per step, H hidden units, L layers, D directions,
K outputs per step, V vocabulary.
"""

from __future__ import annotations

import ctypes
import os
import tempfile
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

from . import _capi
from ._arrays import Inputs, _to_numpy, c_string, check_float, features_array
from ._config import Config, config_to_dict
from ._handle import Handle, out_pointer
from .errors import ClosedError, InvalidArgument, InvalidType, NotFound, ResourceLimit

__all__ = ["ModelHandle", "StreamHandle", "Targets"]


@dataclass
class Targets:
    """Targets ready for C: class ids or values (the other None), their time dimension and, for
    seq2seq, their lengths."""

    ids: Optional[np.ndarray]
    values: Optional[np.ndarray]
    steps: int
    lengths: Optional[np.ndarray] = None


# Outputs up to this many floats (4 MiB) are sized by the binding, without a size query.
_SMALL_OUTPUT = 1 << 20


def _empty(shape: Any, dtype: Any, what: str) -> np.ndarray:
    """An output buffer; a size numpy cannot allocate is a ResourceLimit, not a MemoryError."""
    try:
        return np.empty(shape, dtype=dtype)
    except (MemoryError, ValueError) as error:
        raise ResourceLimit(f"{what}: cannot allocate an output of {shape} values: {error}") from None


def _state_pair(func: Any, handle: Any) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Reads a state-shaped pair through a C function of the seq_stream_get_state shape (h, then
    c, each sized by a first call): flat h, and flat c or None for cells without a memory cell."""
    hc, cc = ctypes.c_int64(), ctypes.c_int64()
    func(handle, None, 0, ctypes.byref(hc), None, 0, ctypes.byref(cc))
    hs = _empty(hc.value, np.float32, "output")
    cs = _empty(cc.value, np.float32, "output")
    func(handle, hs, hs.size, None, cs if cs.size else None, cs.size, None)
    return hs, (cs if cc.value > 0 else None)


def _path_bytes(path: Any, name: str = "path") -> bytes:
    try:
        encoded = os.fsencode(os.fspath(path))
    except TypeError:
        raise InvalidType(f"{name}: expected a str or os.PathLike, got {type(path).__name__}") from None
    except UnicodeEncodeError as error:
        raise InvalidArgument(f"{name}: expected a path the file system encoding can encode, got {path!r} "
                              f"({error.reason})") from None
    # C would end the path at the NUL: "model.st\0.new" would write "model.st".
    if b"\0" in encoded:
        raise InvalidArgument(f"{name}: expected a path without NUL bytes, got {os.fspath(path)!r}")
    return encoded


class ModelHandle(Handle):
    """Owns a ``seq_model``. ``what`` names the owner in errors ("this model is closed"; a layer's
    weights live in a model too, but its user knows it as a layer)."""

    def __init__(self, pointer: Any, what: str = "model") -> None:
        super().__init__(pointer, _capi.seq_model_free)
        self._what = what
        self._names: Optional[List[str]] = None
        self._shapes: Dict[str, Tuple[int, ...]] = {}

    def _describe(self) -> str:
        return f"this {self._what}"

    @classmethod
    def create(cls, options: Mapping[str, Any], what: str = "model") -> "ModelHandle":
        with Config(options) as config, config._use() as c:
            pointer = out_pointer(_capi.seq_model)
            _capi.seq_model_create(c, ctypes.byref(pointer))
        return cls(pointer, what)

    @classmethod
    def load(cls, path: Any) -> "ModelHandle":
        pointer = out_pointer(_capi.seq_model)
        _capi.seq_model_load(_path_bytes(path), ctypes.byref(pointer))
        return cls(pointer)

    def save(self, path: Any, checkpoint: bool = False) -> None:
        encoded = _path_bytes(path)
        with self._use() as h:
            (_capi.seq_model_save_checkpoint if checkpoint else _capi.seq_model_save)(h, encoded)

    def to_bytes(self) -> bytes:
        """The model as a checkpoint file (configuration, weights and training state, as
        ``save(checkpoint=True)`` writes it). The C API has no other way to give back the
        configuration exactly as set: ``seq_model_get_config`` adds every default, and some
        defaults may not be set again (``merge`` of a one-direction stack)."""
        with tempfile.TemporaryDirectory(prefix="seqcore-") as directory:
            path = os.path.join(directory, "model.safetensors")
            self.save(path, checkpoint=True)
            with open(path, "rb") as f:
                return f.read()

    @classmethod
    def from_bytes(cls, data: bytes) -> "ModelHandle":
        """A model from the bytes of a model or checkpoint file (see :meth:`to_bytes`)."""
        if not isinstance(data, (bytes, bytearray)):
            raise InvalidType(f"data: expected the bytes of a model file, got {type(data).__name__}")
        with tempfile.TemporaryDirectory(prefix="seqcore-") as directory:
            path = os.path.join(directory, "model.safetensors")
            with open(path, "wb") as f:
                f.write(data)
            return cls.load(path)

    def config(self) -> Dict[str, Any]:
        with self._use() as h:
            pointer = out_pointer(_capi.seq_config)
            _capi.seq_model_get_config(h, ctypes.byref(pointer))
        return config_to_dict(pointer)

    # --- Parameters ------------------------------------------------------------------------

    def parameter_names(self) -> List[str]:
        """The parameter names in registration order (read once: a model's names never change)."""
        if self._names is None:
            with self._use() as h:
                count = ctypes.c_int64()
                _capi.seq_model_parameter_count(h, ctypes.byref(count))
                names = []
                buffer = ctypes.create_string_buffer(256)
                for i in range(count.value):
                    length = ctypes.c_int64()
                    _capi.seq_model_parameter_name(h, i, None, 0, ctypes.byref(length))
                    if length.value + 1 > len(buffer):
                        buffer = ctypes.create_string_buffer(length.value + 1)
                    _capi.seq_model_parameter_name(h, i, buffer, len(buffer), None)
                    names.append(buffer.value.decode())
            self._names = names
        return list(self._names)

    def parameter_shape(self, name: str) -> Tuple[int, ...]:
        """The shape of a parameter (NotFound for an unknown name; cached per name)."""
        shape = self._shapes.get(name)
        if shape is None:
            with self._use() as h:
                rank = ctypes.c_int64()
                dims = np.zeros(8, dtype=np.int64)
                key = c_string(name, "name")
                _capi.seq_model_parameter_shape(h, key, None, 0, ctypes.byref(rank), None)
                if rank.value > dims.size:
                    dims = np.zeros(rank.value, dtype=np.int64)
                _capi.seq_model_parameter_shape(h, key, dims, dims.size, None, None)
            shape = self._shapes[name] = tuple(int(d) for d in dims[: rank.value])
        return shape

    def get_parameter(self, name: str, gradient: bool = False) -> np.ndarray:
        shape = self.parameter_shape(name)
        out = _empty(shape, np.float32, "output")
        read = _capi.seq_model_get_gradient if gradient else _capi.seq_model_get_parameter
        with self._use() as h:
            read(h, c_string(name, "name"), out, out.size, None)
        return out

    def set_parameter(self, name: str, values: np.ndarray) -> None:
        with self._use() as h:
            _capi.seq_model_set_parameter(h, c_string(name, "name"), values, values.size)

    def state_dict(self, prefix: str = "", strip: bool = True,
                   gradients: bool = False) -> "OrderedDict[str, np.ndarray]":
        """One snapshot: the lock is held over every parameter, so a concurrent load_state_dict or
        training step is seen whole or not at all, never half."""
        out: "OrderedDict[str, np.ndarray]" = OrderedDict()
        with self._use():
            for name in self.parameter_names():
                if name.startswith(prefix):
                    out[name[len(prefix) :] if strip else name] = self.get_parameter(name, gradients)
        return out

    def load_state_dict(self, state: Mapping[str, Any], prefix: str = "", strict: bool = True) -> None:
        """Checks every entry (known name, exact shape, finite values) before writing any, so a
        failing call leaves the model unchanged; the lock is held for the whole call, so no other
        call on the model sees some parameters written and others not."""
        with self._use():
            self._load_state_dict(state, prefix, strict)

    def _load_state_dict(self, state: Mapping[str, Any], prefix: str, strict: bool) -> None:
        if not isinstance(state, Mapping):
            raise InvalidType(f"state_dict: expected a mapping of names to arrays, got {type(state).__name__}")
        names = [n for n in self.parameter_names() if n.startswith(prefix)]
        known = {n[len(prefix) :] for n in names}
        unknown = [k for k in state if k not in known]
        if unknown:
            raise NotFound(
                f"state_dict: unknown parameter name(s) {unknown}; this model has {sorted(known)}",
                status="SEQ_ERR_NOT_FOUND",
            )
        missing = [k for k in sorted(known) if k not in state]
        if strict and missing:
            raise NotFound(f"state_dict: missing parameter(s) {missing} (pass strict=False to load a subset)")
        ready: List[Tuple[str, np.ndarray]] = []
        for key, value in state.items():
            if not isinstance(key, str):
                raise InvalidType(f"state_dict: parameter names must be str, got {key!r}")
            array = features_array(_to_numpy(value), f"state_dict[{key!r}]")
            shape = self.parameter_shape(prefix + key)
            if array.shape != shape:
                raise InvalidArgument(f"state_dict[{key!r}]: expected shape {list(shape)}, got {list(array.shape)}")
            if not np.all(np.isfinite(array)):
                raise InvalidArgument(f"state_dict[{key!r}]: expected finite values, got NaN or infinity")
            ready.append((prefix + key, array))
        for name, array in ready:
            self.set_parameter(name, array)

    # --- Inference -------------------------------------------------------------------------

    def predict(self, inputs: Inputs, count: Optional[int] = None) -> np.ndarray:
        """Raw C output as a flat float32 array (the caller shapes it). ``count``: the floats the
        output needs, when the caller knows it (T·B·K, or B·K for a classifier; seqcore.h). It
        saves the size query of a small call, where that query is a large share of the time; for
        a large output (or without ``count``) the library is asked first, and refuses sizes past
        its limits before anything is allocated."""
        with self._use() as h:
            args = (h, inputs.features, inputs.tokens, inputs.steps, inputs.batch, inputs.input_size,
                    inputs.lengths, inputs.layout)
            if count is None or count > _SMALL_OUTPUT:
                needed = ctypes.c_int64()
                _capi.seq_model_predict(*args, None, 0, ctypes.byref(needed))
                count = needed.value
            out = _empty(count, np.float32, "output")
            _capi.seq_model_predict(*args, out, out.size, None)
        return out

    def generate(self, prefix: np.ndarray, count: int, temperature: float, top_k: int, seed: int,
                 stop_token: int) -> np.ndarray:
        out = _empty(max(count, 1), np.int32, "count")
        generated = ctypes.c_int64()
        with self._use() as h:
            _capi.seq_model_generate(h, prefix, prefix.size, count, temperature, top_k, seed, stop_token, out,
                                     out.size, ctypes.byref(generated))
        return out[: generated.value].copy()

    def decode(self, inputs: Inputs, max_length: int, temperature: float, top_k: int,
               seed: int) -> Tuple[np.ndarray, np.ndarray]:
        out = _empty(max_length * inputs.batch, np.int32, "max_length")
        lengths = np.zeros(inputs.batch, dtype=np.int64)
        with self._use() as h:
            _capi.seq_model_decode(h, inputs.features, inputs.tokens, inputs.steps, inputs.batch, inputs.input_size,
                                   inputs.lengths, inputs.layout, max_length, temperature, top_k, seed, out,
                                   out.size, lengths)
        return out, lengths

    # --- Training --------------------------------------------------------------------------

    def _batch_call(self, func: Any, inputs: Inputs, targets: Targets) -> float:
        loss = ctypes.c_double()
        with self._use() as h:
            func(h, inputs.features, inputs.tokens, inputs.steps, inputs.batch, inputs.input_size, inputs.lengths,
                 inputs.layout, targets.ids, targets.values, targets.steps, targets.lengths, ctypes.byref(loss))
        return float(loss.value)

    def train_step(self, inputs: Inputs, targets: Targets) -> float:
        return self._batch_call(_capi.seq_model_train_step, inputs, targets)

    def evaluate(self, inputs: Inputs, targets: Targets) -> float:
        return self._batch_call(_capi.seq_model_evaluate, inputs, targets)

    def compute_gradients(self, inputs: Inputs, targets: Targets) -> float:
        return self._batch_call(_capi.seq_model_compute_gradients, inputs, targets)

    def input_gradient(self, inputs: Inputs, targets: Targets) -> np.ndarray:
        """Gradients of one batch, then dL/dx of that batch (flat, in its layout), under one lock."""
        count = ctypes.c_int64()
        with self._use() as h:
            _capi.seq_model_compute_gradients(h, inputs.features, inputs.tokens, inputs.steps, inputs.batch,
                                              inputs.input_size, inputs.lengths, inputs.layout, targets.ids,
                                              targets.values, targets.steps, targets.lengths, None)
            _capi.seq_model_input_gradient(h, None, 0, ctypes.byref(count))
            out = _empty((count.value,), np.float32, "output")
            _capi.seq_model_input_gradient(h, out, out.size, None)
        return out

    def zero_gradients(self) -> None:
        with self._use() as h:
            _capi.seq_model_zero_gradients(h)

    def apply_gradients(self) -> None:
        with self._use() as h:
            _capi.seq_model_apply_gradients(h)

    def forward(self, inputs: Inputs, h0: Optional[np.ndarray], c0: Optional[np.ndarray],
                training: bool, count: int) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
        """The logits (flat, in the inputs' layout) and the final state, flat h [L·D·B·Hout] and c
        (None without a memory cell), under one lock: no other forward comes between. ``count``
        as :meth:`predict`'s (here always known to the caller)."""
        with self._use() as h:
            args = (h, inputs.features, inputs.tokens, inputs.steps, inputs.batch, inputs.input_size,
                    inputs.lengths, inputs.layout, h0, 0 if h0 is None else h0.size, c0,
                    0 if c0 is None else c0.size, int(training))
            if count > _SMALL_OUTPUT:
                needed = ctypes.c_int64()
                _capi.seq_model_forward(*args, None, 0, ctypes.byref(needed))
                count = needed.value
            out = _empty(count, np.float32, "output")
            _capi.seq_model_forward(*args, out, out.size, None)
            h_n, c_n = _state_pair(_capi.seq_model_final_state, h)
        return out, h_n, c_n

    def backward(self, gradient: np.ndarray) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
        """Backpropagates dL/dz of the last training forward; returns dL/dx (flat, in that call's
        layout), dL/dh0 and dL/dc0 (flat; None without a memory cell), under one lock."""
        with self._use() as h:
            _capi.seq_model_backward(h, gradient, gradient.size)
            count = ctypes.c_int64()
            _capi.seq_model_input_gradient(h, None, 0, ctypes.byref(count))
            dx = _empty((count.value,), np.float32, "output")
            _capi.seq_model_input_gradient(h, dx, dx.size, None)
            dh, dc = _state_pair(_capi.seq_model_state_gradient, h)
        return dx, dh, dc

    def gradient_norms(self) -> np.ndarray:
        """||dL/da<t>|| of the last gradient computation: [L·D, T]."""
        with self._use() as h:
            rows, steps = ctypes.c_int64(), ctypes.c_int64()
            _capi.seq_model_gradient_norms(h, None, 0, ctypes.byref(rows), ctypes.byref(steps))
            out = _empty((rows.value, steps.value), np.float32, "output")
            _capi.seq_model_gradient_norms(h, out, out.size, None, None)
        return out

    @property
    def learning_rate(self) -> float:
        value = ctypes.c_double()
        with self._use() as h:
            _capi.seq_model_get_learning_rate(h, ctypes.byref(value))
        return float(value.value)

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        value = check_float(value, "learning_rate")
        with self._use() as h:
            _capi.seq_model_set_learning_rate(h, value)

    def set_onnx_tensor(self, stack: str, layer: int, tensor: str, data: np.ndarray) -> None:
        with self._use() as h:
            _capi.seq_model_set_onnx_tensor(h, c_string(stack, "stack"), layer, c_string(tensor, "tensor"), data,
                                            data.size)

    def stream(self, batch: int, *, uses_tokens: bool, input_size: int) -> "StreamHandle":
        """A stream of ``batch`` sequences; ``input_size`` is the model's (1 for token ids)."""
        with self._use() as h:
            pointer = out_pointer(_capi.seq_stream)
            _capi.seq_stream_create(h, batch, ctypes.byref(pointer))
        return StreamHandle(pointer, uses_tokens=uses_tokens, batch=batch, input_size=input_size)


class StreamHandle(Handle):
    """Owns a ``seq_stream``: chunks through ``feed``, single steps through ``step``, which reuses
    one input and one output buffer and the ctypes arguments made for them when the stream was made
    (a step is called often, on little data: the binding's own cost is most of its time)."""

    def __init__(self, pointer: Any, *, uses_tokens: bool, batch: int, input_size: int) -> None:
        super().__init__(pointer, _capi.seq_stream_free)
        # One step's input, [B] token ids or [B, I] features, time-major; the library answers the
        # size query on it (zeros are valid input), which leaves the state alone.
        self._x = np.zeros((batch,) if uses_tokens else (batch, input_size), np.int32 if uses_tokens else np.float32)
        count = ctypes.c_int64()
        features, tokens = (None, self._x) if uses_tokens else (self._x, None)
        try:
            with self._use() as h:
                _capi.seq_stream_feed(h, features, tokens, 1, batch, input_size, _capi.SEQ_LAYOUT_TIME_MAJOR, None, 0,
                                      ctypes.byref(count))
        except BaseException:
            self.close()
            raise
        # The output values of one step, B·K: from the library, once per stream.
        self._per_step = int(count.value)
        self._y = np.empty((batch, self._per_step // batch), np.float32)
        x_address = ctypes.c_void_p(self._x.ctypes.data)
        self._step_args = (ctypes.cast(pointer, ctypes.c_void_p), None if uses_tokens else x_address,
                           x_address if uses_tokens else None, ctypes.c_int64(1), ctypes.c_int64(batch),
                           ctypes.c_int64(input_size), ctypes.c_int32(_capi.SEQ_LAYOUT_TIME_MAJOR),
                           ctypes.c_void_p(self._y.ctypes.data), ctypes.c_int64(self._y.size), None)
        self._feed_step = _capi.unchecked("seq_stream_feed")

    def _describe(self) -> str:
        return "this stream"

    def step(self, x: Any) -> np.ndarray:
        """Feeds one step and returns its output [B, K] (a new array). ``x`` is checked by the
        caller: an array of shape [B] (token ids, within int32) or [B, I] (features) whose dtype
        numpy casts exactly as ``features_array`` / ``tokens_array`` would, or, for one sequence
        of tokens, an int within int32. The library checks the values (finite features, token ids
        in the vocabulary) and leaves the state alone when it refuses them."""
        with self._lock:
            if self._pointer is None:
                raise ClosedError(f"{self._describe()} is closed")
            self._x[...] = x
            status = self._feed_step(*self._step_args)
            if status:
                _capi.raise_for_status(status)
            return self._y.copy()

    def feed(self, features: Optional[np.ndarray], tokens: Optional[np.ndarray], steps: int, batch: int,
             input_size: int, layout: int) -> np.ndarray:
        """Feeds ``steps`` steps: steps · B · K floats out, sized from the size query made when the
        stream was (asked again only for a large output, as ``ModelHandle.predict`` does)."""
        with self._use() as h:
            count = steps * self._per_step
            if count > _SMALL_OUTPUT:
                needed = ctypes.c_int64()
                _capi.seq_stream_feed(h, features, tokens, steps, batch, input_size, layout, None, 0, ctypes.byref(needed))
                count = needed.value
            out = _empty(count, np.float32, "output")
            _capi.seq_stream_feed(h, features, tokens, steps, batch, input_size, layout, out, out.size, None)
        return out

    def feed_hidden(self, features: Optional[np.ndarray], tokens: Optional[np.ndarray], steps: int, batch: int,
                    input_size: int, layout: int) -> np.ndarray:
        """Feeds ``steps`` steps and returns the top recurrent layer's output a<t>, steps · B · F
        floats (``seq_stream_feed_hidden``: the head is not run)."""
        with self._use() as h:
            needed = ctypes.c_int64()
            _capi.seq_stream_feed_hidden(h, features, tokens, steps, batch, input_size, layout, None, 0,
                                         ctypes.byref(needed))
            out = _empty(needed.value, np.float32, "output")
            _capi.seq_stream_feed_hidden(h, features, tokens, steps, batch, input_size, layout, out, out.size, None)
        return out

    def reset(self) -> None:
        with self._use() as h:
            _capi.seq_stream_reset(h)

    def position(self) -> int:
        steps = ctypes.c_int64()
        with self._use() as h:
            _capi.seq_stream_position(h, ctypes.byref(steps))
        return int(steps.value)

    def get_state(self) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """Flat h [L·B·Hout] and c [L·B·H] (None for cells without a memory cell)."""
        with self._use() as h:
            return _state_pair(_capi.seq_stream_get_state, h)

    def set_state(self, h_state: np.ndarray, c_state: Optional[np.ndarray]) -> None:
        with self._use() as h:
            _capi.seq_stream_set_state(h, h_state, h_state.size, c_state, 0 if c_state is None else c_state.size)
