#!/usr/bin/env python3
"""Writes the optimizer goldens Tests/Fixtures/optim_*.json from torch.optim (float64).

Run with the reference environment (torch installed):

    /root/venv-ref/bin/python Tests/Fixtures/make_optimizer_fixtures.py

Every case uses two parameter tensors (shapes [3, 4] and [5]) so the golden exercises PyTorch's
per-tensor loop while seqcore sees one flat buffer of 17 scalars (the tensors back to back).
Arrays are stored flat, in that order. Each optimizer case takes 3 steps with a new gradient each
step and records the parameters after every step and the optimizer state after the last one.
The output is deterministic: re-running the script rewrites identical files.
"""

import json
import math
import os

import torch

torch.set_default_dtype(torch.float64)
HERE = os.path.dirname(os.path.abspath(__file__))
SHAPES = [[3, 4], [5]]
STEPS = 3


def flat(tensors):
    return [float(x) for t in tensors for x in t.detach().reshape(-1).tolist()]


def make_params(gen):
    return [torch.randn(*s, generator=gen) for s in SHAPES]


def make_grads(gen, scale=1.0):
    return [[torch.randn(*s, generator=gen) * scale for s in SHAPES] for _ in range(STEPS)]


def run_optimizer(name, algorithm, lr, options, seed, grad_scale=1.0):
    """One golden: `options` uses seqcore's names; `make` builds the torch optimizer."""
    gen = torch.Generator().manual_seed(seed)
    initial = make_params(gen)
    grads = make_grads(gen, grad_scale)
    params = [p.clone().requires_grad_(True) for p in initial]
    maximize = options.get("maximize", False)
    wd = options.get("weight_decay", 0.0)
    if algorithm == "sgd":
        opt = torch.optim.SGD(params, lr=lr, momentum=options.get("momentum", 0.0),
                              dampening=options.get("dampening", 0.0), nesterov=options.get("nesterov", False),
                              weight_decay=wd, maximize=maximize, foreach=False)
    elif algorithm in ("adam", "adamw"):
        cls = torch.optim.Adam if algorithm == "adam" else torch.optim.AdamW
        opt = cls(params, lr=lr, betas=(options.get("beta1", 0.9), options.get("beta2", 0.999)),
                  eps=options.get("epsilon", 1e-8), weight_decay=wd, amsgrad=options.get("amsgrad", False),
                  maximize=maximize, foreach=False)
    elif algorithm == "rmsprop":
        opt = torch.optim.RMSprop(params, lr=lr, alpha=options.get("alpha", 0.99), eps=options.get("epsilon", 1e-8),
                                  weight_decay=wd, momentum=options.get("momentum", 0.0),
                                  centered=options.get("centered", False), maximize=maximize, foreach=False)
    else:
        raise ValueError(algorithm)
    expected = []
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = g.clone()
        opt.step()
        expected.append(flat(params))
    state = {}
    keys = sorted(k for k in opt.state[params[0]].keys() if k != "step")
    for k in keys:
        state[k] = flat([opt.state[p][k] for p in params])
    step = opt.state[params[0]].get("step")
    return {
        "name": name,
        "algorithm": algorithm,
        "lr": lr,
        "options": options,
        "shapes": SHAPES,
        "params": flat(initial),
        "grads": [flat(g) for g in grads],
        "expected": expected,
        "state": state,
        "step": int(step) if step is not None else STEPS,
    }


def optimizer_cases():
    sgd = [
        ("sgd_plain", 0.1, {}),
        ("sgd_momentum", 0.05, {"momentum": 0.9}),
        ("sgd_momentum_dampening_weight_decay", 0.05, {"momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
        ("sgd_nesterov_weight_decay", 0.03, {"momentum": 0.8, "nesterov": True, "weight_decay": 0.05}),
        ("sgd_maximize_momentum", 0.02, {"momentum": 0.5, "maximize": True}),
    ]
    adam = [
        ("adam_default", 0.01, {}),
        ("adam_betas_eps_weight_decay", 0.02, {"beta1": 0.8, "beta2": 0.95, "epsilon": 1e-6, "weight_decay": 0.1}),
        ("adam_amsgrad_weight_decay", 0.01, {"amsgrad": True, "weight_decay": 0.01}),
        ("adam_small_beta1", 0.05, {"beta1": 0.3, "beta2": 0.9}),
        ("adam_maximize", 0.01, {"maximize": True}),
    ]
    adamw = [
        ("adamw_default", 0.01, {"weight_decay": 0.01}),
        ("adamw_strong_decay", 0.05, {"weight_decay": 0.5}),
        ("adamw_amsgrad_small_beta1", 0.02, {"beta1": 0.5, "beta2": 0.9, "weight_decay": 0.1, "amsgrad": True}),
        ("adamw_no_decay", 0.01, {"weight_decay": 0.0, "epsilon": 1e-3}),
    ]
    rmsprop = [
        ("rmsprop_default", 0.01, {}),
        ("rmsprop_momentum", 0.01, {"momentum": 0.9}),
        ("rmsprop_centered", 0.01, {"centered": True}),
        ("rmsprop_centered_momentum_weight_decay", 0.005,
         {"alpha": 0.9, "momentum": 0.5, "centered": True, "weight_decay": 0.1, "epsilon": 1e-4}),
        ("rmsprop_small_alpha_centered", 0.01, {"alpha": 0.3, "centered": True}),
        ("rmsprop_maximize_weight_decay", 0.01, {"maximize": True, "weight_decay": 0.01}),
    ]
    out = {}
    seed = 100
    for algorithm, cases in (("sgd", sgd), ("adam", adam), ("adamw", adamw), ("rmsprop", rmsprop)):
        out[algorithm] = []
        for name, lr, options in cases:
            seed += 1
            out[algorithm].append(run_optimizer(name, algorithm, lr, options, seed))
    return out


def clipping_cases():
    cases = []
    seed = 500
    for name, kind, limit, norm_type, scale in [
        ("norm_l2_clipped", "norm", 1.0, 2.0, 3.0),
        ("norm_l2_not_clipped", "norm", 100.0, 2.0, 1.0),
        ("norm_l1_clipped", "norm", 2.0, 1.0, 1.0),
        ("norm_linf_clipped", "norm", 0.5, math.inf, 2.0),
        ("norm_l3_clipped", "norm", 0.7, 3.0, 1.0),
        ("value_clipped", "value", 0.5, None, 1.0),
    ]:
        seed += 1
        gen = torch.Generator().manual_seed(seed)
        grads = [torch.randn(*s, generator=gen) * scale for s in SHAPES]
        params = [torch.zeros(*s, requires_grad=True) for s in SHAPES]
        for p, g in zip(params, grads):
            p.grad = g.clone()
        case = {"name": name, "kind": kind, "limit": limit, "grads": flat(grads)}
        if kind == "norm":
            total = torch.nn.utils.clip_grad_norm_(params, max_norm=limit, norm_type=norm_type, foreach=False)
            case["norm_type"] = "inf" if math.isinf(norm_type) else norm_type
            case["total_norm"] = float(total)
        else:
            torch.nn.utils.clip_grad_value_(params, clip_value=limit, foreach=False)
        case["expected"] = flat([p.grad for p in params])
        cases.append(case)
    return cases


def schedule_cases():
    """Learning rates after n = 0, 1, ... scheduler steps (get_last_lr() after n calls)."""
    cases = []

    def record(name, base, spec, make, epochs):
        p = torch.zeros(1, requires_grad=True)
        opt = torch.optim.SGD([p], lr=base)
        sched = make(opt)
        rates = []
        for _ in range(epochs):
            rates.append(float(sched.get_last_lr()[0]))
            opt.step()
            sched.step()
        cases.append({"name": name, "base_rate": base, **spec, "rates": rates})

    S = torch.optim.lr_scheduler
    record("step", 0.1, {"decay": "step", "step_size": 3, "gamma": 0.5},
           lambda o: S.StepLR(o, step_size=3, gamma=0.5), 20)
    record("cosine_past_period", 0.1, {"decay": "cosine", "period": 10, "minimum": 0.001},
           lambda o: S.CosineAnnealingLR(o, T_max=10, eta_min=0.001), 25)
    record("warmup_only", 0.2, {"decay": "constant", "warmup_steps": 5, "warmup_start_factor": 0.25},
           lambda o: S.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=5), 10)
    record("warmup_then_cosine", 0.05,
           {"decay": "cosine", "period": 8, "minimum": 0.0, "warmup_steps": 4, "warmup_start_factor": 1 / 3},
           lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=1 / 3, end_factor=1.0, total_iters=4),
                                        S.CosineAnnealingLR(o, T_max=8, eta_min=0.0)], milestones=[4]), 20)
    record("warmup_then_step", 0.3,
           {"decay": "step", "step_size": 2, "gamma": 0.7, "warmup_steps": 3, "warmup_start_factor": 0.1},
           lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=3),
                                        S.StepLR(o, step_size=2, gamma=0.7)], milestones=[3]), 15)
    return cases


def training_loop_case():
    """A loop as a PyTorch user writes it: clip_grad_norm_, AdamW step, StepLR step; 6 steps."""
    gen = torch.Generator().manual_seed(900)
    initial = make_params(gen)
    grads = [[torch.randn(*s, generator=gen) * 2.0 for s in SHAPES] for _ in range(6)]
    params = [p.clone().requires_grad_(True) for p in initial]
    opt = torch.optim.AdamW(params, lr=0.02, betas=(0.9, 0.99), weight_decay=0.05, foreach=False)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    expected, norms = [], []
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = g.clone()
        norms.append(float(torch.nn.utils.clip_grad_norm_(params, max_norm=1.5, foreach=False)))
        opt.step()
        sched.step()
        expected.append(flat(params))
    return {"name": "clip_adamw_steplr", "lr": 0.02, "beta1": 0.9, "beta2": 0.99, "weight_decay": 0.05,
            "max_norm": 1.5, "step_size": 2, "gamma": 0.5, "params": flat(initial),
            "grads": [flat(g) for g in grads], "norms": norms, "expected": expected}


def write(name, payload):
    payload = {"generator": "Tests/Fixtures/make_optimizer_fixtures.py",
               "torch_version": torch.__version__.split("+")[0], **payload}
    with open(os.path.join(HERE, name), "w") as f:
        json.dump(payload, f, indent=1)
        f.write("\n")


def main():
    for algorithm, cases in optimizer_cases().items():
        write(f"optim_{algorithm}.json", {"cases": cases})
    write("optim_clipping.json", {"cases": clipping_cases()})
    write("optim_schedules.json", {"cases": schedule_cases()})
    write("optim_training_loop.json", {"cases": [training_loop_case()]})


if __name__ == "__main__":
    main()
