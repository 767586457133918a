"""Recurrent layers with PyTorch's arguments, parameter names and results: :class:`RNN`,
:class:`GRU`, :class:`LSTM`.

A layer is a stack of L recurrent layers in D directions holding its weights (in the C library),
that runs forward like ``torch.nn.LSTM`` in evaluation mode::

    lstm = seqcore.LSTM(8, 32, num_layers=2, bidirectional=True)
    output, (h_n, c_n) = lstm(x, lengths=[10, 7, 4])      # x: [T, B, I]

and that starts the recurrent part of a model (:mod:`seqcore.models`), which trains it. A layer on
its own does not train (there is no autograd here); its dropout applies when a model trains it.

Shapes (legend: B sequences, T steps, I input features, H hidden units, Hout = proj_size or H,
L layers, D directions = 2 if bidirectional else 1):

- input x: [T, B, I] (``batch_first=False``, the default as in PyTorch), [B, T, I] with
  ``batch_first=True``, [T, I] for one unbatched sequence, or a list of [T_i, I] sequences;
- output: [T, B, D·Hout] (or [B, T, D·Hout]), exactly 0 at steps t >= lengths[b];
- h0, h_n: [L·D, B, Hout]; c0, c_n (LSTM): [L·D, B, H]; index k = layer·D + direction.

``lengths`` plays the part of PyTorch's packed sequences: each sequence's state stops at its own
length, and the reverse direction starts at each sequence's own last step, never on padding.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import numpy as np

from . import _capi
from ._arrays import Inputs, _to_numpy, check_int, features_array, is_ragged, prepare_inputs
from ._model import ModelHandle
from .errors import InvalidArgument, InvalidType, MissingDependency, NotSupported

__all__ = ["RNN", "GRU", "LSTM", "RecurrentLayer", "from_torch"]

_PARAMETER_BASES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr", "peephole")
_DIRECTIONS = ("forward", "reverse", "bidirectional")


def _positive_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidType(f"{name}: expected an integer, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise InvalidArgument(f"{name}: expected an integer >= {minimum}, got {value}")
    return int(value)


def _fixed(name: str, doc: str) -> property:
    """A configuration attribute: read-only, since the weights in the library were made for it
    (an assigned ``direction`` would leave the layer without the reverse weights it then needs)."""

    def get(self: "RecurrentLayer") -> Any:
        return self._args[name]

    def refuse(self: "RecurrentLayer", value: Any) -> None:
        raise AttributeError(f"{name}: a layer's configuration is fixed when it is made (its weights are shaped "
                             f"by it); make a new {type(self).__name__} with {name}={value!r} and copy weights "
                             f"with load_state_dict")

    return property(get, refuse, doc=doc)


def _rebuild_layer(cls: type, args: Dict[str, Any], state: Mapping[str, np.ndarray]) -> "RecurrentLayer":
    """A layer of class ``cls`` from its constructor arguments and weights (copies and unpickling)."""
    layer = cls(**args)
    try:
        layer.load_state_dict(state)
    except BaseException:
        layer.close()
        raise
    return layer


def _reverse_within(a: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Reverses each sequence b of a time-major [T, B, F] array within its first lengths[b] steps
    (padding stays in place)."""
    steps, batch = a.shape[0], a.shape[1]
    t = np.arange(steps)[:, None]
    source = np.where(t < lengths[None, :], lengths[None, :] - 1 - t, t)
    return a[source, np.arange(batch)[None, :]]


class RecurrentLayer:
    """Base of :class:`RNN`, :class:`GRU` and :class:`LSTM` (see the module docstring).

    The configuration attributes (``input_size``, ``hidden_size``, ``direction``, ...) are
    read-only. Calls on one layer are serialised by a lock held for the whole call (a forward
    sees the weights of one ``load_state_dict`` or the next, never a mix; ``close()`` waits for
    a call in progress). ``copy.copy``, ``copy.deepcopy`` and ``pickle`` give an independent layer
    with the same configuration and weights."""

    _kind = ""  # "rnn", "gru", "lstm"
    _args: Dict[str, Any]

    input_size = _fixed("input_size", "I: input features per step.")
    hidden_size = _fixed("hidden_size", "H: hidden units per layer and direction.")
    num_layers = _fixed("num_layers", "L: stacked layers.")
    bias = _fixed("bias", "Whether the layers have bias vectors.")
    batch_first = _fixed("batch_first", "Whether inputs and outputs are [B, T, ...] rather than [T, B, ...].")
    dropout = _fixed("dropout", "Dropout between layers, when a model trains the stack.")
    direction = _fixed("direction", '"forward", "reverse" or "bidirectional".')
    merge = _fixed("merge", 'How the two directions are combined: "concat" or "sum".')
    seed = _fixed("seed", "The seed of the initial weights.")
    initialization = _fixed("initialization", 'The initial weights\' scheme: "pytorch", "xavier" or "orthogonal".')

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        direction: Optional[str] = None,
        merge: str = "concat",
        seed: int = 0,
        initialization: str = "pytorch",
    ) -> None:
        if not self._kind:
            raise InvalidType("RecurrentLayer is the base class of RNN, GRU and LSTM: build one of those, "
                              "e.g. seqcore.LSTM(input_size, hidden_size)")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float, np.integer, np.floating)):
            raise InvalidType(f"dropout: expected a number, got {type(dropout).__name__}")
        if direction is None:
            direction = "bidirectional" if bidirectional else "forward"
        elif direction not in _DIRECTIONS:
            raise InvalidArgument(f"direction: expected one of {list(_DIRECTIONS)}, got {direction!r}")
        elif bidirectional and direction != "bidirectional":
            raise InvalidArgument(f"bidirectional=True contradicts direction={direction!r}")
        if merge not in ("concat", "sum"):
            raise InvalidArgument(f"merge: expected 'concat' or 'sum', got {merge!r}")
        # The constructor's arguments, normalised: the configuration attributes read them, and a
        # copy is made from them. A subclass puts its own (variant, ...) there first.
        self._args = dict(
            getattr(self, "_args", {}),
            input_size=_positive_int(input_size, "input_size"),
            hidden_size=_positive_int(hidden_size, "hidden_size"),
            num_layers=_positive_int(num_layers, "num_layers"),
            bias=bool(bias),
            batch_first=bool(batch_first),
            dropout=float(dropout),
            direction=direction,
            merge=merge,
            seed=check_int(seed, "seed"),
            initialization=initialization,
        )
        self._version = 0
        self._subs: Optional[List[Tuple[ModelHandle, bool]]] = None
        self._subs_version = -1
        self._handle = ModelHandle.create(self._model_options(), what=self._what())
        self._set_identity_head()

    def _what(self) -> str:
        return f"{type(self).__name__} layer"

    # --- Configuration ---------------------------------------------------------------------

    @property
    def bidirectional(self) -> bool:
        return self.direction == "bidirectional"

    @property
    def num_directions(self) -> int:
        """D: 2 for a bidirectional layer, else 1."""
        return 2 if self.bidirectional else 1

    @property
    def proj_size(self) -> int:
        return 0

    @property
    def state_size(self) -> int:
        """Hout: the width of h (proj_size when set, else hidden_size)."""
        return self.proj_size or self.hidden_size

    @property
    def output_size(self) -> int:
        """The features of the output per step: D·Hout (merge "concat") or Hout (merge "sum")."""
        return self.state_size * (self.num_directions if self.merge == "concat" else 1)

    def _cell(self) -> str:
        raise NotSupported(f"{type(self).__name__}: a recurrent layer names its cell (RNN, GRU and LSTM do)")

    def _cell_options(self) -> Dict[str, Any]:
        """The configuration keys of the cell itself (cell, variant, projection, peepholes)."""
        return {"cell": self._cell()}

    def recurrent_options(self) -> Dict[str, Any]:
        """The ``seq_config`` keys that describe this stack (see seqcore.h)."""
        return dict(
            self._cell_options(),
            input_size=self.input_size,
            hidden_size=self.hidden_size,
            num_layers=self.num_layers,
            direction=self.direction,
            merge=self.merge if self.bidirectional else None,  # the C library takes it only then
            bias=int(self.bias),
            dropout=self.dropout,
            initialization=self.initialization,
            seed=self.seed,
        )

    def _model_options(self) -> Dict[str, Any]:
        # The weights live in a tagger whose head is the identity and whose output is "regression"
        # (identity activation): its prediction is the stack's output a<t> itself.
        return dict(self.recurrent_options(), architecture="tagger", output="regression", output_size=self.output_size)

    def _set_identity_head(self) -> None:
        k = self.output_size
        self._handle.set_parameter("head.weight", np.eye(k, dtype=np.float32))
        self._handle.set_parameter("head.bias", np.zeros(k, dtype=np.float32))

    def _extra_repr(self) -> List[str]:
        return []

    def __repr__(self) -> str:
        parts = [str(self.input_size), str(self.hidden_size)]
        if self.num_layers != 1:
            parts.append(f"num_layers={self.num_layers}")
        parts += self._extra_repr()
        if not self.bias:
            parts.append("bias=False")
        if self.batch_first:
            parts.append("batch_first=True")
        if self.dropout:
            parts.append(f"dropout={self.dropout}")
        if self.bidirectional:
            parts.append("bidirectional=True")
        elif self.direction != "forward":
            parts.append(f"direction={self.direction!r}")
        if self.merge != "concat":
            parts.append(f"merge={self.merge!r}")
        return f"{self._repr_name()}({', '.join(parts)})"

    def _repr_name(self) -> str:
        return type(self).__name__

    @staticmethod
    def _from_options(options: Mapping[str, Any], batch_first: bool = False) -> "RecurrentLayer":
        """A layer (fresh weights) from ``seq_config`` keys, e.g. a model's configuration."""
        cell = options["cell"]
        common: Dict[str, Any] = dict(
            input_size=options["input_size"],
            hidden_size=options["hidden_size"],
            num_layers=options.get("num_layers") or 1,
            bias=bool(options.get("bias", 1)),
            batch_first=batch_first,
            dropout=options.get("dropout") or 0.0,
            direction=options.get("direction") or "forward",
            merge=options.get("merge") or "concat",
            seed=options.get("seed") or 0,
            initialization=options.get("initialization") or "pytorch",
        )
        if cell == "lstm":
            return LSTM(proj_size=options.get("proj_size") or 0, peepholes=bool(options.get("peepholes")),
                        forget_bias=options.get("forget_bias"), **common)
        if cell == "gru":
            return GRU(variant=options.get("gru_variant") or "linear_before_reset", **common)
        if cell in ("rnn_tanh", "rnn_relu"):
            return RNN(nonlinearity=cell[4:], **common)
        raise InvalidArgument(f"cell: unknown cell {cell!r}")

    # --- Parameters ------------------------------------------------------------------------

    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """The weights under PyTorch's names (``weight_ih_l0``, ``bias_hh_l1_reverse``, ...) as new
        float32 arrays: ``weight_ih_l{k}`` [G·H, I or D·Hout], ``weight_hh_l{k}`` [G·H, Hout],
        ``bias_ih_l{k}``/``bias_hh_l{k}`` [G·H], ``weight_hr_l{k}`` [Hout, H] (projection),
        ``peephole_l{k}`` [3, H] (peepholes, rows i, f, o); G = 1, 3, 4 for RNN, GRU, LSTM."""
        return self._handle.state_dict(prefix="rnn.")  # one lock hold: one consistent snapshot

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> None:
        """Sets weights from a mapping of PyTorch names to arrays (numpy, torch tensors, lists).

        Every entry is checked (known name, exact shape, finite values) before any is written.
        With ``strict`` (the default) every parameter must be given.

        Raises:
            NotFound: an unknown name, or a missing one with ``strict``.
            InvalidArgument: a wrong shape, NaN or infinity.
        """
        with self._handle._use():
            self._handle.load_state_dict(state_dict, prefix="rnn.", strict=strict)
            self._version += 1

    @property
    def num_parameters(self) -> int:
        """The number of weights (scalars)."""
        return int(sum(v.size for v in self.state_dict().values()))

    # --- Forward ---------------------------------------------------------------------------

    def _directions(self) -> List[bool]:
        """For each direction index, whether it runs in reverse."""
        return {"forward": [False], "reverse": [True], "bidirectional": [False, True]}[self.direction]

    def _sub_models(self) -> List[Tuple[ModelHandle, bool]]:
        """One single-layer, forward-direction model per (layer, direction), with that slice of the
        weights: the forward pass runs each on a stream, which takes h0 and c0 (the C library has
        no whole-stack call with an initial state), reversing sequences for reverse directions.
        Called with the layer's lock held (they are rebuilt after a load_state_dict)."""
        if self._subs is not None and self._subs_version == self._version:
            return self._subs
        self._close_subs()
        state = self.state_dict()
        subs: List[Tuple[ModelHandle, bool]] = []
        hout = self.state_size
        for layer in range(self.num_layers):
            for d, reverse in enumerate(self._directions()):
                suffix = f"_l{layer}" + ("_reverse" if d == 1 else "")
                # The head is never run (the stream's feed_hidden returns the layer's own output),
                # so it is the smallest there is.
                options = dict(
                    self._cell_options(),
                    input_size=state["weight_ih" + suffix].shape[1],
                    hidden_size=self.hidden_size,
                    bias=int(self.bias),
                    architecture="tagger",
                    output="regression",
                    output_size=1,
                )
                sub = ModelHandle.create(options, what=self._what())
                for base in _PARAMETER_BASES:
                    if base + suffix in state:
                        sub.set_parameter(f"rnn.{base}_l0", state[base + suffix])
                subs.append((sub, reverse))
        self._subs, self._subs_version = subs, self._version
        return subs

    def _close_subs(self) -> None:
        for sub, _ in self._subs or []:
            sub.close()
        self._subs = None

    @staticmethod
    def _run_direction(
        model: ModelHandle,
        x: np.ndarray,
        lengths: np.ndarray,
        h0: np.ndarray,
        c0: Optional[np.ndarray],
        reverse: bool,
        hout: int,
    ) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
        """One direction of one layer over time-major x [T, B, F]: output [T, B, Hout], h_n
        [B, Hout], c_n [B, H]. The stream is fed up to each distinct length in turn, and the
        state read there for the sequences that end there."""
        steps, batch, width = x.shape
        if reverse:
            x = _reverse_within(x, lengths)
        ends = sorted(set(int(n) for n in lengths))
        c_n = None if c0 is None else np.zeros_like(c0)
        with model.stream(batch, uses_tokens=False, input_size=width) as stream:
            stream.set_state(np.ascontiguousarray(h0, dtype=np.float32), c0)
            if ends == [steps]:
                # Every sequence is whole: one call, whose output is the result as it is.
                output = stream.feed_hidden(np.ascontiguousarray(x), None, steps, batch, width,
                                            _capi.SEQ_LAYOUT_TIME_MAJOR).reshape(steps, batch, hout)
                h, c = stream.get_state()
                h_n = h.reshape(batch, hout)
                if c_n is not None and c is not None:
                    c_n = c.reshape(batch, -1)
                return (_reverse_within(output, lengths) if reverse else output), h_n, c_n
            output = np.zeros((steps, batch, hout), dtype=np.float32)
            h_n = np.zeros((batch, hout), dtype=np.float32)
            start = 0
            for end in ends:
                chunk = np.ascontiguousarray(x[start:end])
                y = stream.feed_hidden(chunk, None, end - start, batch, width, _capi.SEQ_LAYOUT_TIME_MAJOR)
                output[start:end] = y.reshape(end - start, batch, hout)
                h, c = stream.get_state()
                ending = lengths == end
                h_n[ending] = h.reshape(batch, hout)[ending]
                if c_n is not None and c is not None:
                    c_n[ending] = c.reshape(batch, -1)[ending]
                start = end
        output[np.arange(steps)[:, None] >= lengths[None, :]] = 0
        if reverse:
            output = _reverse_within(output, lengths)
        return output, h_n, c_n

    def _state_arg(self, value: Any, name: str, width: int, batch: int, unbatched: bool) -> np.ndarray:
        k = self.num_layers * self.num_directions
        a = features_array(value, name)
        want = (k, width) if unbatched else (k, batch, width)
        if a.shape != want:
            raise InvalidArgument(f"{name}: expected shape {list(want)} ([L·D, B, {'Hout' if width == self.state_size else 'H'}]), got {list(a.shape)}")
        return a.reshape(k, batch, width)

    def _forward(self, x: Any, h0: Any, c0: Any, lengths: Any) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
        # The whole forward under the layer's lock: the sub-models are rebuilt by the first call
        # after a load_state_dict, and close() must wait for a forward in progress.
        with self._handle._use():
            return self._forward_locked(x, h0, c0, lengths)

    def _forward_locked(self, x: Any, h0: Any, c0: Any,
                        lengths: Any) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
        unbatched = False
        if not is_ragged(x):
            x = features_array(x, "x")
            if x.ndim == 2:
                unbatched = True
                if lengths is not None:
                    raise InvalidArgument("lengths: not used with one unbatched sequence [T, I]")
                x = x[None] if self.batch_first else x[:, None]
        inputs: Inputs = prepare_inputs(x, lengths, uses_tokens=False, input_size=self.input_size,
                                        batch_first=self.batch_first)
        data = inputs.features
        assert data is not None
        layer_input = np.ascontiguousarray(data.transpose(1, 0, 2)) if self.batch_first else data
        lengths_b = inputs.effective_lengths()
        batch, hout, k = inputs.batch, self.state_size, self.num_layers * self.num_directions
        h_init = (self._state_arg(h0, "h0", hout, batch, unbatched) if h0 is not None
                  else np.zeros((k, batch, hout), dtype=np.float32))
        is_lstm = self._kind == "lstm"
        c_init = None
        if is_lstm:
            c_init = (self._state_arg(c0, "c0", self.hidden_size, batch, unbatched) if c0 is not None
                      else np.zeros((k, batch, self.hidden_size), dtype=np.float32))
        h_n = np.zeros((k, batch, hout), dtype=np.float32)
        c_n = np.zeros((k, batch, self.hidden_size), dtype=np.float32) if is_lstm else None
        subs = self._sub_models()
        for layer in range(self.num_layers):
            outputs = []
            for d in range(self.num_directions):
                index = layer * self.num_directions + d
                sub, reverse = subs[index]
                out, h, c = self._run_direction(sub, layer_input, lengths_b, h_init[index],
                                                None if c_init is None else np.ascontiguousarray(c_init[index]),
                                                reverse, hout)
                outputs.append(out)
                h_n[index] = h
                if c_n is not None and c is not None:
                    c_n[index] = c
            if len(outputs) == 1:
                merged = outputs[0]         # one direction: its output as it is, not a copy
            else:
                merged = np.concatenate(outputs, axis=2) if self.merge == "concat" else np.sum(outputs, axis=0)
            layer_input = np.ascontiguousarray(merged, dtype=np.float32)
        output = layer_input
        if self.batch_first:
            output = np.ascontiguousarray(output.transpose(1, 0, 2))
        if unbatched:
            output = output[0] if self.batch_first else output[:, 0]
            h_n = h_n[:, 0]
            c_n = None if c_n is None else c_n[:, 0]
        return output, h_n, c_n

    def close(self) -> None:
        """Frees the weights held by the C library (after a call in progress on another thread).
        Later use raises ClosedError."""
        handle = getattr(self, "_handle", None)
        if handle is None:  # __init__ failed before the handle was made
            return
        with handle._lock:
            self._close_subs()
            handle.close()

    @property
    def closed(self) -> bool:
        return self._handle.closed

    def __enter__(self) -> "RecurrentLayer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # The sub-models need no __del__ here: each is a Handle that frees itself when dropped with
    # the layer, and a __del__ closing them would also close those of any object sharing them.

    def __copy__(self) -> "RecurrentLayer":
        # A copy sharing the handle would share the weights and close with the original: a copy
        # is always a new layer with the same configuration and weights.
        return _rebuild_layer(type(self), dict(self._args), self.state_dict())

    def __deepcopy__(self, memo: Dict[int, Any]) -> "RecurrentLayer":
        return self.__copy__()

    def __reduce__(self) -> Tuple[Any, ...]:
        return (_rebuild_layer, (type(self), dict(self._args), self.state_dict()))

    # --- PyTorch ---------------------------------------------------------------------------

    def _torch_kwargs(self) -> Dict[str, Any]:
        if self.direction == "reverse":
            raise NotSupported("torch has no reverse-only recurrent layer (direction='reverse')")
        if self.merge != "concat":
            raise NotSupported("torch concatenates the directions: merge='sum' has no torch counterpart")
        return dict(input_size=self.input_size, hidden_size=self.hidden_size, num_layers=self.num_layers,
                    bias=self.bias, batch_first=self.batch_first, dropout=self.dropout,
                    bidirectional=self.bidirectional)

    def to_torch(self) -> Any:
        """A new ``torch.nn.LSTM`` / ``GRU`` / ``RNN`` (float32, CPU) with the same configuration and
        weights. Needs PyTorch.

        Raises:
            MissingDependency: torch is not installed.
            NotSupported: the layer has no torch counterpart (classic or simplified GRU, peepholes,
                reverse-only direction, merge "sum").
        """
        try:
            import torch
        except ImportError:
            raise MissingDependency("to_torch() needs PyTorch (pip install torch)") from None
        module = getattr(torch.nn, type(self).__name__)(**self._torch_kwargs())
        module.load_state_dict({k: torch.from_numpy(v) for k, v in self.state_dict().items()})
        return module

    @classmethod
    def from_torch(cls, module: Any, *, seed: int = 0) -> "RecurrentLayer":
        """A layer with the configuration and weights of a ``torch.nn.LSTM`` / ``GRU`` / ``RNN``
        (copied by name; the module is read, never changed)."""
        mode = getattr(module, "mode", None)
        kinds = {"LSTM": LSTM, "GRU": GRU, "RNN_TANH": RNN, "RNN_RELU": RNN}
        if mode not in kinds:
            raise InvalidType(f"from_torch: expected a torch.nn.LSTM, GRU or RNN, got {type(module).__name__}")
        target = kinds[mode]
        if cls is not RecurrentLayer and target is not cls:
            raise InvalidType(f"{cls.__name__}.from_torch: got a torch {type(module).__name__}")
        kwargs: Dict[str, Any] = dict(
            input_size=int(module.input_size), hidden_size=int(module.hidden_size),
            num_layers=int(module.num_layers), bias=bool(module.bias), batch_first=bool(module.batch_first),
            dropout=float(module.dropout), bidirectional=bool(module.bidirectional), seed=seed,
        )
        if target is LSTM:
            kwargs["proj_size"] = int(getattr(module, "proj_size", 0))
        if target is RNN:
            kwargs["nonlinearity"] = "relu" if mode == "RNN_RELU" else "tanh"
        layer = target(**kwargs)
        layer.load_state_dict({k: _to_numpy(v) for k, v in module.state_dict().items()})
        return layer

    # --- ONNX ------------------------------------------------------------------------------

    def import_onnx(self, W: Any, R: Any, B: Any = None, P: Any = None, *, layer: int = 0) -> None:
        """Sets one layer's weights from an ONNX RNN/GRU/LSTM node's inputs, in ONNX layout.

        Args:
            W: [D, G·H, I_layer] input weights, ONNX gate order (LSTM i, o, f, c; GRU z, r, h).
            R: [D, G·H, H] recurrent weights.
            B: [D, 2·G·H] biases [Wb | Rb], or None for zeros (as ONNX defines).
            P: [D, 3·H] LSTM peepholes (i, o, f), or None (zeros when the layer has peepholes).
            layer: which layer of the stack (an ONNX node is one layer).

        The direction count D and the cell must match the layer; a GRU's ``variant`` must match
        the node's ``linear_before_reset`` (1: "linear_before_reset", 0: "classic").
        """
        with self._handle._use():
            import_onnx_into(self._handle, "rnn", self, W, R, B, P, layer)
            self._version += 1

    @classmethod
    def from_onnx(cls, W: Any, R: Any, B: Any = None, P: Any = None, *, direction: str = "forward",
                  batch_first: bool = False, **options: Any) -> "RecurrentLayer":
        """A one-layer layer from an ONNX node's inputs (see :meth:`import_onnx`); the sizes come
        from the shapes of ``W`` and ``R``. ``direction`` is the node's attribute. GRU takes
        ``linear_before_reset`` (0 or 1, default 0 as in ONNX), RNN ``nonlinearity``."""
        if cls is RecurrentLayer:
            raise InvalidType("call LSTM.from_onnx, GRU.from_onnx or RNN.from_onnx")
        w = features_array(W, "W")
        r = features_array(R, "R")
        if w.ndim != 3 or r.ndim != 3:
            raise InvalidArgument(f"W and R: expected 3-D ONNX tensors [D, G·H, I] and [D, G·H, H], got {list(w.shape)} and {list(r.shape)}")
        hidden, inputs = r.shape[2], w.shape[2]
        if cls is GRU:
            lbr = options.pop("linear_before_reset", 0)
            if not isinstance(lbr, (bool, int, np.integer)) or lbr not in (0, 1):
                raise InvalidArgument(f"linear_before_reset: expected 0 or 1 (the ONNX attribute), got {lbr!r}")
            options["variant"] = "linear_before_reset" if lbr else "classic"
        if cls is LSTM:
            options.setdefault("peepholes", P is not None)
        layer = cls(inputs, hidden, direction=direction, batch_first=batch_first, **options)
        try:
            layer.import_onnx(w, r, B, P)
        except BaseException:
            layer.close()
            raise
        return layer


_GATES = {"rnn": 1, "gru": 3, "lstm": 4}


def import_onnx_into(handle: ModelHandle, stack: str, layer_spec: RecurrentLayer, W: Any, R: Any, B: Any,
                     P: Any, layer: int) -> None:
    """ONNX tensors into one layer of ``stack`` ("rnn" or "decoder") of a model, through
    ``seq_model_set_onnx_tensor`` (which converts gate orders and layouts). Shapes and values are
    checked here first (the C function sees flat data and checks counts), and if the library
    still refuses a tensor, the tensors already set are put back: the call changes all or nothing."""
    spec = layer_spec
    if not isinstance(layer, (int, np.integer)) or isinstance(layer, bool) or not 0 <= layer < spec.num_layers:
        raise InvalidArgument(f"layer: expected 0...{spec.num_layers - 1}, got {layer!r}")
    if spec.proj_size:
        raise NotSupported("ONNX LSTM has no projection: a layer with proj_size cannot take ONNX weights")
    if getattr(spec, "variant", None) == "simplified":
        raise NotSupported("ONNX GRU has a reset gate: the simplified GRU cannot take ONNX weights")
    cell, hidden, d = spec._kind, spec.hidden_size, spec.num_directions
    g = _GATES[cell]
    peepholes = bool(getattr(spec, "peepholes", False))
    width = spec.input_size if layer == 0 else spec.output_size
    given = {"W": W, "R": R, "B": B, "P": P}
    shapes = {"W": (d, g * hidden, width), "R": (d, g * hidden, hidden), "B": (d, 2 * g * hidden), "P": (d, 3 * hidden)}
    legend = {"W": "[D, G·H, I]", "R": "[D, G·H, H]", "B": "[D, 2·G·H]", "P": "[D, 3·H]"}
    tensors: List[Tuple[str, np.ndarray]] = []
    for name in ("W", "R", "B", "P"):
        value = given[name]
        if name == "B" and not spec.bias:
            if value is not None and np.any(features_array(value, name) != 0):
                raise InvalidArgument("B: this layer has no biases (bias=False), but B holds non-zero values")
            continue
        if name == "P" and not peepholes:
            if value is not None:
                raise InvalidArgument("P: this layer has no peepholes (create the LSTM with peepholes=True)")
            continue
        # ONNX defines a missing B (and P) as zeros.
        array = np.zeros(shapes[name], np.float32) if value is None else features_array(value, name)
        if array.shape != shapes[name]:
            raise InvalidArgument(f"{name}: expected shape {list(shapes[name])} {legend[name]}, got {list(array.shape)}")
        if not np.all(np.isfinite(array)):
            raise InvalidArgument(f"{name}: expected finite values, got NaN or infinity")
        tensors.append((name, array))
    # One lock hold for the snapshot, the writes and any rollback: no other call sees a half import.
    with handle._use():
        before = handle.state_dict(prefix=f"{stack}.", strip=False)
        try:
            for name, array in tensors:
                handle.set_onnx_tensor(stack, layer, name, array)
        except BaseException:
            handle.load_state_dict(before, strict=False)
            raise


class RNN(RecurrentLayer):
    """Vanilla RNN: a<t> = g(W_ax x<t> + b_ih + W_aa a<t-1> + b_hh), g = tanh or relu.

    Arguments as ``torch.nn.RNN``: ``input_size`` (I), ``hidden_size`` (H), ``num_layers`` (L),
    ``nonlinearity`` ("tanh" or "relu"), ``bias``, ``batch_first``, ``dropout`` (between layers,
    when a model trains), ``bidirectional``; and ``direction`` ("forward", "reverse",
    "bidirectional"), ``merge`` ("concat", "sum"), ``seed`` and ``initialization`` ("pytorch",
    "xavier", "orthogonal") of the initial weights.

    ``rnn(x, h0=None, lengths=None)`` returns ``(output, h_n)``; see the module docstring for shapes.
    """

    _kind = "rnn"
    nonlinearity = _fixed("nonlinearity", '"tanh" or "relu".')

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 **options: Any) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise InvalidArgument(f"nonlinearity: expected 'tanh' or 'relu', got {nonlinearity!r}")
        self._args = {"nonlinearity": nonlinearity}
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, **options)

    def _cell(self) -> str:
        return "rnn_" + self.nonlinearity

    def _extra_repr(self) -> List[str]:
        return [] if self.nonlinearity == "tanh" else ["nonlinearity='relu'"]

    def _torch_kwargs(self) -> Dict[str, Any]:
        return dict(super()._torch_kwargs(), nonlinearity=self.nonlinearity)

    def forward(self, x: Any, h0: Any = None, lengths: Any = None) -> Tuple[np.ndarray, np.ndarray]:
        """Runs the stack: x [T, B, I] (or [B, T, I], [T, I], list of [T_i, I]); h0 [L·D, B, H] or
        None for zeros; lengths [B] or None. Returns output [T, B, D·H] and h_n [L·D, B, H]."""
        output, h_n, _ = self._forward(x, h0, None, lengths)
        return output, h_n

    __call__ = forward


class GRU(RecurrentLayer):
    """GRU, gates r, z, n (PyTorch's row order); h<t> = (1 − z) ∗ n + z ∗ h<t-1>.

    ``variant``: "linear_before_reset" (PyTorch, cuDNN, ONNX ``linear_before_reset=1``; the
    default), "classic" (the course's full GRU, ONNX ``linear_before_reset=0``, Keras
    ``reset_after=False``) or "simplified" (update gate only). Other arguments as :class:`RNN`
    without ``nonlinearity``.

    ``gru(x, h0=None, lengths=None)`` returns ``(output, h_n)``.
    """

    _kind = "gru"
    variant = _fixed("variant", '"linear_before_reset", "classic" or "simplified".')

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, *,
                 variant: str = "linear_before_reset", **options: Any) -> None:
        if variant not in ("linear_before_reset", "classic", "simplified"):
            raise InvalidArgument(f"variant: expected 'linear_before_reset', 'classic' or 'simplified', got {variant!r}")
        self._args = {"variant": variant}
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, **options)

    def _cell(self) -> str:
        return "gru"

    def _cell_options(self) -> Dict[str, Any]:
        return {"cell": "gru", "gru_variant": self.variant}

    def _extra_repr(self) -> List[str]:
        return [] if self.variant == "linear_before_reset" else [f"variant={self.variant!r}"]

    def _torch_kwargs(self) -> Dict[str, Any]:
        if self.variant != "linear_before_reset":
            raise NotSupported(f"torch.nn.GRU is the linear_before_reset variant; this GRU is {self.variant!r}")
        return super()._torch_kwargs()

    def forward(self, x: Any, h0: Any = None, lengths: Any = None) -> Tuple[np.ndarray, np.ndarray]:
        """As :meth:`RNN.forward`: returns output [T, B, D·H] and h_n [L·D, B, H]."""
        output, h_n, _ = self._forward(x, h0, None, lengths)
        return output, h_n

    __call__ = forward


class LSTM(RecurrentLayer):
    """LSTM, gates i, f, g, o (PyTorch's row order): c<t> = f ∗ c<t-1> + i ∗ g, a<t> = o ∗ tanh(c<t>).

    Arguments as ``torch.nn.LSTM`` (``proj_size``: h<t> = W_hr a<t>, Hout = proj_size), plus
    ``peepholes`` (ONNX's P, parameter ``peephole_l{k}`` [3, H], rows i, f, o) and ``forget_bias``
    (initial forget-gate bias), and the keywords of :class:`RNN`.

    ``lstm(x, (h0, c0)=None, lengths=None)`` returns ``(output, (h_n, c_n))``.
    """

    _kind = "lstm"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, *, peepholes: bool = False, forget_bias: Optional[float] = None,
                 **options: Any) -> None:
        self._args = {"proj_size": _positive_int(proj_size, "proj_size", minimum=0), "peepholes": bool(peepholes),
                      "forget_bias": forget_bias}
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, **options)

    proj_size = _fixed("proj_size", "Hout when > 0: the projection of h<t> (0: none).")
    peepholes = _fixed("peepholes", "Whether the gates see the memory cell (ONNX's P).")
    forget_bias = _fixed("forget_bias", "The initial forget-gate bias, or None.")

    def _cell(self) -> str:
        return "lstm"

    def _cell_options(self) -> Dict[str, Any]:
        return {"cell": "lstm", "proj_size": self.proj_size, "peepholes": int(self.peepholes)}

    def recurrent_options(self) -> Dict[str, Any]:
        """The ``seq_config`` keys of this stack, with the LSTM's ``forget_bias``."""
        return dict(super().recurrent_options(), forget_bias=self.forget_bias)

    def _extra_repr(self) -> List[str]:
        parts = [f"proj_size={self.proj_size}"] if self.proj_size else []
        return parts + (["peepholes=True"] if self.peepholes else [])

    def _torch_kwargs(self) -> Dict[str, Any]:
        if self.peepholes:
            raise NotSupported("torch.nn.LSTM has no peepholes")
        return dict(super()._torch_kwargs(), proj_size=self.proj_size)

    def forward(self, x: Any, hx: Optional[Tuple[Any, Any]] = None,
                lengths: Any = None) -> Tuple[np.ndarray, Tuple[np.ndarray, np.ndarray]]:
        """Runs the stack: x [T, B, I] (or [B, T, I], [T, I], list of [T_i, I]); hx = (h0, c0),
        h0 [L·D, B, Hout], c0 [L·D, B, H], or None for zeros; lengths [B] or None. Returns output
        [T, B, D·Hout] and (h_n [L·D, B, Hout], c_n [L·D, B, H])."""
        h0 = c0 = None
        if hx is not None:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise InvalidType("hx: expected a pair (h0, c0) for an LSTM")
            h0, c0 = hx
        output, h_n, c_n = self._forward(x, h0, c0, lengths)
        assert c_n is not None
        return output, (h_n, c_n)

    __call__ = forward


def from_torch(module: Any, *, seed: int = 0) -> RecurrentLayer:
    """A seqcore layer from a ``torch.nn.LSTM``, ``GRU`` or ``RNN`` (configuration and weights)."""
    return RecurrentLayer.from_torch(module, seed=seed)


Layer = Union[RNN, GRU, LSTM]
