#!/usr/bin/env python3
"""Batch-1 step latency of seqcore against ONNX Runtime and PyTorch, measured in alternation.

    python bench/step_pairs.py [--cells gru lstm] [--hidden 1024] [--rounds 8] [--repeats 10]
                               [--seqcore-bench PATH] [--out bench/results]

compare.py measures each backend's steps once, one after the other. On a shared machine whose
memory bandwidth comes and goes in phases of seconds to minutes, a phase can then fall on one
backend only and decide a ratio. Here every round measures seqcore (a fresh seqcore-bench process),
ONNX Runtime and PyTorch back to back on the same step (the models and settings of compare.py), and
the ratios are taken round by round: their median is what a phase cannot bias. Each round also
measures the step's read floor (the time to read its weights once, at the best read rate of
`seqcore-bench bandwidth` over a working set of their size, with and without prefetching, as
compare.py does), so each target can be set against what the machine allowed in that round.
Prints a markdown table and writes it, with the JSON, to <out>/step-pairs-<stamp>.{md,json}.
Timing only: it exits 0 whatever the numbers.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare  # noqa: E402  (the backends and their settings)


def run(cells: list[str], hidden: int, rounds: int, repeats: int, exe: Path) -> dict:
    seq, ort, torch = compare.SeqcoreNative(exe=exe), compare.ORT(), compare.Torch()
    backends = [("seqcore", seq), ("onnxruntime", ort), ("torch", torch)]
    res = {"date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "machine": compare.machine_info(),
           "versions": compare.versions(), "seqcore_bench": str(exe), "hidden": hidden, "rounds": rounds, "repeats": repeats, "cells": {}}
    for cell in cells:
        per_round = []
        for r in range(rounds):
            row = {}
            for name, backend in backends:
                row[name] = backend.step(cell, hidden, repeats)["median_us"]
                compare.pause()
            # The read floor of this round: I = H, so the weights are G·H·2H floats.
            weights = compare.GATES[cell] * hidden * 2 * hidden * 4
            row["read_gb_per_s"] = seq.bandwidth(weights / (1 << 20), 50)["gb_per_s"]
            row["read_floor"] = weights / row["read_gb_per_s"] / 1e3
            compare.pause()
            per_round.append(row)
            compare.log(f"{cell} H={hidden} round {r + 1}/{rounds}: " +
                        ", ".join(f"{n} {row[n]:.0f} µs" for n in [n for n, _ in backends] + ["read_floor"]))
        ratios = {peer: [row["seqcore"] / row[peer] for row in per_round] for peer in ("onnxruntime", "torch", "read_floor")}
        # What each target asks for, as a fraction of the read floor: below 1 the target is a step
        # faster than reading the weights once.
        targets = {"onnxruntime": compare.TARGET_STEP_VS_ORT, "torch": compare.TARGET_STEP_VS_TORCH}
        asks = {peer: [t * row[peer] / row["read_floor"] for row in per_round] for peer, t in targets.items()}
        res["cells"][cell] = {
            "weights_bytes": weights,
            "rounds_us": per_round,
            "ratios": ratios,
            "median_ratio": {p: statistics.median(v) for p, v in ratios.items()},
            "target_over_floor": asks,
            "median_target_over_floor": {p: statistics.median(v) for p, v in asks.items()},
            "median_us": {n: statistics.median(row[n] for row in per_round) for n in [n for n, _ in backends] + ["read_floor"]},
        }
    return res


def markdown(res: dict) -> str:
    lines = compare.pairs_header(f"Batch-1 steps in alternation (H = {res['hidden']})", res,
                                 "each seqcore (fresh seqcore-bench process), ONNX Runtime and PyTorch back to "
                                 f"back, each the median of {res['repeats']} runs of 100 steps",
                                 ["cell", "seqcore, µs", "ORT, µs", "PyTorch, µs", "read floor, µs",
                                  "seqcore / ORT (median of rounds; range)", "seqcore / PyTorch (median of rounds; range)",
                                  "seqcore / read floor (median; range)"], 1)
    for cell, c in res["cells"].items():
        m, r = c["median_us"], c["ratios"]
        span = {p: f"{min(v):.3f}–{max(v):.3f}" for p, v in r.items()}
        lines.append(f"| {compare.CELL_LABEL.get(cell, cell)} | {m['seqcore']:.1f} | {m['onnxruntime']:.1f} | "
                     f"{m['torch']:.1f} | {m['read_floor']:.1f} | "
                     f"**{c['median_ratio']['onnxruntime']:.3f}** ({span['onnxruntime']}) | "
                     f"**{c['median_ratio']['torch']:.3f}** ({span['torch']}) | "
                     f"{c['median_ratio']['read_floor']:.2f} ({span['read_floor']}) |")
    lines += ["", "What the targets ask for, as a multiple of the round's read floor (below 1: a step faster "
              "than reading the weights once; median of rounds, range):", "",
              "| cell | weights, MiB | ≤ 0.5× ORT asks for | ≤ 0.2× PyTorch asks for |", "|---|--:|--:|--:|"]
    for cell, c in res["cells"].items():
        a, ma = c["target_over_floor"], c["median_target_over_floor"]
        lines.append(f"| {compare.CELL_LABEL.get(cell, cell)} | {c['weights_bytes'] / (1 << 20):g} | "
                     + " | ".join(f"{ma[p]:.2f}× the floor ({min(a[p]):.2f}–{max(a[p]):.2f})" for p in ("onnxruntime", "torch"))
                     + " |")
    lines += ["", f"Targets (issue 7): seqcore / ORT ≤ {compare.TARGET_STEP_VS_ORT}, seqcore / PyTorch ≤ "
              f"{compare.TARGET_STEP_VS_TORCH}. Latencies: medians over the rounds. Read floor: the step's weights "
              f"(G·H·2H floats) over the best read rate of `seqcore-bench bandwidth MIB 50 {compare.READ_STREAMS}` "
              f"with and without {compare.READ_PREFETCH}-byte prefetching in that round (compare.py's probe).", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cells", nargs="+", default=["gru", "lstm"], choices=["rnn", "gru", "lstm"])
    ap.add_argument("--hidden", type=compare.positive_int, default=1024, help="H = I of the step (default 1024)")
    ap.add_argument("--rounds", type=compare.positive_int, default=8)
    ap.add_argument("--repeats", type=compare.positive_int, default=10, help="runs of 100 steps per measurement")
    compare.pairs_arguments(ap)
    args = ap.parse_args(argv)

    def measure():
        res = run(args.cells, args.hidden, args.rounds, args.repeats, args.seqcore_bench)
        return res, markdown(res)
    return compare.pairs_main("step-pairs", args.seqcore_bench, args.out, measure)


if __name__ == "__main__":
    sys.exit(main())
