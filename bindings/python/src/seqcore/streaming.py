"""Streaming sessions: a model run one step (or one chunk) at a time, with the recurrent state kept
by the library between calls.

    with model.stream(batch=1) as s:
        for frame in microphone():          # frame: [I] features of one step
            probabilities = s.step(frame)   # [K]: the output at this step

Feeding a whole sequence step by step gives the same outputs as ``model.predict`` on it (for a
tagger or language model; a classifier's output at step t is its prediction for the sequence cut
at t). Only forward-direction taggers, classifiers and language models stream: a bidirectional or
reverse model needs the whole sequence.

Shape legend: B sequences in the stream, T steps in a chunk, I features, K outputs, L layers,
H hidden units, Hout = proj_size or H.
"""

from __future__ import annotations

import reprlib
from typing import TYPE_CHECKING, Any, Optional, Tuple, Union

import numpy as np

from . import _capi
from ._arrays import check_int, features_array, tokens_array
from ._handle import refuse_copies
from .errors import InvalidArgument, InvalidType

if TYPE_CHECKING:  # pragma: no cover
    from .models import SequenceModel

__all__ = ["Stream"]

_INT32_MIN, _INT32_MAX = int(np.iinfo(np.int32).min), int(np.iinfo(np.int32).max)

State = Union[np.ndarray, Tuple[np.ndarray, np.ndarray]]


class Stream:
    """A streaming session over a model for ``batch`` independent sequences (see the module
    docstring). Made by ``model.stream(batch)``; close it (or use ``with``) to free it. It keeps its
    model alive and uses the model's current weights at every call."""

    def __init__(self, model: "SequenceModel", batch: int = 1) -> None:
        from .models import SequenceModel  # (models imports this module)

        if not isinstance(model, SequenceModel):
            raise InvalidType(f"model: expected a seqcore model (streams come from model.stream(batch)), got "
                              f"{type(model).__name__} {reprlib.repr(model)}")
        self._model = model
        self.batch = check_int(batch, "batch", 1)
        config = model.config
        self._uses_tokens = model.uses_tokens
        self._input_size = 1 if self._uses_tokens else int(config["input_size"])
        self._handle = model._handle.stream(self.batch, uses_tokens=self._uses_tokens, input_size=self._input_size)
        self._layers = int(config["num_layers"] or 1)
        self._hidden = int(config["hidden_size"])
        self._hout = int(config.get("proj_size") or 0) or self._hidden
        self._lstm = config["cell"] == "lstm"
        # step()'s fast path: an array of exactly one step's shape and the C element type, or one
        # token id as an int, goes to the handle without _prepare (whose checks it already meets).
        self._step_dtype = np.dtype(np.int32 if self._uses_tokens else np.float32)
        self._step_shape = (self.batch,) if self._uses_tokens else (self.batch, self._input_size)
        self._unbatched_shape = self._step_shape[1:] if self.batch == 1 else None
        self._int_token_step = self._uses_tokens and self.batch == 1

    def _prepare(self, x: Any, chunk: bool) -> Tuple[Any, int, bool]:
        """x as a C-ready array in the model's layout (time-major for one step), its number of
        steps, and whether it had no batch dimension (then the result has none either)."""
        a = tokens_array(x, "x") if self._uses_tokens else features_array(x, "x")
        want = (2 if chunk else 1) + (0 if self._uses_tokens else 1)
        unbatched = a.ndim == want - 1
        if unbatched:
            if self.batch != 1:
                raise InvalidArgument(f"x: expected {self._shape_text(chunk)} with B = {self.batch}, got shape {a.shape}")
            if chunk and not self._model.batch_first:
                a = a.reshape((a.shape[0], 1) + a.shape[1:])
            else:
                a = a.reshape((1,) + a.shape)
        if a.ndim != want:
            raise InvalidArgument(f"x: expected a {want}-D array {self._shape_text(chunk)}, got shape {a.shape}")
        if not self._uses_tokens and a.shape[-1] != self._input_size:
            raise InvalidArgument(f"x: expected {self._input_size} features per step (I), got shape {a.shape}")
        if chunk:
            batch_axis = 0 if self._model.batch_first else 1
            batch, steps = a.shape[batch_axis], a.shape[1 - batch_axis]
        else:
            batch, steps = a.shape[0], 1
        if batch != self.batch:
            raise InvalidArgument(f"x: expected {self.batch} sequences (the stream's B), got {batch} in shape {a.shape}")
        if steps < 1:
            raise InvalidArgument(f"x: expected at least one step, got shape {a.shape}")
        return np.ascontiguousarray(a), int(steps), unbatched

    def _shape_text(self, chunk: bool) -> str:
        f = "" if self._uses_tokens else ", I"
        if not chunk:
            return f"[B{f}]"
        return f"[B, T{f}]" if self._model.batch_first else f"[T, B{f}]"

    def _run(self, a: np.ndarray, steps: int, layout: int) -> np.ndarray:
        return self._handle.feed(None if self._uses_tokens else a, a if self._uses_tokens else None, steps,
                                 self.batch, self._input_size, layout)

    def step(self, x: Any) -> np.ndarray:
        """Feeds one step of every sequence and returns the output at it.

        Args:
            x: features [B, I] (or [I] when B is 1), or token ids [B] (or one int when B is 1).

        Returns:
            [B, K] (or [K] for an input without batch dimension): probabilities for "binary" and
            "classes" outputs (a language model's next-token distribution), values for "regression".
        """
        if type(x) is np.ndarray and x.dtype is self._step_dtype:
            shape = x.shape
            if shape == self._step_shape:
                return self._handle.step(x)
            if shape == self._unbatched_shape:
                return self._handle.step(x)[0]
        elif type(x) is int and self._int_token_step and _INT32_MIN <= x <= _INT32_MAX:
            return self._handle.step(x)[0]
        a, _, unbatched = self._prepare(x, chunk=False)
        out = self._handle.step(a)
        return out[0] if unbatched else out

    def feed(self, x: Any) -> np.ndarray:
        """Feeds a chunk of steps and returns the output at each.

        Args:
            x: features [T, B, I] (model ``batch_first=False``) or [B, T, I] (``batch_first=True``),
                or [T, I] when B is 1; token ids [T, B] / [B, T], or [T] when B is 1.

        Returns:
            [T, B, K] / [B, T, K] in the same layout, or [T, K] for an input without batch dimension.
        """
        a, steps, unbatched = self._prepare(x, chunk=True)
        layout = _capi.SEQ_LAYOUT_BATCH_FIRST if self._model.batch_first else _capi.SEQ_LAYOUT_TIME_MAJOR
        out = self._run(a, steps, layout)
        if self._model.batch_first:
            out = out.reshape(self.batch, steps, -1)
            return out[0] if unbatched else out
        out = out.reshape(steps, self.batch, -1)
        return out[:, 0] if unbatched else out

    def reset(self) -> None:
        """Forgets every sequence's state: the next step starts from a zero state."""
        self._handle.reset()

    @property
    def position(self) -> int:
        """Steps fed since the stream was made or last reset."""
        return self._handle.position()

    @property
    def state(self) -> State:
        """The recurrent state: h [L, B, Hout], or (h, c) with c [L, B, H] for an LSTM (copies).
        Assign the same form (e.g. PyTorch's h0, c0 of a one-direction model) to set it."""
        h, c = self._handle.get_state()
        h = h.reshape(self._layers, self.batch, self._hout)
        if self._lstm:
            return h, (c if c is not None else np.zeros(0, np.float32)).reshape(self._layers, self.batch, self._hidden)
        return h

    @state.setter
    def state(self, value: State) -> None:
        c: Optional[np.ndarray] = None
        if self._lstm:
            if not isinstance(value, (tuple, list)) or len(value) != 2:
                raise InvalidArgument("state: expected a pair (h, c) for an LSTM")
            h = features_array(value[0], "state h")
            c = features_array(value[1], "state c")
            if c.shape != (self._layers, self.batch, self._hidden):
                raise InvalidArgument(f"state c: expected shape {[self._layers, self.batch, self._hidden]} [L, B, H], got {list(c.shape)}")
        else:
            h = features_array(value, "state h")
        if h.shape != (self._layers, self.batch, self._hout):
            raise InvalidArgument(f"state h: expected shape {[self._layers, self.batch, self._hout]} [L, B, Hout], got {list(h.shape)}")
        self._handle.set_state(h, c)

    def close(self) -> None:
        """Frees the stream. Later use raises ClosedError."""
        self._handle.close()

    @property
    def closed(self) -> bool:
        return self._handle.closed

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # A stream's state lives in the library, tied to its model's handle: it has no copy.
    def _refuse_copy(self) -> Any:
        raise InvalidType("a Stream cannot be copied or pickled: make another with model.stream(batch) and give "
                          "it this one's state (new.state = stream.state), or pickle the model and the state")

    __copy__, __deepcopy__, __reduce_ex__ = refuse_copies()

    def __repr__(self) -> str:
        return f"<seqcore.Stream batch={self.batch} position={'closed' if self.closed else self.position}>"
