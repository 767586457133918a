#!/usr/bin/env python3
"""Batch-1 step latency of seqcore against ONNX Runtime and PyTorch, measured in alternation.

    python bench/step_pairs.py [--cells gru lstm] [--hidden 1024] [--rounds 8] [--repeats 10]
                               [--seqcore-bench PATH] [--out bench/results]

compare.py measures each backend's steps once, one after the other. On a shared machine whose
memory bandwidth comes and goes in phases of seconds to minutes, a phase can then fall on one
backend only and decide a ratio. Here every round measures seqcore (a fresh seqcore-bench process),
ONNX Runtime and PyTorch back to back on the same step (the models and settings of compare.py), and
the ratios are taken round by round: their median is what a phase cannot bias. Prints a markdown
table and writes it, with the JSON, to <out>/step-pairs-<stamp>.{md,json}. Timing only: it exits 0
whatever the numbers.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
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
            per_round.append(row)
            compare.log(f"{cell} H={hidden} round {r + 1}/{rounds}: " +
                        ", ".join(f"{n} {row[n]:.0f} µs" for n, _ in backends))
        ratios = {peer: [row["seqcore"] / row[peer] for row in per_round] for peer in ("onnxruntime", "torch")}
        res["cells"][cell] = {
            "rounds_us": per_round,
            "ratios": ratios,
            "median_ratio": {p: statistics.median(v) for p, v in ratios.items()},
            "median_us": {n: statistics.median(row[n] for row in per_round) for n, _ in backends},
        }
    return res


def markdown(res: dict) -> str:
    lines = [f"# Batch-1 steps in alternation (H = {res['hidden']})", "",
             f"- **Date**: {res['date']}",
             f"- **Machine**: {res['machine'].get('cpu', '?')}",
             f"- **Rounds**: {res['rounds']}, each seqcore (fresh seqcore-bench process), ONNX Runtime and "
             f"PyTorch back to back, each the median of {res['repeats']} runs of 100 steps", "",
             "| cell | seqcore, µs | ORT, µs | PyTorch, µs | seqcore / ORT (median of rounds; range) | "
             "seqcore / PyTorch (median of rounds; range) |", "|---|--:|--:|--:|--:|--:|"]
    for cell, c in res["cells"].items():
        m, r = c["median_us"], c["ratios"]
        span = {p: f"{min(v):.3f}–{max(v):.3f}" for p, v in r.items()}
        lines.append(f"| {compare.CELL_LABEL.get(cell, cell)} | {m['seqcore']:.1f} | {m['onnxruntime']:.1f} | "
                     f"{m['torch']:.1f} | **{c['median_ratio']['onnxruntime']:.3f}** ({span['onnxruntime']}) | "
                     f"**{c['median_ratio']['torch']:.3f}** ({span['torch']}) |")
    lines += ["", f"Targets (issue 7): seqcore / ORT ≤ {compare.TARGET_STEP_VS_ORT}, seqcore / PyTorch ≤ "
              f"{compare.TARGET_STEP_VS_TORCH}. Latencies: medians over the rounds.", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cells", nargs="+", default=["gru", "lstm"], choices=["rnn", "gru", "lstm"])
    ap.add_argument("--hidden", type=int, default=1024, help="H = I of the step (default 1024)")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=10, help="runs of 100 steps per measurement")
    ap.add_argument("--seqcore-bench", type=Path, default=compare.SEQCORE_BENCH,
                    help="the seqcore-bench executable (default: this checkout's release build)")
    ap.add_argument("--out", default=str(compare.ROOT / "bench" / "results"))
    args = ap.parse_args(argv)
    try:
        ok, why = compare.SeqcoreNative(exe=args.seqcore_bench).available()
        if not ok:
            compare.log(why)
            return 0
        res = run(args.cells, args.hidden, args.rounds, args.repeats, args.seqcore_bench)
        md = markdown(res)
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        (out / f"step-pairs-{stamp}.json").write_text(json.dumps(res, indent=1) + "\n")
        (out / f"step-pairs-{stamp}.md").write_text(md)
        print(md)
        compare.log(f"wrote {out / f'step-pairs-{stamp}.md'}")
    except Exception as e:  # timing only: report and exit 0
        import traceback
        traceback.print_exc()
        compare.log(f"step_pairs.py stopped early: {e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
