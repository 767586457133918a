"""The four architectures of the course, Keras-style: build, ``fit``, ``predict``, ``evaluate``.

- :class:`SequenceTagger`: many-to-many, Tx = Ty: an output per step (name tagging).
- :class:`SequenceClassifier`: many-to-one: one output per sequence, from its final state.
- :class:`LanguageModel`: one-to-many: next-token prediction; ``generate`` samples, feeding each
  token back.
- :class:`Seq2Seq`: many-to-many, Tx != Ty: an encoder whose final state starts a decoder; teacher
  forcing in training, ``decode`` greedy or sampled after.

Each takes a recurrent layer (:class:`~seqcore.LSTM`, :class:`~seqcore.GRU`, :class:`~seqcore.RNN`)
whose configuration and current weights start the model's recurrent stack::

    tagger = seqcore.SequenceTagger(seqcore.LSTM(16, 32, bidirectional=True),
                                    output_size=1, output="binary", vocab_size=1000)
    history = tagger.fit(sentences, labels, epochs=20)     # lists of ragged sequences are fine
    probabilities = tagger.predict(sentences)               # [B, T, 1]

Data is batch-first by default (``batch_first=True``, as in Keras): features [B, T, I], token ids
[B, T]; ``batch_first=False`` takes time-major [T, B, ...] as PyTorch does. Lists of sequences of
different lengths are padded for you, and their lengths used. Outputs come in the same layout.

Shape legend: B sequences, T steps, I features per step, H hidden units, L layers, D directions,
V vocabulary (input token ids), K outputs per step (classes, or values).

Threads: every method may be called from any thread; calls on one model are serialised (a lock
per object, also held through ``fit``), calls on different models run in parallel (ctypes
releases the GIL).
"""

from __future__ import annotations

import ctypes
from collections import OrderedDict
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Type, Union

import numpy as np

from . import _capi
from ._arrays import (Inputs, check_float, check_int, features_array, is_ragged, pad_sequences, prepare_inputs,
                      prepare_lengths, tokens_array)
from ._handle import Handle, out_pointer
from ._model import ModelHandle, Targets
from .errors import FormatError, InvalidArgument, InvalidType, NotFound, NumericError
from .layers import RecurrentLayer, import_onnx_into
from .optim import LRSchedule, Optimizer
from .streaming import Stream
from .training import History, ProgressBar

__all__ = ["SequenceModel", "SequenceTagger", "SequenceClassifier", "LanguageModel", "Seq2Seq", "load"]

_OUTPUTS = ("classes", "binary", "regression")


class _Dataset(Handle):
    """A ``seq_dataset`` holding copies of the inputs and targets for ``seq_model_fit``."""

    def __init__(self, inputs: Inputs, targets: Targets) -> None:
        pointer = out_pointer(_capi.seq_dataset)
        _capi.seq_dataset_create(ctypes.byref(pointer))
        super().__init__(pointer, _capi.seq_dataset_free)
        width = 1 if targets.ids is not None else int(targets.values.size // (inputs.batch * targets.steps))  # type: ignore[union-attr]
        with self._use() as h:
            _capi.seq_dataset_set_inputs(h, inputs.features, inputs.tokens, inputs.batch, inputs.steps,
                                         inputs.input_size, inputs.lengths, inputs.layout)
            _capi.seq_dataset_set_targets(h, targets.ids, targets.values, inputs.batch, targets.steps, width,
                                          targets.lengths, inputs.layout)


def _training_options(optimizer: Union[str, Optimizer], learning_rate: Optional[float], momentum: Optional[float],
                      weight_decay: Optional[float], betas: Optional[Tuple[float, float]], eps: Optional[float],
                      clip_norm: Optional[float], clip_value: Optional[float],
                      lr_schedule: Optional[LRSchedule]) -> Dict[str, Any]:
    if isinstance(optimizer, Optimizer):
        given = [name for name, value in (("learning_rate", learning_rate), ("momentum", momentum),
                                          ("weight_decay", weight_decay), ("betas", betas), ("eps", eps))
                 if value is not None]
        if given:
            raise InvalidArgument(f"{given[0]}: set it in optimizer={optimizer!r} instead (its own argument), "
                                  f"got {given[0]}={locals()[given[0]]!r} as well")
        options = optimizer.options()
    elif isinstance(optimizer, str):
        if betas is not None and (not isinstance(betas, (tuple, list)) or len(betas) != 2):
            raise InvalidType(f"betas: expected a pair (beta1, beta2), got {betas!r}")
        options = {
            "optimizer": optimizer,
            "learning_rate": 1e-3 if learning_rate is None else learning_rate,
            "momentum": momentum,
            "weight_decay": weight_decay,
            "beta1": None if betas is None else betas[0],
            "beta2": None if betas is None else betas[1],
            "epsilon": eps,
        }
    else:
        raise InvalidType(f"optimizer: expected \"adam\", \"adamw\", \"sgd\", \"rmsprop\" or a seqcore.optim "
                          f"optimizer (SGD, Adam, AdamW, RMSprop), got {type(optimizer).__name__} {optimizer!r}")
    if lr_schedule is not None:
        if not isinstance(lr_schedule, LRSchedule):
            raise InvalidType(f"lr_schedule: expected a seqcore.optim.LRSchedule, got {type(lr_schedule).__name__} "
                              f"{lr_schedule!r}")
        options.update(lr_schedule.options())
    options.update(clip_norm=clip_norm, clip_value=clip_value)
    return options


def _window_options(truncated_bptt: Optional[int]) -> Dict[str, Any]:
    if truncated_bptt is None:
        return {}
    return {"truncated_bptt": check_int(truncated_bptt, "truncated_bptt", 1)}


class SequenceModel:
    """Base of the four architectures: everything but the constructor and the architecture's own
    methods (``generate``, ``decode``). Build one of the subclasses, or :func:`load` a file.

    ``copy.copy``, ``copy.deepcopy`` and ``pickle`` give an independent model with the same
    configuration, weights, training state and ``batch_first``, as ``save(path,
    include_optimizer=True)`` and :func:`load` do: the copy trains on exactly as the original
    would (optimizer moments, step count, schedule position, dropout generators); its gradients
    are not copied."""

    _architecture = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise InvalidType("SequenceModel is the base class of the four architectures: build a SequenceTagger, "
                          "SequenceClassifier, LanguageModel or Seq2Seq, or read a file with seqcore.load(path)")

    def _build(self, rnn: RecurrentLayer, options: Dict[str, Any], batch_first: bool, seed: Optional[int]) -> None:
        if not isinstance(rnn, RecurrentLayer):
            raise InvalidType(f"rnn: expected a seqcore.LSTM, GRU or RNN layer, got {type(rnn).__name__}")
        config = dict(rnn.recurrent_options(), architecture=self._architecture, **options)
        config["seed"] = rnn.seed if seed is None else seed
        handle = ModelHandle.create(config)
        try:
            handle.load_state_dict(rnn.state_dict(), prefix="rnn.")
        except BaseException:
            handle.close()
            raise
        self._attach(handle, batch_first)

    def _attach(self, handle: ModelHandle, batch_first: bool) -> None:
        self._handle = handle
        self.batch_first = bool(batch_first)
        self._config = handle.config()

    # --- Properties ------------------------------------------------------------------------

    @property
    def config(self) -> Dict[str, Any]:
        """Every configuration key (see seqcore.h, ``seq_config``) with its value; None when unset."""
        return dict(self._config)

    @property
    def uses_tokens(self) -> bool:
        """Whether the inputs are token ids (vocab_size > 0) rather than features."""
        return bool(self._config.get("vocab_size"))

    @property
    def input_size(self) -> int:
        """I: features per step (the embedding size for token models)."""
        return int(self._config["input_size"])

    @property
    def output_size(self) -> int:
        """K: outputs per step (classes, values, or the vocabulary of a language model)."""
        return int(self._config["output_size"])

    @property
    def output(self) -> str:
        """"classes" (softmax), "binary" (sigmoid) or "regression" (identity)."""
        return str(self._config["output"])

    @property
    def learning_rate(self) -> float:
        """The learning rate of the next step; assign to change it (the optimizer state is kept).
        With an ``lr_schedule``, reads the schedule's rate for the next step and assigns its base."""
        return self._handle.learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        value = check_float(value, "learning_rate")
        with self._handle._use():
            self._handle.learning_rate = value
            self._config = self._handle.config()  # "learning_rate" follows

    @property
    def rnn(self) -> RecurrentLayer:
        """A copy of the recurrent stack as a layer (configuration and current weights)."""
        return self._layer_copy("rnn.", self._config)

    def _layer_copy(self, prefix: str, options: Mapping[str, Any]) -> RecurrentLayer:
        layer = RecurrentLayer._from_options(options)
        layer.load_state_dict(self._handle.state_dict(prefix=prefix))
        return layer

    @property
    def num_parameters(self) -> int:
        """The number of weights (scalars)."""
        return int(sum(v.size for v in self.state_dict().values()))

    def __repr__(self) -> str:
        if self._handle.closed:
            return f"<{type(self).__name__} (closed)>"
        c = self._config
        rnn = RecurrentLayer.__repr__(_ConfigView(c))  # type: ignore[arg-type]
        extra = "".join(f", {k}={c[k]!r}" for k in ("vocab_size", "embedding_size") if c.get(k))
        return f"{type(self).__name__}({rnn}, output_size={c['output_size']}, output={c['output']!r}{extra})"

    # --- Data ------------------------------------------------------------------------------

    def _inputs(self, x: Any, lengths: Any, name: str = "x") -> Inputs:
        return prepare_inputs(x, lengths, uses_tokens=self.uses_tokens, input_size=self.input_size,
                              batch_first=self.batch_first, name=name)

    def _per_step_targets(self, y: Any, inputs: Inputs, name: str = "y") -> Targets:
        """Targets of a tagger or language model: class ids [B, T] or values [B, T, K] (time-major
        [T, B, ...] with batch_first=False), or a list of per-sequence targets."""
        k = self.output_size
        classes = self.output == "classes"
        if is_ragged(y):
            data, lengths = pad_sequences(y, tokens=classes, width=None if classes else k,
                                          batch_first=self.batch_first, name=name)
            expected = inputs.effective_lengths()
            if lengths.shape != expected.shape or np.any(lengths != expected):
                raise InvalidArgument(f"{name}: expected one target per input step (lengths {expected.tolist()}), "
                                      f"got target lengths {lengths.tolist()}")
            steps = data.shape[1] if self.batch_first else data.shape[0]
            if steps < inputs.steps:
                pad = [(0, 0)] * data.ndim
                pad[1 if self.batch_first else 0] = (0, inputs.steps - steps)
                data = np.ascontiguousarray(np.pad(data, pad))
        else:
            data = tokens_array(y, name) if classes else features_array(y, name)
            if not classes and data.ndim == 2 and k == 1:
                data = data.reshape(data.shape + (1,))
        lead = (inputs.batch, inputs.steps) if self.batch_first else (inputs.steps, inputs.batch)
        want = lead if classes else lead + (k,)
        if data.shape != want:
            legend = ("[B, T]" if self.batch_first else "[T, B]") + ("" if classes else ", K]")
            legend = legend.replace("], K]", ", K]")
            raise InvalidArgument(f"{name}: expected {'class ids' if classes else 'values'} of shape {list(want)} "
                                  f"({legend}), got {list(data.shape)}")
        return Targets(ids=data if classes else None, values=None if classes else data, steps=inputs.steps)

    def _targets(self, y: Any, inputs: Inputs, target_lengths: Any = None) -> Targets:
        if target_lengths is not None:
            raise InvalidArgument("target_lengths: only seq2seq models take target lengths")
        return self._per_step_targets(y, inputs)

    def _fit_data(self, x: Any, y: Any, lengths: Any, target_lengths: Any, name: str = "x") -> Tuple[Inputs, Targets]:
        if y is None:
            raise InvalidArgument(f"y: targets are required for a {type(self).__name__}")
        inputs = self._inputs(x, lengths, name)
        return inputs, self._targets(y, inputs, target_lengths)

    def _validation(self, validation_data: Any) -> Optional[Tuple[Inputs, Targets]]:
        """fit's validation data, checked completely before training: shapes here, and values
        (class ids in range, finite numbers) by one evaluation, since the library checks those
        only when it reads them. Errors name ``validation_data``."""
        if validation_data is None:
            return None
        try:
            validation = self._validation_arrays(validation_data)
            try:
                self._handle.evaluate(*validation)
            except NumericError:
                pass  # an infinite loss is no fault of the data: the per-epoch evaluation reports it
        except (InvalidArgument, InvalidType, NotFound) as error:
            if error.message.startswith("validation_data"):
                raise
            raise type(error)(f"validation_data: {error.message}", status=error.status, code=error.code) from None
        return validation

    def _validation_arrays(self, validation_data: Any) -> Tuple[Inputs, Targets]:
        if not isinstance(validation_data, tuple) or not 2 <= len(validation_data) <= 4:
            raise InvalidType("validation_data: expected a tuple (x, y), (x, y, lengths) or (x, y, lengths, "
                              f"target_lengths), got {type(validation_data).__name__}")
        x, y, *rest = validation_data
        lengths = rest[0] if rest else None
        target_lengths = rest[1] if len(rest) > 1 else None
        return self._fit_data(x, y, lengths, target_lengths)

    # --- Inference -------------------------------------------------------------------------

    def predict(self, x: Any, lengths: Any = None) -> np.ndarray:
        """The model's outputs ŷ (no dropout; weights untouched).

        Args:
            x: features [B, T, I] / token ids [B, T] (time-major [T, B, ...] with
                ``batch_first=False``), or a list of sequences.
            lengths: [B] lengths in 1...T, or None for T (or the lists' lengths).

        Returns:
            float32 probabilities ("classes": softmax, "binary": sigmoid) or values ("regression"):
            [B, T, K] (or [T, B, K]) for a tagger and a language model, 0 past each length;
            [B, K] for a classifier.
        """
        inputs = self._inputs(x, lengths)
        k = self.output_size
        if self._architecture == "classifier":
            return self._handle.predict(inputs, inputs.batch * k).reshape(inputs.batch, k)
        out = self._handle.predict(inputs, inputs.steps * inputs.batch * k)
        lead = (inputs.batch, inputs.steps) if self.batch_first else (inputs.steps, inputs.batch)
        return out.reshape(lead + (k,))

    def stream(self, batch: int = 1) -> Stream:
        """A streaming session for ``batch`` sequences (see :class:`seqcore.Stream`)."""
        return Stream(self, batch)

    # --- Training --------------------------------------------------------------------------

    def evaluate(self, x: Any, y: Any = None, lengths: Any = None, target_lengths: Any = None) -> float:
        """The loss on a batch (no dropout; weights and gradients untouched), reduced as the
        model's ``reduction`` says. Arguments as :meth:`fit`."""
        inputs, targets = self._fit_data(x, y, lengths, target_lengths)
        return self._handle.evaluate(inputs, targets)

    def train_step(self, x: Any, y: Any = None, lengths: Any = None, target_lengths: Any = None) -> float:
        """One optimizer step on one batch (gradients by BPTT, clipping, update); returns the loss
        before the update. Arguments as :meth:`fit`.

        Raises:
            NumericError: the loss or a gradient is NaN or infinite (weights unchanged).
        """
        inputs, targets = self._fit_data(x, y, lengths, target_lengths)
        return self._handle.train_step(inputs, targets)

    def compute_gradients(self, x: Any, y: Any = None, lengths: Any = None, target_lengths: Any = None) -> float:
        """Backpropagation through time on one batch without an optimizer step: the gradients of
        every parameter (read them with :meth:`gradients`) and of the per-step norms (see
        :meth:`gradient_norms`) are overwritten; the weights and the optimizer are not touched.
        Returns the loss. Arguments as :meth:`fit`.

        Raises:
            NumericError: the loss is NaN or infinite.
        """
        inputs, targets = self._fit_data(x, y, lengths, target_lengths)
        return self._handle.compute_gradients(inputs, targets)

    def input_gradient(self, x: Any, y: Any = None, lengths: Any = None, target_lengths: Any = None) -> np.ndarray:
        """∂L/∂x, the gradient of the batch's loss with respect to its inputs (PyTorch's ``x.grad``
        after ``loss.backward()``): shaped like the inputs the loss read, [B, T, I] (or [T, B, I]),
        0 past each length (a :class:`LanguageModel` given no ``y`` reads ``x[:, :-1]``).
        For token inputs, the gradient reaching each token's embedded vector, [B, T, E] (the
        embedding table's own gradient is ``gradients()["embedding.weight"]``); for seq2seq, of the
        encoder's input. Arguments as :meth:`fit`.

        It runs backpropagation on the batch (``seq_model_compute_gradients``, dropout active):
        the model's gradients are overwritten, its weights and optimizer are not.
        """
        inputs, targets = self._fit_data(x, y, lengths, target_lengths)
        flat = self._handle.input_gradient(inputs, targets)
        lead = (inputs.batch, inputs.steps) if self.batch_first else (inputs.steps, inputs.batch)
        return flat.reshape(lead + (flat.size // (inputs.batch * inputs.steps),))

    def gradient_norms(self, x: Any, y: Any = None, lengths: Any = None, target_lengths: Any = None) -> np.ndarray:
        """The vanishing-gradient diagnostic: the norm of ∂L/∂a<t> at every step t of the (encoder)
        recurrent stack, for one batch: [L·D, T], row k = layer·D + direction. A vanilla RNN's norms
        fall towards early steps where a GRU's or LSTM's do not. Arguments as :meth:`fit`.

        It runs backpropagation on the batch (``seq_model_compute_gradients``, dropout active):
        the model's gradients are overwritten, its weights and optimizer are not.
        """
        inputs, targets = self._fit_data(x, y, lengths, target_lengths)
        self._handle.compute_gradients(inputs, targets)
        return self._handle.gradient_norms()

    # --- Forward and backward, for a loss of your own ------------------------------------------

    def forward(self, x: Any, lengths: Any = None, *, initial_state: Any = None,
                training: bool = True) -> Tuple[np.ndarray, Any]:
        """The logits z, the head's output before any activation, for a loss of your own (what
        ``model(x, h0)`` returns in PyTorch when the module ends in a ``Linear``); then
        :meth:`backward` takes ∂L/∂z::

            model.zero_grad()
            z, state = model.forward(x, initial_state=state)     # state carried between pieces
            dz = my_loss_gradient(z)                             # numpy, same shape as z
            dx, dstate = model.backward(dz)                      # gradients accumulate
            model.apply_gradients()                              # clip, then the optimizer's step

        Args:
            x, lengths: as :meth:`predict`.
            initial_state: PyTorch's h0 [L·D, B, Hout], or ``(h0, c0)`` for an LSTM (c0
                [L·D, B, H], None for zeros), layer-major with a layer's reverse direction after
                its forward one; None for zeros.
            training: True (dropout active) keeps the pass for :meth:`backward`; False runs it as
                :meth:`predict` does and keeps none.

        Returns:
            ``(z, state)``: z [B, T, K] (or [T, B, K]) for a tagger or language model, 0 past each
            length; [B, K] for a classifier. ``state``: the final state h_n [L·D, B, Hout], or
            ``(h_n, c_n)`` for an LSTM, taken at each sequence's own length; for a stack whose
            direction is forward, the next piece's ``initial_state`` (a reverse direction's state
            is that of the piece's start).

        Raises:
            InvalidType: ``training`` not a bool.
        """
        if not isinstance(training, (bool, np.bool_)):
            raise InvalidType(f"training: expected True or False, got {type(training).__name__} {training!r}")
        inputs = self._inputs(x, lengths)
        h0, c0 = self._initial_state(initial_state, inputs.batch)
        k = self.output_size
        rows = inputs.batch if self._architecture == "classifier" else inputs.steps * inputs.batch
        z, h_n, c_n = self._handle.forward(inputs, h0, c0, bool(training), rows * k)
        if self._architecture == "classifier":
            z = z.reshape(inputs.batch, k)
        else:
            lead = (inputs.batch, inputs.steps) if self.batch_first else (inputs.steps, inputs.batch)
            z = z.reshape(lead + (k,))
        # The library checks ∂L/∂z's size only; the shape catches a [T, B, K] given for [B, T, K].
        self._logits_shape = z.shape if training else None
        return z, self._state_value(h_n, c_n, inputs.batch)

    def backward(self, grad: Any) -> Tuple[np.ndarray, Any]:
        """Backpropagates ∂L/∂z, shaped as the logits of the last ``forward(training=True)``,
        through the head and the recurrent stack (BPTT). Each parameter's gradient is added to
        (read them with :meth:`gradients`, clear them with :meth:`zero_grad`); a pass is
        backpropagated once. Values of ``grad`` past each length are ignored.

        Returns:
            ``(dx, dstate)``: ∂L/∂x shaped like the inputs (for token inputs, the gradient of
            each embedded vector, [B, T, E]), and ∂L/∂h0 [L·D, B, Hout] — ``(∂L/∂h0, ∂L/∂c0)``
            for an LSTM — of this backward alone.

        Raises:
            StateError: no ``forward(training=True)`` since the last backward, or the weights
                changed since it (an update or load_state_dict): run the forward again.
            InvalidArgument: ``grad`` of another shape, or NaN/infinite where it counts.
            NumericError: a finite ``grad`` whose backward overflows a gradient (gradients left
                as they were; the pass is spent).
        """
        array = features_array(grad, "grad")
        expected = getattr(self, "_logits_shape", None)
        if expected is not None and array.shape != expected:
            raise InvalidArgument(f"grad: expected the shape of the last forward's logits {list(expected)}, "
                                  f"got {list(array.shape)}")
        dx, dh, dc = self._handle.backward(array)
        batch = self._state_batch(dh)
        steps = dx.size // (batch * self._input_width())
        lead = (batch, steps) if self.batch_first else (steps, batch)
        return dx.reshape(lead + (self._input_width(),)), self._state_value(dh, dc, batch)

    def zero_grad(self) -> None:
        """Sets every gradient to zero (before the :meth:`backward` calls of a step)."""
        self._handle.zero_gradients()

    def apply_gradients(self) -> None:
        """One optimizer step from the current gradients (as :meth:`backward` left them): clipped
        as configured, then the configured optimizer's update and learning-rate schedule.

        Raises:
            NumericError: a gradient, or a weight after the update, would be NaN or infinite
                (weights and optimizer unchanged).
        """
        self._handle.apply_gradients()

    def _input_width(self) -> int:
        return int(self._config["embedding_size"]) if self.uses_tokens else self.input_size

    def _state_shapes(self, batch: int) -> Tuple[Tuple[int, int, int], Tuple[int, int, int]]:
        c = self._config
        k = int(c["num_layers"]) * (2 if c["direction"] == "bidirectional" else 1)
        hidden = int(c["hidden_size"])
        return (k, batch, int(c.get("proj_size") or hidden)), (k, batch, hidden)

    def _state_batch(self, h: np.ndarray) -> int:
        k, _, hout = self._state_shapes(1)[0]
        return h.size // (k * hout)

    def _state_value(self, h: np.ndarray, c: Optional[np.ndarray], batch: int) -> Any:
        h_shape, c_shape = self._state_shapes(batch)
        if c is None:
            return h.reshape(h_shape)
        return h.reshape(h_shape), c.reshape(c_shape)

    def _initial_state(self, state: Any, batch: int) -> Tuple[Optional[np.ndarray], Optional[np.ndarray]]:
        """h0 and c0 from ``initial_state`` (None, h0, or (h0, c0) for an LSTM), checked by shape."""
        if state is None:
            return None, None
        lstm = self._config["cell"] == "lstm"
        if isinstance(state, tuple):
            if not lstm or len(state) != 2:
                raise InvalidArgument("initial_state: expected h0 [L·D, B, Hout]" + (" or (h0, c0)" if lstm else "")
                                      + f", got a tuple of {len(state)}")
            h, c = state
        else:
            h, c = state, None
        h_shape, c_shape = self._state_shapes(batch)
        arrays = []
        for value, shape, name in ((h, h_shape, "h0"), (c, c_shape, "c0")):
            if value is None:
                arrays.append(None)
                continue
            array = features_array(value, f"initial_state {name}")
            if array.shape != shape:
                raise InvalidArgument(f"initial_state: {name} must have shape {list(shape)} ([L·D, B, "
                                      f"{'Hout' if name == 'h0' else 'H'}]), got {list(array.shape)}")
            arrays.append(array)
        if arrays[0] is None and arrays[1] is not None:
            arrays[0] = np.zeros(h_shape, np.float32)
        return arrays[0], arrays[1]

    def fit(
        self,
        x: Any,
        y: Any = None,
        *,
        lengths: Any = None,
        target_lengths: Any = None,
        epochs: int = 1,
        batch_size: int = 32,
        validation_data: Optional[tuple] = None,
        verbose: int = 1,
        patience: Optional[int] = None,
        restore_best: bool = True,
    ) -> History:
        """Trains by minibatch BPTT: ``epochs`` shuffled passes (seeded by the model's ``seed``)
        over the data, one optimizer step per batch of ``batch_size`` sequences (with the model's
        ``truncated_bptt=k``, one per window of k steps of the batch).

        Args:
            x: inputs, as :meth:`predict`.
            y: targets. Tagger: class ids [B, T] or values [B, T, K] (or lists per sequence).
                Classifier: class ids [B] or values [B, K]. Language model: next-token ids [B, T],
                or None to predict each sequence's own next tokens. Seq2seq: target token ids
                [B, Ty] or a list of sequences (without start and stop tokens).
            lengths: [B] input lengths, or None.
            target_lengths: seq2seq: [B] target lengths, or None.
            epochs: passes over the data, >= 1.
            batch_size: sequences per step.
            validation_data: ``(x, y)`` or ``(x, y, lengths[, target_lengths])``: its loss is
                computed after every epoch (``history.val_loss``).
            verbose: 0 silent, 1 a progress bar with loss and ETA (tqdm when installed), 2 a line
                per epoch.
            patience: stop when the validation loss (the training loss without validation data)
                has not improved for this many epochs; None never stops early.
            restore_best: with ``patience``, end with the weights of the best epoch.

        Returns:
            The :class:`History`: loss and validation loss per epoch, loss per batch.

        Raises:
            NumericError: a loss or gradient became NaN or infinite; training stopped with the
                weights of the last good step (the exception's ``history`` has the epochs so far).
        """
        epochs = check_int(epochs, "epochs", 1)
        batch_size = check_int(batch_size, "batch_size", 1)
        verbose = check_int(verbose, "verbose", 0)
        if verbose not in (0, 1, 2):
            raise InvalidArgument(f"verbose: expected 0 (silent), 1 (a progress bar) or 2 (a line per epoch), "
                                  f"got {verbose}")
        if patience is not None:
            patience = check_int(patience, "patience", 1)
        inputs, targets = self._fit_data(x, y, lengths, target_lengths)
        validation = self._validation(validation_data)
        batches = -(-inputs.batch // min(int(batch_size), inputs.batch))
        history = History()
        progress = ProgressBar(total=batches * int(epochs), epochs=int(epochs), verbose=int(verbose))
        tracker: Dict[str, Any] = {"error": None, "best": None, "best_state": None, "wait": 0}

        def on_progress(pointer: Any, user_data: Any) -> int:
            try:
                p = pointer.contents
                history.batch_loss.append(float(p.loss))
                progress.update(int(p.epoch), float(p.loss), float(p.epoch_loss))
                if p.batch < p.batches:
                    return 0
                history.loss.append(float(p.epoch_loss))
                history.learning_rate.append(float(p.learning_rate))
                val_loss = None
                if validation is not None:
                    val_loss = self._handle.evaluate(*validation)
                    history.val_loss.append(val_loss)
                progress.epoch_end(int(p.epoch), float(p.epoch_loss), val_loss)
                if patience is None:
                    return 0
                monitored = val_loss if val_loss is not None else float(p.epoch_loss)
                if tracker["best"] is None or monitored < tracker["best"]:
                    tracker["best"], tracker["wait"] = monitored, 0
                    history.best_epoch = int(p.epoch)
                    if restore_best:
                        tracker["best_state"] = self._handle.state_dict()
                    return 0
                tracker["wait"] += 1
                if tracker["wait"] >= patience:
                    history.stopped_early = True
                    return 1
                return 0
            except BaseException as error:  # e.g. KeyboardInterrupt: stop training, re-raise after
                tracker["error"] = error
                return 1

        callback = _capi.seq_progress_callback(on_progress)
        # The lock is held until the best weights are back, so no other call sees the last
        # epoch's weights in between.
        with self._handle._use() as h:
            try:
                with _Dataset(inputs, targets) as dataset, dataset._use() as d:
                    _capi.seq_model_fit(h, d, int(epochs), int(batch_size), callback, None)
            except NumericError as error:
                error.history = history  # type: ignore[attr-defined]
                raise
            finally:
                progress.close()
            if tracker["error"] is not None:
                raise tracker["error"]
            if restore_best and tracker["best_state"] is not None and history.best_epoch != history.epochs:
                self._handle.load_state_dict(tracker["best_state"])
            elif patience is None or not restore_best:
                history.best_epoch = None
        return history

    # --- Weights and files -----------------------------------------------------------------

    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Every weight under its PyTorch-style name (``embedding.weight`` [V, E],
        ``rnn.weight_ih_l0`` ..., ``head.weight`` [K, F], ``head.bias`` [K]; seq2seq adds
        ``decoder_embedding.weight`` and ``decoder.*``), as new float32 arrays."""
        return self._handle.state_dict()

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> None:
        """Sets weights by name (arrays, torch tensors or lists); all are checked (known name, exact
        shape, finite) before any is written. ``strict``: every parameter must be given."""
        self._handle.load_state_dict(state_dict, strict=strict)

    def gradients(self) -> "OrderedDict[str, np.ndarray]":
        """The gradients dL/dparameter left by the last :meth:`compute_gradients`, :meth:`train_step`
        or :meth:`fit` step (or accumulated by :meth:`backward` since :meth:`zero_grad`), by
        parameter name."""
        return self._handle.state_dict(gradients=True)

    def import_onnx(self, W: Any, R: Any, B: Any = None, P: Any = None, *, layer: int = 0,
                    stack: str = "rnn") -> None:
        """Sets one recurrent layer from an ONNX node's W, R, B, P (see
        :meth:`seqcore.LSTM.import_onnx`); ``stack`` "rnn" (the encoder of a seq2seq) or "decoder"."""
        if stack == "rnn":
            spec_options: Mapping[str, Any] = self._config
        elif stack == "decoder" and self._architecture == "seq2seq":
            spec_options = self._decoder_options()
        else:
            expected = "'rnn' or 'decoder'" if self._architecture == "seq2seq" else "'rnn'"
            raise InvalidArgument(f"stack: expected {expected}, got {stack!r}")
        with RecurrentLayer._from_options(spec_options) as spec:
            import_onnx_into(self._handle, stack, spec, W, R, B, P, layer)

    def _decoder_options(self) -> Dict[str, Any]:
        shape = self._handle.parameter_shape("decoder.weight_ih_l0")
        return dict(self._config, input_size=shape[1], direction="forward", merge="concat")

    def save(self, path: Any, *, include_optimizer: bool = False) -> None:
        """Writes the model (configuration and weights) to a safetensors file that
        ``safetensors.torch.load_file`` also reads (parameters under their PyTorch names);
        atomically: a crash never leaves a half-written file, and a failed save leaves the old one.
        Through a symbolic link, the file it names is replaced.

        ``include_optimizer=True`` also writes the training state: the optimizer's step count and
        buffers (moments, momentum) and the dropout generators, so that :func:`load` gives a model
        that trains on exactly where this one stopped (same losses and weights, bit for bit; a
        learning-rate schedule continues). The file is then a seqcore checkpoint, larger by the
        optimizer's buffers, whose parameters are named ``model.<name>``. Without it, a loaded
        model's optimizer starts afresh.
        """
        if not isinstance(include_optimizer, bool):
            raise InvalidType(f"include_optimizer: expected True or False, got {type(include_optimizer).__name__} "
                              f"{include_optimizer!r}")
        self._handle.save(path, checkpoint=include_optimizer)

    @classmethod
    def load(cls, path: Any, *, batch_first: bool = True) -> "SequenceModel":
        """Reads a model written by :meth:`save` (with its training state when saved with
        ``include_optimizer=True``): an instance of the architecture in the file (which must be
        ``cls`` or a subclass when called on a subclass).

        Raises:
            FileError: the file cannot be read (an OSError).
            FormatError: not a valid seqcore model file (a ValueError).
        """
        return _wrap(ModelHandle.load(path), cls, batch_first, lambda architecture, target: (
            target if target is not None and issubclass(target, cls) else
            InvalidArgument(f"{path}: holds a {architecture} model, not a {cls.__name__}")))

    def close(self) -> None:
        """Frees the model. Streams made from it stay usable until closed. Later use raises
        ClosedError."""
        self._handle.close()

    @property
    def closed(self) -> bool:
        return self._handle.closed

    def __enter__(self) -> "SequenceModel":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- Copies and pickling ---------------------------------------------------------------

    def __copy__(self) -> "SequenceModel":
        # A copy sharing the handle would share the weights, and close() on either would close
        # both: a copy is always a new model (see the class docstring).
        return _rebuild_model(type(self), self._handle.to_bytes(), self.batch_first)

    def __deepcopy__(self, memo: Dict[int, Any]) -> "SequenceModel":
        return self.__copy__()

    def __reduce__(self) -> Tuple[Any, ...]:
        return (_rebuild_model, (type(self), self._handle.to_bytes(), self.batch_first))


def _wrap(handle: ModelHandle, cls: Type["SequenceModel"], batch_first: bool,
          choose: Any) -> "SequenceModel":
    """The Python model around ``handle``: ``choose(architecture, class of that architecture)``
    gives the class to make, or the exception to raise (the handle is then closed)."""
    try:
        architecture = handle.config()["architecture"]
        chosen = choose(architecture, _ARCHITECTURES.get(architecture))
        if isinstance(chosen, BaseException):
            raise chosen
    except BaseException:
        handle.close()
        raise
    model = chosen.__new__(chosen)
    model._attach(handle, batch_first)
    return model


def _rebuild_model(cls: Type["SequenceModel"], data: bytes, batch_first: bool) -> "SequenceModel":
    """A model of class ``cls`` from the bytes of its checkpoint file (copies and unpickling)."""
    return _wrap(ModelHandle.from_bytes(data), cls, batch_first, lambda architecture, target: (
        cls if target is not None and issubclass(cls, target) else
        FormatError(f"data: holds a {architecture} model, not a {cls.__name__}")))


class _ConfigView:
    """Just enough of a layer, built from a model configuration, for RecurrentLayer.__repr__."""

    def __init__(self, c: Mapping[str, Any]) -> None:
        cell = c["cell"]
        self.input_size, self.hidden_size = c["input_size"], c["hidden_size"]
        self.num_layers, self.bias, self.batch_first = c["num_layers"] or 1, bool(c["bias"]), False
        self.dropout, self.direction, self.merge = c["dropout"] or 0.0, c["direction"], c["merge"]
        self.bidirectional = self.direction == "bidirectional"
        self._name = {"lstm": "LSTM", "gru": "GRU"}.get(cell, "RNN")
        self._extra = []
        if cell == "rnn_relu":
            self._extra.append("nonlinearity='relu'")
        if cell == "gru" and c.get("gru_variant") not in (None, "linear_before_reset"):
            self._extra.append(f"variant={c['gru_variant']!r}")
        if cell == "lstm" and c.get("proj_size"):
            self._extra.append(f"proj_size={c['proj_size']}")
        if cell == "lstm" and c.get("peepholes"):
            self._extra.append("peepholes=True")

    def _extra_repr(self) -> List[str]:
        return self._extra

    def _repr_name(self) -> str:
        return self._name


def _embedding_options(rnn: RecurrentLayer, vocab_size: int, embedding_size: Optional[int],
                       padding_index: Optional[int]) -> Dict[str, Any]:
    if not vocab_size:
        for name, value in (("padding_index", padding_index), ("embedding_size", embedding_size)):
            if value is not None:
                raise InvalidArgument(f"{name}: only token models (vocab_size > 0) have an embedding, got "
                                      f"{name}={value!r} without vocab_size")
        return {}
    if embedding_size is not None and embedding_size != rnn.input_size:
        raise InvalidArgument(f"embedding_size: the embedding feeds the recurrent stack, so it must equal the "
                              f"layer's input_size ({rnn.input_size}), got {embedding_size}")
    return {"vocab_size": vocab_size, "embedding_size": rnn.input_size, "padding_index": padding_index}


class SequenceTagger(SequenceModel):
    """Many-to-many, Tx = Ty: an output ŷ<t> = g(W_y a<t> + b_y) at every step.

    Args:
        rnn: the recurrent stack (:class:`~seqcore.LSTM`, ``GRU``, ``RNN``); its configuration and
            current weights start the model (the layer itself is not changed or kept).
        output_size: K, outputs per step (classes, or values).
        output: "classes" (softmax + cross-entropy, the default), "binary" (sigmoid + binary
            cross-entropy: the course's name tagger), "regression" (identity + MSE).
        vocab_size: V > 0 for token-id inputs through an embedding of size ``rnn.input_size``.
        padding_index: a token id whose embedding stays zero.
        reduction: "mean_over_steps" (default), "mean_over_batch" or "sum", masked by the lengths.
        ignore_index: a class label that contributes nothing to the loss.
        optimizer: "adam" (default), "adamw", "sgd", "rmsprop", with ``learning_rate`` (default
            1e-3), ``momentum``, ``weight_decay``, ``betas``, ``eps`` (torch.optim's defaults
            otherwise); or an optimizer object, :class:`seqcore.optim.SGD` (``dampening``,
            ``nesterov``), ``Adam``/``AdamW`` (``amsgrad``), ``RMSprop`` (``alpha``, ``centered``),
            all with ``maximize``, which then holds the learning rate and the other values.
        clip_norm, clip_value: gradient clipping by global norm / by value (None: none).
        lr_schedule: a :class:`seqcore.optim.LRSchedule` (step or cosine decay, linear warm-up) that
            sets the rate of every optimizer step from the learning rate; None: constant.
        truncated_bptt: k >= 1 makes :meth:`fit` train in windows of k steps, one optimizer step
            per window: each window starts from the state the previous one ended in, and the
            gradient stops at its first step (truncated BPTT, for sequences too long to
            backpropagate through whole). None: whole sequences. Stacks with direction forward only.
        seed: seed of the embedding/head initialisation, dropout and shuffling (default: the layer's).
        batch_first: data as [B, T, ...] (default) or time-major [T, B, ...].
    """

    _architecture = "tagger"

    def __init__(self, rnn: RecurrentLayer, output_size: int, *, output: str = "classes", vocab_size: int = 0,
                 embedding_size: Optional[int] = None, padding_index: Optional[int] = None,
                 reduction: str = "mean_over_steps", ignore_index: Optional[int] = None,
                 optimizer: Union[str, Optimizer] = "adam", learning_rate: Optional[float] = None,
                 momentum: Optional[float] = None, weight_decay: Optional[float] = None,
                 betas: Optional[Tuple[float, float]] = None, eps: Optional[float] = None,
                 clip_norm: Optional[float] = None, clip_value: Optional[float] = None,
                 lr_schedule: Optional[LRSchedule] = None, truncated_bptt: Optional[int] = None,
                 seed: Optional[int] = None, batch_first: bool = True) -> None:
        options = dict(
            _embedding_options(rnn, vocab_size, embedding_size, padding_index),
            output_size=output_size, output=output, reduction=reduction, ignore_index=ignore_index,
            **_training_options(optimizer, learning_rate, momentum, weight_decay, betas, eps, clip_norm, clip_value,
                                lr_schedule),
            **_window_options(truncated_bptt),
        )
        self._build(rnn, options, batch_first, seed)


class SequenceClassifier(SequenceModel):
    """Many-to-one: one output per sequence, ŷ = g(W_y a<T_b> + b_y) from each sequence's final
    state (both directions' for a bidirectional stack).

    Targets: class ids [B] ("classes") or values [B, K]. ``predict`` returns [B, K]. Other
    arguments as :class:`SequenceTagger`.
    """

    _architecture = "classifier"

    def __init__(self, rnn: RecurrentLayer, output_size: int, *, output: str = "classes", vocab_size: int = 0,
                 embedding_size: Optional[int] = None, padding_index: Optional[int] = None,
                 reduction: str = "mean_over_steps", ignore_index: Optional[int] = None,
                 optimizer: Union[str, Optimizer] = "adam", learning_rate: Optional[float] = None,
                 momentum: Optional[float] = None, weight_decay: Optional[float] = None,
                 betas: Optional[Tuple[float, float]] = None, eps: Optional[float] = None,
                 clip_norm: Optional[float] = None, clip_value: Optional[float] = None,
                 lr_schedule: Optional[LRSchedule] = None, seed: Optional[int] = None,
                 batch_first: bool = True) -> None:
        options = dict(
            _embedding_options(rnn, vocab_size, embedding_size, padding_index),
            output_size=output_size, output=output, reduction=reduction, ignore_index=ignore_index,
            **_training_options(optimizer, learning_rate, momentum, weight_decay, betas, eps, clip_norm, clip_value,
                                lr_schedule),
        )
        self._build(rnn, options, batch_first, seed)

    def _targets(self, y: Any, inputs: Inputs, target_lengths: Any = None) -> Targets:
        if target_lengths is not None:
            raise InvalidArgument("target_lengths: only seq2seq models take target lengths")
        k = self.output_size
        if self.output == "classes":
            ids = tokens_array(y, "y")
            if ids.shape not in ((inputs.batch,), (inputs.batch, 1)):
                raise InvalidArgument(f"y: expected class ids of shape [{inputs.batch}] ([B]), got {list(ids.shape)}")
            return Targets(ids=np.ascontiguousarray(ids.reshape(-1)), values=None, steps=1)
        values = features_array(y, "y")
        if values.ndim == 1 and k == 1:
            values = values.reshape(-1, 1)
        if values.shape != (inputs.batch, k):
            raise InvalidArgument(f"y: expected values of shape [{inputs.batch}, {k}] ([B, K]), got {list(values.shape)}")
        return Targets(ids=None, values=values, steps=1)


class LanguageModel(SequenceModel):
    """One-to-many: predicts the next token at every step, over a vocabulary of V tokens
    (embedding size ``rnn.input_size``); :meth:`generate` samples text, feeding each token back.

    ``fit(x)`` with no ``y`` trains on each sequence's own next tokens (inputs x<0..T-2>, targets
    x<1..T-1>). ``predict`` returns the next-token distributions [B, T, V]. Other arguments as
    :class:`SequenceTagger` (no ``output``: always classes).
    """

    _architecture = "language_model"

    def __init__(self, rnn: RecurrentLayer, vocab_size: int, *, embedding_size: Optional[int] = None,
                 padding_index: Optional[int] = None, reduction: str = "mean_over_steps",
                 ignore_index: Optional[int] = None,
                 optimizer: Union[str, Optimizer] = "adam", learning_rate: Optional[float] = None,
                 momentum: Optional[float] = None, weight_decay: Optional[float] = None,
                 betas: Optional[Tuple[float, float]] = None, eps: Optional[float] = None,
                 clip_norm: Optional[float] = None, clip_value: Optional[float] = None,
                 lr_schedule: Optional[LRSchedule] = None, truncated_bptt: Optional[int] = None,
                 seed: Optional[int] = None, batch_first: bool = True) -> None:
        check_int(vocab_size, "vocab_size", 1)
        options = dict(
            _embedding_options(rnn, vocab_size, embedding_size, padding_index),
            output_size=vocab_size, output="classes", reduction=reduction, ignore_index=ignore_index,
            **_training_options(optimizer, learning_rate, momentum, weight_decay, betas, eps, clip_norm, clip_value,
                                lr_schedule),
            **_window_options(truncated_bptt),
        )
        self._build(rnn, options, batch_first, seed)

    @property
    def vocab_size(self) -> int:
        return int(self._config["vocab_size"])

    def _fit_data(self, x: Any, y: Any, lengths: Any, target_lengths: Any, name: str = "x") -> Tuple[Inputs, Targets]:
        if y is not None:
            return super()._fit_data(x, y, lengths, target_lengths, name)
        if target_lengths is not None:
            raise InvalidArgument("target_lengths: only seq2seq models take target lengths")
        whole = self._inputs(x, lengths, name)
        if whole.steps < 2:
            raise InvalidArgument(f"{name}: next-token training needs sequences of at least 2 tokens, got T = 1")
        full = whole.effective_lengths()
        if np.any(full < 2):
            bad = int(np.argmax(full < 2))
            raise InvalidArgument(f"{name}: next-token training needs sequences of at least 2 tokens; "
                                  f"sequence {bad} has {int(full[bad])}")
        tokens = whole.tokens
        assert tokens is not None
        if self.batch_first:
            source, target = tokens[:, :-1], tokens[:, 1:]
        else:
            source, target = tokens[:-1], tokens[1:]
        inputs = Inputs(features=None, tokens=np.ascontiguousarray(source), steps=whole.steps - 1,
                        batch=whole.batch, input_size=1,
                        lengths=np.ascontiguousarray(full - 1, dtype=np.int64), batch_first=self.batch_first)
        return inputs, Targets(ids=np.ascontiguousarray(target), values=None, steps=whole.steps - 1)

    def _validation_arrays(self, validation_data: Any) -> Tuple[Inputs, Targets]:
        if not isinstance(validation_data, tuple):
            return self._fit_data(validation_data, None, None, None)
        return super()._validation_arrays(validation_data)

    def generate(self, prefix: Union[int, Sequence[int], np.ndarray], count: int, *, temperature: float = 1.0,
                 top_k: int = 0, seed: int = 0, stop_token: Optional[int] = None) -> np.ndarray:
        """Samples ``count`` tokens after ``prefix``, each fed back as the next input.

        Args:
            prefix: one token id or a sequence of ids [P], P >= 1, in 0...V-1.
            count: tokens to generate, >= 0.
            temperature: below 1 sharper, above 1 flatter; 0 picks the most likely token (greedy).
            top_k: sample among the k most likely tokens only; 0 for all.
            seed: the same prefix, arguments and seed give the same tokens.
            stop_token: stop after producing this token (included), or None.

        Returns:
            int32 token ids [N], N <= count (fewer when ``stop_token`` came), without the prefix.
        """
        ids = tokens_array(prefix, "prefix")
        if ids.ndim == 0:
            ids = ids.reshape(1)
        if ids.ndim != 1 or ids.size == 0:
            raise InvalidArgument(f"prefix: expected a non-empty sequence of token ids [P], got shape {list(ids.shape)}")
        stop = -1 if stop_token is None else check_int(stop_token, "stop_token", 0)
        return self._handle.generate(ids, check_int(count, "count", 0), check_float(temperature, "temperature"),
                                     check_int(top_k, "top_k"), check_int(seed, "seed"), stop)


class Seq2Seq(SequenceModel):
    """Many-to-many, Tx != Ty: an encoder (``rnn``) reads the source; its final state starts a
    decoder (same cell and sizes) that emits target tokens from ``start_token`` until
    ``stop_token``. Trained with teacher forcing; :meth:`decode` is greedy or sampled.

    Args:
        rnn: the encoder stack (the decoder is made to match it).
        target_vocab_size: K, the target vocabulary (the decoder's embedding and softmax).
        vocab_size: V > 0 for source token ids (else the source is features [B, T, I]).
        embedding_size: the decoder's embedding size (default: hidden_size; with source tokens the
            source embedding is ``rnn.input_size``).
        start_token, stop_token: decoder ids in 0...K-1 (defaults 0 and 1).
        Other arguments as :class:`SequenceTagger`.

    Targets for ``fit``: token ids [B, Ty] with ``target_lengths``, or a list of sequences, without
    start or stop token (the model adds them).
    """

    _architecture = "seq2seq"

    def __init__(self, rnn: RecurrentLayer, target_vocab_size: int, *, vocab_size: int = 0,
                 embedding_size: Optional[int] = None, padding_index: Optional[int] = None, start_token: int = 0,
                 stop_token: int = 1, reduction: str = "mean_over_steps", ignore_index: Optional[int] = None,
                 optimizer: Union[str, Optimizer] = "adam", learning_rate: Optional[float] = None,
                 momentum: Optional[float] = None, weight_decay: Optional[float] = None,
                 betas: Optional[Tuple[float, float]] = None, eps: Optional[float] = None,
                 clip_norm: Optional[float] = None, clip_value: Optional[float] = None,
                 lr_schedule: Optional[LRSchedule] = None, seed: Optional[int] = None,
                 batch_first: bool = True) -> None:
        embedding: Dict[str, Any] = {}
        if not vocab_size and padding_index is not None:
            raise InvalidArgument(f"padding_index: only token sources (vocab_size > 0) have an embedding with a "
                                  f"padding token, got padding_index={padding_index!r} without vocab_size")
        if vocab_size:
            embedding = {"vocab_size": vocab_size, "embedding_size": rnn.input_size, "padding_index": padding_index}
            if embedding_size is not None and embedding_size != rnn.input_size:
                raise InvalidArgument(f"embedding_size: with source tokens the embedding size is the layer's "
                                      f"input_size ({rnn.input_size}), got {embedding_size}")
        elif embedding_size is not None:
            embedding = {"embedding_size": embedding_size}
        options = dict(
            embedding, output_size=target_vocab_size, output="classes", reduction=reduction,
            ignore_index=ignore_index, start_token=start_token, stop_token=stop_token,
            **_training_options(optimizer, learning_rate, momentum, weight_decay, betas, eps, clip_norm, clip_value,
                                lr_schedule),
        )
        self._build(rnn, options, batch_first, seed)

    @property
    def decoder(self) -> RecurrentLayer:
        """A copy of the decoder stack as a layer."""
        return self._layer_copy("decoder.", self._decoder_options())

    def _targets(self, y: Any, inputs: Inputs, target_lengths: Any = None) -> Targets:
        if is_ragged(y):
            data, lengths = pad_sequences(y, tokens=True, width=None, batch_first=self.batch_first, name="y")
            if target_lengths is None:
                target_lengths = lengths
        else:
            data = tokens_array(y, "y")
            if data.ndim != 2:
                raise InvalidArgument(f"y: expected target token ids of shape {'[B, Ty]' if self.batch_first else '[Ty, B]'}, "
                                      f"got {list(data.shape)}")
        batch, steps = (data.shape[0], data.shape[1]) if self.batch_first else (data.shape[1], data.shape[0])
        if batch != inputs.batch:
            raise InvalidArgument(f"y: expected {inputs.batch} target sequences (one per source), got {batch}")
        return Targets(ids=data, values=None, steps=int(steps),
                       lengths=prepare_lengths(target_lengths, int(batch), int(steps), "target_lengths"))

    def predict(self, x: Any, lengths: Any = None) -> np.ndarray:
        """Not for seq2seq: use :meth:`decode`."""
        raise InvalidArgument("Seq2Seq.predict: a seq2seq model decodes; use decode()")

    def forward(self, x: Any, lengths: Any = None, *, initial_state: Any = None,
                training: bool = True) -> Tuple[np.ndarray, Any]:
        """Not for seq2seq: its decoder reads the targets; train with :meth:`train_step` or :meth:`fit`."""
        raise InvalidArgument("Seq2Seq.forward: a seq2seq model's loss is its own; use train_step() or fit()")

    def stream(self, batch: int = 1) -> Stream:
        """Not for seq2seq: the decoder needs the whole source."""
        raise InvalidArgument("Seq2Seq.stream: a seq2seq model cannot stream; use decode()")

    def decode(self, x: Any, lengths: Any = None, *, max_length: int = 50, temperature: float = 0.0,
               top_k: int = 0, seed: int = 0) -> List[np.ndarray]:
        """Encodes each source and decodes from ``start_token`` until ``stop_token`` or
        ``max_length`` tokens: greedy when ``temperature`` is 0, else sampled (``top_k``, ``seed``).

        Args:
            x: sources, as :meth:`SequenceModel.predict`.
            lengths: [B] source lengths, or None.

        Returns:
            B int32 arrays of target token ids, without the stop token.
        """
        max_length = check_int(max_length, "max_length", 1)
        inputs = self._inputs(x, lengths)
        out, out_lengths = self._handle.decode(inputs, max_length, check_float(temperature, "temperature"),
                                               check_int(top_k, "top_k"), check_int(seed, "seed"))
        tokens = out.reshape(inputs.batch, max_length) if self.batch_first else out.reshape(max_length, inputs.batch).T
        return [tokens[b, : int(out_lengths[b])].copy() for b in range(inputs.batch)]


_ARCHITECTURES: Dict[str, Type[SequenceModel]] = {
    "tagger": SequenceTagger,
    "classifier": SequenceClassifier,
    "language_model": LanguageModel,
    "seq2seq": Seq2Seq,
}


def load(path: Any, *, batch_first: bool = True) -> SequenceModel:
    """Reads a model file written by ``model.save(path)``: a :class:`SequenceTagger`,
    :class:`SequenceClassifier`, :class:`LanguageModel` or :class:`Seq2Seq` as the file says.

    Raises:
        FileError: the file cannot be read (an OSError).
        FormatError: not a valid seqcore model file (a ValueError).
    """
    return SequenceModel.load(path, batch_first=batch_first)
