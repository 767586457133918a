#!/usr/bin/env python3
"""Fits the rational tanh of the vector gate math (VectorMath.tanh in
Sources/SeqCore/Kernels/Activations+Vector.swift) and checks it as Float evaluates it.

    tanh(x) ≈ x·P(x²)/Q(x²) on [0, c], P(0) = Q(0) = 1, x clamped to ±c beyond

The fit minimises the largest relative error: each round solves the linearised least-squares
problem x·P(z) − t·Q(z) ≈ 0 weighted by 1/(t·Q_previous) (Sanathanan–Koerner), with Lawson's
weights (each point's weight times its error) pulling it towards the minimax solution. The
coefficients are then rounded to float32 one at a time, largest first, the others refitted after
each rounding, so the rounding errors partly cancel. Finally it evaluates the result the way the
Swift code does (float32, Horner steps as fused multiply–adds, a multiply and a division) on a dense
grid and on powers of two towards 0, and prints the errors and the Swift literals.

Usage: python3 scripts/fit_tanh.py [--dp 4] [--dq 4] [--clamp 8]     (needs numpy; ~1 minute)
"""
import argparse

import numpy as np


def fit(x, t, dp, dq, fixed, rounds=300):
    """Minimax-ish relative fit; `fixed` maps unknown index → value (unknowns: p0..p_dp, q1..q_dq).
    Returns (max relative error, unknowns) of the best round."""
    z = x * x
    n = dp + 1 + dq
    a = np.hstack([np.stack([x * z**k for k in range(dp + 1)], 1),
                   np.stack([-t * z**k for k in range(1, dq + 1)], 1)])
    b = t.copy()
    free = [i for i in range(n) if i not in fixed]
    for i, v in fixed.items():
        b = b - a[:, i] * v
    w = np.ones_like(x)
    q_prev = np.ones_like(x)
    best = None
    for _ in range(rounds):
        scale = np.sqrt(w) / (t * q_prev)
        s, *_ = np.linalg.lstsq(a[:, free] * scale[:, None], b * scale, rcond=None)
        sol = np.zeros(n)
        sol[free] = s
        for i, v in fixed.items():
            sol[i] = v
        p, q = sol[:dp + 1], np.concatenate([[1.0], sol[dp + 1:]])
        pz, qz = np.polyval(p[::-1], z), np.polyval(q[::-1], z)
        if (qz <= 0).any():  # a pole in the interval: this round is unusable
            break
        err = (x * pz / qz - t) / t
        m = np.abs(err).max()
        if best is None or m < best[0]:
            best = (m, sol.copy())
        q_prev = qz
        w = np.maximum(w * np.abs(err) / (w * np.abs(err)).sum(), 1e-14)
    return best


def evaluate_float32(p, q, xs):
    """x·P(z)/Q(z) as the Swift code computes it: float32, Horner with one rounding per step."""
    def fma(a, b, c):
        return (a.astype(np.float64) * b + c).astype(np.float32)
    zs = (xs * xs).astype(np.float32)
    pz = np.full_like(zs, p[-1])
    for k in range(len(p) - 2, -1, -1):
        pz = fma(pz, zs, np.full_like(zs, p[k]))
    qz = np.full_like(zs, q[-1])
    for k in range(len(q) - 2, -1, -1):
        qz = fma(qz, zs, np.full_like(zs, q[k]))
    return ((xs * pz).astype(np.float32) / qz).astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dp", type=int, default=4, help="degree of P in x²")
    ap.add_argument("--dq", type=int, default=4, help="degree of Q in x²")
    ap.add_argument("--clamp", type=float, default=8.0, help="c: the interval is [0, c]")
    args = ap.parse_args()
    dp, dq, c = args.dp, args.dq, args.clamp

    u = np.linspace(0, 1, 8001)[1:]
    x = c * (1 - np.cos(np.pi * u)) / 2  # Chebyshev spacing: dense at both ends
    t = np.tanh(x)
    m, sol = fit(x, t, dp, dq, {})
    print(f"fit in double: max relative error {m:.3g}")
    fixed = {}
    for i in sorted(range(len(sol)), key=lambda i: -abs(sol[i])):
        fixed[i] = float(np.float32(sol[i]))
        if len(fixed) < len(sol):
            m, sol = fit(x, t, dp, dq, fixed)
    p = np.float32(sol[:dp + 1])
    q = np.float32(np.concatenate([[1.0], sol[dp + 1:]]))

    xs = np.concatenate([np.linspace(0, c, 4_000_001, dtype=np.float32)[1:],
                         np.float32(2.0) ** -np.arange(1, 60, 0.25, dtype=np.float32)]).astype(np.float32)
    y = evaluate_float32(p, q, xs)
    ref = np.tanh(xs.astype(np.float64))
    rel = np.abs(y - ref) / ref
    ulps = np.abs(y - ref) / np.spacing(y).astype(np.float64)
    print(f"float32 evaluation: max relative error {rel.max():.3g} at x = {xs[rel.argmax()]:.6g}; "
          f"|x| < 1: {rel[xs < 1].max():.3g}; max {ulps.max():.2f} ulp, mean {ulps.mean():.2f}; "
          f"results above 1: {(y > 1).sum()}")
    print(f"beyond the clamp: 1 − tanh({c:g}) = {1 - np.tanh(c):.3g}")
    fmt = lambda v: np.format_float_scientific(v, unique=True) if v < 1e-3 else np.format_float_positional(v, unique=True)
    print("P, highest degree first:", ", ".join(fmt(v) for v in p[::-1]))
    print("Q, highest degree first:", ", ".join(fmt(v) for v in q[::-1]))


if __name__ == "__main__":
    main()
