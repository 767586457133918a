"""Optimizers and learning-rate schedules, with torch.optim's names, arguments and defaults.

A model is given one at construction; the library runs it (the update formulas are torch.optim's,
step for step)::

    tagger = seqcore.SequenceTagger(seqcore.GRU(8, 32), 5,
                                    optimizer=seqcore.optim.SGD(lr=0.1, momentum=0.9, nesterov=True),
                                    lr_schedule=seqcore.optim.LRSchedule("cosine", period=1000, warmup_steps=50))

The plain string form (``optimizer="sgd", learning_rate=0.1, momentum=0.9``) is the same
optimizer with torch's other defaults. Values are checked by the library when the model is made;
a wrong one raises :class:`~seqcore.InvalidArgument` naming the option.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Optional, Tuple

from ._arrays import check_float, check_int
from .errors import InvalidArgument, InvalidType

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "LRSchedule"]


def _flag(value: Any, name: str) -> int:
    if not isinstance(value, (bool, int)) or value not in (0, 1):
        raise InvalidType(f"{name}: expected True or False, got {type(value).__name__} {value!r}")
    return int(value)


def _number(value: Any, name: str, below_one: bool = False) -> float:
    """A finite number >= 0 (and < 1 with ``below_one``), named as the argument: the library checks
    the same ranges, but under its configuration keys' names."""
    v = check_float(value, name)
    if not (math.isfinite(v) and v >= 0 and (v < 1 or not below_one)):
        raise InvalidArgument(f"{name}: expected a finite number >= 0{' and < 1' if below_one else ''}, got {value!r}")
    return v


def _betas(betas: Any) -> Tuple[float, float]:
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise InvalidType(f"betas: expected a pair (beta1, beta2), got {betas!r}")
    return _number(betas[0], "betas[0]", True), _number(betas[1], "betas[1]", True)


class Optimizer:
    """Base of :class:`SGD`, :class:`Adam`, :class:`AdamW` and :class:`RMSprop`: an algorithm and
    its hyperparameters, as configuration keys (see seqcore.h, ``seq_config``)."""

    _name = ""

    def __init__(self, args: Dict[str, Any], **options: Any) -> None:
        # `args`: the constructor's arguments as given, for repr; `options`: configuration keys.
        self._args = {k: v for k, v in args.items() if k not in ("self", "__class__", "beta1", "beta2")}
        self._options: Dict[str, Any] = options

    def options(self) -> Dict[str, Any]:
        """The configuration keys of this optimizer."""
        return dict(self._options, optimizer=self._name)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._args.items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.options() == self.options()


class SGD(Optimizer):
    """``torch.optim.SGD``: momentum (with dampening, or Nesterov's), L2 weight decay."""

    _name = "sgd"

    def __init__(self, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False, *, maximize: bool = False) -> None:
        if nesterov and (_number(momentum, "momentum") <= 0 or _number(dampening, "dampening") != 0):
            raise InvalidArgument(f"nesterov: needs momentum > 0 and dampening 0, got momentum {momentum!r} and "
                                  f"dampening {dampening!r}")
        super().__init__(dict(locals()), learning_rate=_number(lr, "lr"),
                         momentum=_number(momentum, "momentum"),
                         dampening=_number(dampening, "dampening"), weight_decay=_number(weight_decay, "weight_decay"),
                         nesterov=_flag(nesterov, "nesterov"), maximize=_flag(maximize, "maximize"))


class Adam(Optimizer):
    """``torch.optim.Adam``: weight decay added to the gradient (L2), optionally AMSGrad."""

    _name = "adam"

    def __init__(self, lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, *, maximize: bool = False) -> None:
        beta1, beta2 = _betas(betas)
        super().__init__(dict(locals()), learning_rate=_number(lr, "lr"), beta1=beta1, beta2=beta2,
                         epsilon=_number(eps, "eps"),
                         weight_decay=_number(weight_decay, "weight_decay"), amsgrad=_flag(amsgrad, "amsgrad"),
                         maximize=_flag(maximize, "maximize"))


class AdamW(Optimizer):
    """``torch.optim.AdamW``: Adam with decoupled weight decay, optionally AMSGrad."""

    _name = "adamw"

    def __init__(self, lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False) -> None:
        beta1, beta2 = _betas(betas)
        super().__init__(dict(locals()), learning_rate=_number(lr, "lr"), beta1=beta1, beta2=beta2,
                         epsilon=_number(eps, "eps"),
                         weight_decay=_number(weight_decay, "weight_decay"), amsgrad=_flag(amsgrad, "amsgrad"),
                         maximize=_flag(maximize, "maximize"))


class RMSprop(Optimizer):
    """``torch.optim.RMSprop``: smoothing ``alpha``, optionally centered and with momentum."""

    _name = "rmsprop"

    def __init__(self, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0,
                 momentum: float = 0.0, centered: bool = False, *, maximize: bool = False) -> None:
        super().__init__(dict(locals()), learning_rate=_number(lr, "lr"), alpha=_number(alpha, "alpha", True),
                         epsilon=_number(eps, "eps"), weight_decay=_number(weight_decay, "weight_decay"),
                         momentum=_number(momentum, "momentum"), centered=_flag(centered, "centered"),
                         maximize=_flag(maximize, "maximize"))


class LRSchedule:
    """The learning rate of every optimizer step as a function of n, the steps taken before it
    (every batch is a step; ``fit`` and ``train_step`` count alike; a loaded model starts at 0).

    ``kind``: "constant" (the base rate), "step" (torch ``StepLR``: times ``gamma`` every
    ``step_size`` steps) or "cosine" (torch ``CosineAnnealingLR``: half a cosine from the base rate
    down to ``min_lr`` over ``period`` steps, rising again after it). ``warmup_steps`` W > 0 first
    rises linearly from ``warmup_start_factor`` times the base rate (torch ``LinearLR``); the schedule
    then starts at n = W (torch ``SequentialLR``). The base rate is the optimizer's learning rate;
    assigning ``model.learning_rate`` later changes the base, and ``model.learning_rate`` reads the
    rate of the next step.
    """

    _kinds = ("constant", "step", "cosine")

    def __init__(self, kind: str = "constant", *, step_size: Optional[int] = None, gamma: Optional[float] = None,
                 period: Optional[int] = None, min_lr: Optional[float] = None, warmup_steps: int = 0,
                 warmup_start_factor: Optional[float] = None) -> None:
        if kind not in self._kinds:
            raise InvalidArgument(f"kind: expected one of {', '.join(map(repr, self._kinds))}, got {kind!r}")
        for name, value, owner in (("step_size", step_size, "step"), ("gamma", gamma, "step"),
                                   ("period", period, "cosine"), ("min_lr", min_lr, "cosine")):
            if value is not None and kind != owner:
                raise InvalidArgument(f"{name}: only for kind {owner!r}, got {value!r} with kind {kind!r}")
        if kind == "step":
            step_size = check_int(step_size, "step_size", 1) if step_size is not None else None
            if step_size is None:
                raise InvalidArgument("step_size: required with kind 'step', got None")
        if kind == "cosine":
            period = check_int(period, "period", 1) if period is not None else None
            if period is None:
                raise InvalidArgument("period: required with kind 'cosine', got None")
        warmup_steps = check_int(warmup_steps, "warmup_steps", 0)
        if warmup_start_factor is not None:
            if warmup_steps == 0:
                raise InvalidArgument(f"warmup_start_factor: only with warmup_steps >= 1, got {warmup_start_factor!r}")
            f = check_float(warmup_start_factor, "warmup_start_factor")
            if not 0 < f <= 1:
                raise InvalidArgument(f"warmup_start_factor: expected a number in (0, 1], got {warmup_start_factor!r}")
        self.kind = kind
        self._options: Dict[str, Any] = {
            "lr_schedule": kind, "lr_step_size": step_size,
            "lr_gamma": None if gamma is None else _number(gamma, "gamma"), "lr_period": period,
            "lr_min": None if min_lr is None else _number(min_lr, "min_lr"), "warmup_steps": warmup_steps,
            "warmup_start_factor": warmup_start_factor,
        }

    def options(self) -> Dict[str, Any]:
        """The configuration keys of this schedule (None: unset)."""
        return dict(self._options)

    def __repr__(self) -> str:
        names = {"lr_step_size": "step_size", "lr_gamma": "gamma", "lr_period": "period", "lr_min": "min_lr",
                 "warmup_steps": "warmup_steps", "warmup_start_factor": "warmup_start_factor"}
        args = "".join(f", {names[k]}={v!r}" for k, v in self._options.items() if k in names and v not in (None, 0))
        return f"LRSchedule({self.kind!r}{args})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LRSchedule) and other.options() == self.options()
