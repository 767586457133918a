#!/usr/bin/env python3
"""Whole layers of seqcore against PyTorch (and ONNX Runtime for inference), measured in alternation.

    python bench/layer_pairs.py [--rows gru:large:train lstm:large:inference ...] [--rounds 6]
                                [--repeats 5] [--seqcore-bench PATH] [--out bench/results]

The layer counterpart of step_pairs.py. compare.py measures each backend's layers once, one after
the other; on a machine shared with other tenants, whose cores and caches slow down in phases of
seconds to minutes, a phase can fall on one backend only and decide a ratio. Here every round
measures seqcore (a fresh seqcore-bench process), PyTorch and, for inference, ONNX Runtime back to
back on the same layer (compare.py's shapes, models and settings), and the ratios are taken round
by round: their median is what a phase cannot bias. Each round also measures the FMA peak, so the
layer's time can be set against its compute floor (compare.py's definition) in that round.
Prints a markdown table and writes it, with the JSON, to <out>/layer-pairs-<stamp>.{md,json}.
Timing only: it exits 0 whatever the numbers.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare  # noqa: E402  (the backends, shapes and settings)

DEFAULT_ROWS = ["rnn:large:train", "gru:large:train", "lstm:large:train", "lstm:large:inference"]


def parse_row(text: str) -> tuple[str, str, str]:
    parts = text.split(":")
    if len(parts) != 3 or parts[0] not in compare.GATES or parts[1] not in compare.SHAPES \
            or parts[2] not in ("train", "inference"):
        raise argparse.ArgumentTypeError(
            f"row {text!r}: expected CELL:SHAPE:MODE with CELL in {sorted(compare.GATES)}, "
            f"SHAPE in {sorted(compare.SHAPES)}, MODE train or inference")
    return parts[0], parts[1], parts[2]


def compute_floor_ms(cell: str, shape: str, mode: str, peak_gflops: float) -> float:
    """compare.py's compute floor: the layer's matrix-product FLOPs at the FMA peak."""
    B, T, I, H = compare.SHAPES[shape]
    flops = 2 * T * B * compare.GATES[cell] * H * (I + H) * (3 if mode == "train" else 1)
    return flops / (peak_gflops * 1e9) * 1e3


def run(rows: list[tuple[str, str, str]], rounds: int, repeats: int, exe: Path) -> dict:
    seq, torch = compare.SeqcoreNative(exe=exe), compare.Torch()
    ort = compare.ORT() if any(m == "inference" for _, _, m in rows) else None
    res = {"date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "machine": compare.machine_info(),
           "versions": compare.versions(), "seqcore_bench": str(exe), "rounds": rounds, "repeats": repeats, "rows": {}}
    for cell, shape, mode in rows:
        B, T, I, H = compare.SHAPES[shape]
        backends = [("seqcore", seq), ("torch", torch)] + ([("onnxruntime", ort)] if mode == "inference" else [])
        per_round = []
        for r in range(rounds):
            row = {"peak_gflops": seq.peak()}
            compare.pause()
            for name, backend in backends:
                row[name] = backend.layer(cell, B, T, I, H, mode, repeats)["median_ms"]
                compare.pause()
            row["compute_floor"] = compute_floor_ms(cell, shape, mode, row["peak_gflops"])
            per_round.append(row)
            compare.log(f"{cell} {shape} {mode} round {r + 1}/{rounds}: " +
                        ", ".join(f"{n} {row[n]:.1f} ms" for n, _ in backends) +
                        f", peak {row['peak_gflops']:.0f} GFLOP/s")
        peers = [n for n, _ in backends if n != "seqcore"]
        # Speed-ups as compare.py prints them: peer's time over seqcore's (above 1: seqcore faster).
        speedups = {p: [row[p] / row["seqcore"] for row in per_round] for p in peers}
        of_peak = [row["compute_floor"] / row["seqcore"] for row in per_round]
        res["rows"][f"{cell}:{shape}:{mode}"] = {
            "cell": cell, "shape": shape, "mode": mode, "rounds_ms": per_round,
            "speedups": speedups, "median_speedup": {p: statistics.median(v) for p, v in speedups.items()},
            "fraction_of_peak": of_peak, "median_fraction_of_peak": statistics.median(of_peak),
            "median_ms": {n: statistics.median(row[n] for row in per_round) for n, _ in backends},
        }
    return res


def markdown(res: dict) -> str:
    lines = compare.pairs_header("Whole layers in alternation", res,
                                 "each the FMA peak, then seqcore (fresh seqcore-bench process), PyTorch and "
                                 f"(inference) ONNX Runtime back to back, each the median of {res['repeats']} runs",
                                 ["cell", "shape", "mode", "seqcore, ms", "PyTorch, ms", "ORT, ms",
                                  "× PyTorch (median of rounds; range)", "× ORT (median; range)",
                                  "seqcore % of peak (median; range)"], 3)
    for key, c in res["rows"].items():
        m, s = c["median_ms"], c["speedups"]

        def cell_of(peer):
            if peer not in s:
                return ""
            return f"**{c['median_speedup'][peer]:.2f}** ({min(s[peer]):.2f}–{max(s[peer]):.2f})"
        fp = c["fraction_of_peak"]
        ort_ms = f"{m['onnxruntime']:.1f}" if "onnxruntime" in m else ""
        lines.append(f"| {compare.CELL_LABEL.get(c['cell'], c['cell'])} | {c['shape']} {compare.SHAPES[c['shape']]} | "
                     f"{c['mode']} | {m['seqcore']:.1f} | {m['torch']:.1f} | {ort_ms} | {cell_of('torch')} | "
                     f"{cell_of('onnxruntime')} | {100 * c['median_fraction_of_peak']:.0f}% "
                     f"({100 * min(fp):.0f}–{100 * max(fp):.0f}%) |")
    lines += ["", "× is the peer's time over seqcore's (above 1: seqcore is faster), round by round; times are "
              "medians over the rounds. % of peak: compare.py's compute floor (the layer's matrix-product FLOPs, "
              "three times the forward's in training) at the FMA peak measured at the start of the round, over "
              "seqcore's time.", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", nargs="+", type=parse_row, default=[parse_row(r) for r in DEFAULT_ROWS],
                    metavar="CELL:SHAPE:MODE", help=f"default: {' '.join(DEFAULT_ROWS)}")
    ap.add_argument("--rounds", type=compare.positive_int, default=6)
    ap.add_argument("--repeats", type=compare.positive_int, default=5, help="runs per measurement")
    compare.pairs_arguments(ap)
    args = ap.parse_args(argv)

    def measure():
        res = run(args.rows, args.rounds, args.repeats, args.seqcore_bench)
        return res, markdown(res)
    return compare.pairs_main("layer-pairs", args.seqcore_bench, args.out, measure)


if __name__ == "__main__":
    sys.exit(main())
