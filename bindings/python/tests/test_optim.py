"""seqcore.optim: every optimizer option and learning-rate schedule, step by step against a numpy
transcription of torch.optim's update rules and torch.optim.lr_scheduler's closed forms (and, when
torch is installed, against torch itself)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import seqcore
from seqcore import errors
from seqcore.optim import SGD, Adam, AdamW, LRSchedule, RMSprop

from conftest import assert_close


def make_data(rng):
    x = rng.standard_normal((4, 6, 3)).astype(np.float32)
    y = rng.standard_normal((4, 6, 2)).astype(np.float32)
    return x, y


def make_model(optimizer, lr_schedule=None):
    return seqcore.SequenceTagger(seqcore.GRU(3, 5), 2, output="regression", optimizer=optimizer,
                                  lr_schedule=lr_schedule, seed=7)


class Reference:
    """torch.optim's update of one parameter array, in float64 (single-tensor path)."""

    def __init__(self, name, lr, **o):
        self.name, self.lr, self.o, self.state, self.t = name, lr, o, {}, 0

    def step(self, key, p, g):
        o, s = self.o, self.state.setdefault(key, {})
        p, g = p.astype(np.float64), g.astype(np.float64)
        if o.get("maximize"):
            g = -g
        t = self.t
        if self.name == "sgd":
            if o.get("weight_decay"):
                g = g + o["weight_decay"] * p
            if o.get("momentum"):
                b = g.copy() if t == 1 else o["momentum"] * s["b"] + (1 - o.get("dampening", 0)) * g
                s["b"] = b
                g = g + o["momentum"] * b if o.get("nesterov") else b
            return p - self.lr * g
        if self.name in ("adam", "adamw"):
            b1, b2, eps, wd = o["betas"][0], o["betas"][1], o["eps"], o["weight_decay"]
            if self.name == "adamw":
                p = p * (1 - self.lr * wd)
            elif wd:
                g = g + wd * p
            m = s.get("m", 0) * b1 + (1 - b1) * g
            v = s.get("v", 0) * b2 + (1 - b2) * g * g
            s["m"], s["v"] = m, v
            if o.get("amsgrad"):
                s["vmax"] = v = np.maximum(s.get("vmax", 0), v)
            denom = np.sqrt(v) / math.sqrt(1 - b2 ** t) + eps
            return p - self.lr / (1 - b1 ** t) * m / denom
        # rmsprop
        a, eps, wd, mu = o["alpha"], o["eps"], o["weight_decay"], o["momentum"]
        if wd:
            g = g + wd * p
        sq = s.get("sq", 0) * a + (1 - a) * g * g
        s["sq"] = sq
        if o.get("centered"):
            s["ga"] = ga = s.get("ga", 0) * a + (1 - a) * g
            d = np.sqrt(sq - ga * ga) + eps
        else:
            d = np.sqrt(sq) + eps
        if mu:
            s["b"] = b = s.get("b", 0) * mu + g / d
            return p - self.lr * b
        return p - self.lr * g / d


CASES = [
    (SGD(lr=0.05, momentum=0.9, nesterov=True), "sgd", dict(momentum=0.9, nesterov=True)),
    (SGD(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01), "sgd",
     dict(momentum=0.8, dampening=0.3, weight_decay=0.01)),
    (SGD(lr=0.05, momentum=0.5, maximize=True), "sgd", dict(momentum=0.5, maximize=True)),
    (Adam(lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.02, amsgrad=True), "adam",
     dict(betas=(0.8, 0.95), eps=1e-6, weight_decay=0.02, amsgrad=True)),
    (AdamW(lr=0.01, amsgrad=True, maximize=True), "adamw",
     dict(betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, amsgrad=True, maximize=True)),
    (RMSprop(lr=0.01, alpha=0.9, centered=True, momentum=0.5, weight_decay=0.01), "rmsprop",
     dict(alpha=0.9, eps=1e-8, weight_decay=0.01, momentum=0.5, centered=True)),
    (RMSprop(), "rmsprop", dict(alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0)),
]


@pytest.mark.parametrize("optimizer, name, options", CASES, ids=[repr(c[0]) for c in CASES])
def test_optimizer_steps_match_torch_rules(rng, optimizer, name, options):
    x, y = make_data(rng)
    model = make_model(optimizer)
    lr = optimizer.options()["learning_rate"]
    ref = Reference(name, lr, **options)
    for _ in range(6):
        model.compute_gradients(x, y)
        grads, before = model.gradients(), model.state_dict()
        ref.t += 1
        expected = {k: ref.step(k, before[k], grads[k]) for k in before}
        model.train_step(x, y)  # recomputes the same gradients (no dropout)
        after = model.state_dict()
        for k in after:
            assert_close(after[k], expected[k], rtol=1e-5, atol=1e-6, label=f"{optimizer!r} {k} step {ref.t}")
        moved = max(float(np.abs(after[k] - before[k]).max()) for k in after)
        assert moved > 1e-4, "the step changed the weights"


def rates(base, n, kind="constant", step_size=None, gamma=0.1, period=None, min_lr=0.0, warmup=0, start=1 / 3):
    """torch's LinearLR then StepLR / CosineAnnealingLR / nothing (SequentialLR), in closed form."""
    out = []
    for i in range(n):
        if i < warmup:
            out.append(base * (start + (1 - start) * i / warmup))
            continue
        m = i - warmup
        if kind == "step":
            out.append(base * gamma ** (m // step_size))
        elif kind == "cosine":
            out.append(min_lr + (base - min_lr) * (1 + math.cos(math.pi * m / period)) / 2)
        else:
            out.append(base)
    return out


SCHEDULES = [
    (LRSchedule("step", step_size=3, gamma=0.5), dict(kind="step", step_size=3, gamma=0.5)),
    (LRSchedule("step", step_size=2), dict(kind="step", step_size=2)),
    (LRSchedule("cosine", period=5, min_lr=1e-3), dict(kind="cosine", period=5, min_lr=1e-3)),
    (LRSchedule("cosine", period=4, warmup_steps=3, warmup_start_factor=0.25),
     dict(kind="cosine", period=4, warmup=3, start=0.25)),
    (LRSchedule(warmup_steps=4), dict(warmup=4)),
]


@pytest.mark.parametrize("schedule, spec", SCHEDULES, ids=[repr(s[0]) for s in SCHEDULES])
def test_schedule_sets_every_steps_rate(rng, schedule, spec):
    x, y = make_data(rng)
    model = make_model(SGD(lr=0.1, momentum=0.9), schedule)
    seen = []
    for _ in range(12):
        seen.append(model.learning_rate)
        model.train_step(x, y)
    assert_close(seen, rates(0.1, 12, **spec), rtol=1e-12, atol=1e-15, label=repr(schedule))
    # The steps really use them: the same model without a schedule, given the rates by hand.
    manual = make_model(SGD(lr=0.1, momentum=0.9))
    for rate in seen:
        manual.learning_rate = rate
        manual.train_step(x, y)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, manual.state_dict()[k], err_msg=k)


def test_schedule_base_rate_follows_assignment_and_fit_reports_rates(rng):
    x, y = make_data(rng)
    model = make_model(Adam(lr=0.01), LRSchedule("step", step_size=2, gamma=0.1))
    model.train_step(x, y)
    model.train_step(x, y)
    assert model.learning_rate == pytest.approx(1e-3, rel=1e-12)
    model.learning_rate = 0.02  # a new base: step 2 of the schedule over it
    assert model.learning_rate == pytest.approx(2e-3, rel=1e-12)
    assert model.config["learning_rate"] == 0.02
    history = model.fit(x, y, epochs=4, batch_size=2, verbose=0)  # two steps per epoch: steps 2..9
    # The rate of each epoch's last step.
    assert_close(history.learning_rate, rates(0.02, 10, "step", step_size=2)[3::2], rtol=1e-12, atol=1e-15)
    assert model.learning_rate == pytest.approx(0.02 * 0.1 ** 5, rel=1e-12)


def test_configuration_is_kept_in_files(tmp_path, rng):
    x, y = make_data(rng)
    schedule = LRSchedule("cosine", period=6, min_lr=1e-4, warmup_steps=2)
    model = make_model(RMSprop(lr=0.02, alpha=0.95, centered=True), schedule)
    for _ in range(3):
        model.train_step(x, y)
    path = tmp_path / "m.safetensors"
    model.save(path)
    loaded = seqcore.load(path)
    for key in ("optimizer", "alpha", "centered", "lr_schedule", "lr_period", "lr_min", "warmup_steps"):
        assert loaded.config[key] == model.config[key], key
    assert loaded.config["centered"] == 1 and loaded.config["lr_period"] == 6
    # The optimizer starts afresh in a loaded model, and with it the schedule.
    assert loaded.learning_rate == pytest.approx(0.02 / 3, rel=1e-12)


def test_bad_options_name_the_argument():
    def fails(exc, match, f):
        with pytest.raises(exc, match=match):
            f()

    fails(errors.InvalidArgument, "nesterov", lambda: SGD(nesterov=True))
    fails(errors.InvalidArgument, "nesterov", lambda: SGD(momentum=0.9, dampening=0.1, nesterov=True))
    fails(errors.InvalidArgument, "lr", lambda: SGD(lr=-1))
    fails(errors.InvalidArgument, r"betas\[1\]", lambda: Adam(betas=(0.9, 1.0)))
    fails(errors.InvalidType, "betas", lambda: AdamW(betas=0.9))
    fails(errors.InvalidArgument, "alpha", lambda: RMSprop(alpha=1.5))
    fails(errors.InvalidType, "amsgrad", lambda: Adam(amsgrad="yes"))
    fails(errors.InvalidArgument, "eps", lambda: RMSprop(eps=float("nan")))
    fails(errors.InvalidArgument, "kind", lambda: LRSchedule("linear"))
    fails(errors.InvalidArgument, "step_size", lambda: LRSchedule("step"))
    fails(errors.InvalidArgument, "step_size", lambda: LRSchedule("cosine", period=3, step_size=2))
    fails(errors.InvalidArgument, "period", lambda: LRSchedule("cosine", period=0))
    fails(errors.InvalidArgument, "warmup_start_factor", lambda: LRSchedule(warmup_start_factor=0.5))
    fails(errors.InvalidArgument, "warmup_start_factor", lambda: LRSchedule(warmup_steps=2, warmup_start_factor=0))
    fails(errors.InvalidArgument, "learning_rate", lambda: make_model(SGD()).__class__(
        seqcore.GRU(3, 5), 2, optimizer=SGD(), learning_rate=0.1))
    fails(errors.InvalidType, "optimizer", lambda: make_model(3))
    fails(errors.InvalidType, "lr_schedule", lambda: make_model("adam", "cosine"))
    # The string form reaches the library's own checks, which name the key.
    fails(errors.InvalidArgument, "momentum", lambda: seqcore.SequenceTagger(
        seqcore.GRU(3, 5), 2, optimizer="adam", momentum=0.9))


def test_c_keys_are_checked_together(rng):
    """Keys of another optimizer or schedule are refused, not ignored (the C configuration)."""
    from seqcore._model import ModelHandle

    base = dict(cell="gru", input_size=3, hidden_size=4, output_size=2)
    for extra, key in [(dict(optimizer="adam", nesterov=1), "nesterov"), (dict(optimizer="sgd", amsgrad=1), "amsgrad"),
                       (dict(optimizer="adamw", centered=1), "centered"), (dict(optimizer="sgd", alpha=0.5), "alpha"),
                       (dict(lr_schedule="cosine", lr_step_size=3, lr_period=4), "lr_step_size"),
                       (dict(lr_schedule="cosine"), "lr_period"), (dict(lr_schedule="step"), "lr_step_size"),
                       (dict(lr_gamma=0.5), "lr_gamma"), (dict(warmup_start_factor=0.5), "warmup_start_factor"),
                       (dict(optimizer="sgd", nesterov=1), "nesterov")]:
        with pytest.raises(errors.InvalidArgument, match=key):
            ModelHandle.create(dict(base, **extra)).close()


def test_against_torch_optim_and_schedulers(rng):
    torch = pytest.importorskip("torch")
    x, y = make_data(rng)
    cases = [
        (SGD(lr=0.05, momentum=0.9, nesterov=True), LRSchedule("step", step_size=3, gamma=0.5),
         lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
         lambda o: torch.optim.lr_scheduler.StepLR(o, 3, 0.5)),
        (AdamW(lr=0.01, amsgrad=True), LRSchedule("cosine", period=5, min_lr=1e-3, warmup_steps=2,
                                                  warmup_start_factor=0.5),
         lambda p: torch.optim.AdamW(p, lr=0.01, amsgrad=True),
         lambda o: torch.optim.lr_scheduler.SequentialLR(o, [torch.optim.lr_scheduler.LinearLR(o, 0.5, 1.0, 2),
                                                             torch.optim.lr_scheduler.CosineAnnealingLR(o, 5, 1e-3)],
                                                         milestones=[2])),
        (RMSprop(lr=0.01, alpha=0.9, centered=True, momentum=0.3, maximize=True), None,
         lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, centered=True, momentum=0.3, maximize=True), None),
    ]
    for optimizer, schedule, make_torch, make_scheduler in cases:
        model = make_model(optimizer, schedule)
        params = {k: torch.tensor(v.astype(np.float64), requires_grad=True) for k, v in model.state_dict().items()}
        opt = make_torch(list(params.values()))
        scheduler = make_scheduler(opt) if make_scheduler else None
        for step in range(10):
            assert model.learning_rate == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12)
            model.compute_gradients(x, y)
            for k, g in model.gradients().items():
                params[k].grad = torch.tensor(g.astype(np.float64))
            model.train_step(x, y)
            opt.step()
            if scheduler:
                scheduler.step()
            # Both from the same weights each step, so float32 rounding does not accumulate.
            for k, v in model.state_dict().items():
                assert_close(v, params[k].detach().numpy(), rtol=1e-5, atol=1e-6, label=f"{optimizer!r} {k} {step}")
                with torch.no_grad():
                    params[k].copy_(torch.tensor(v.astype(np.float64)))


def test_training_state_travels_in_checkpoints_and_copies(tmp_path, rng):
    """Saved with include_optimizer=True (or copied), a model trains on exactly as the original:
    Adam's moments and step count, the schedule's position and the dropout generators travel."""
    import copy
    import pickle

    x, y = make_data(rng)

    def make():
        return seqcore.SequenceTagger(seqcore.GRU(3, 5, num_layers=2, dropout=0.3), 2, output="regression",
                                      optimizer=Adam(lr=0.02, amsgrad=True),
                                      lr_schedule=LRSchedule("cosine", period=6, warmup_steps=2), seed=3)

    model = make()
    for _ in range(3):
        model.train_step(x, y)
    checkpoint, plain = tmp_path / "run.ckpt", tmp_path / "model.safetensors"
    model.save(checkpoint, include_optimizer=True)
    model.save(plain)
    assert checkpoint.stat().st_size > 2 * plain.stat().st_size  # three Adam buffers beside the weights
    resumed, restarted = seqcore.load(checkpoint), seqcore.load(plain)
    clones = [copy.deepcopy(model), pickle.loads(pickle.dumps(model))]
    assert resumed.learning_rate == model.learning_rate and restarted.learning_rate == pytest.approx(0.02 / 3)
    losses = {id(m): [] for m in [model, resumed, restarted, *clones]}
    for _ in range(3):
        for m in [model, resumed, restarted, *clones]:
            losses[id(m)].append(m.train_step(x, y))
    expected = model.state_dict()
    for m in [resumed, *clones]:
        assert losses[id(m)] == losses[id(model)]
        for k, v in m.state_dict().items():
            np.testing.assert_array_equal(v, expected[k], err_msg=k)
    assert any(not np.array_equal(v, expected[k]) for k, v in restarted.state_dict().items())
    with pytest.raises(errors.InvalidType, match="include_optimizer"):
        model.save(checkpoint, include_optimizer="yes")
