#!/usr/bin/env python3
"""Generate the interoperability fixtures `interop_*` that seqcore's Swift tests compare against.

Usage:  python Tests/Fixtures/make_interop_fixtures.py            # write every file, run every check
        python Tests/Fixtures/make_interop_fixtures.py --no-check # write only

Needs torch, numpy, safetensors and onnx (with onnx.reference); onnxruntime is optional (its
cross-check is skipped without it). Every case has its own fixed seed: two runs give identical files.

Legend: T time steps, B batch, I input features, H hidden units, P projection size, L layers,
D directions (2 if bidirectional), G gates (1 RNN, 3 GRU, 4 LSTM). Tensors in the JSON files are
flat lists of float64 in row-major order (Python repr, which round-trips), time-major.

1. PyTorch state_dicts: `interop_torch_<name>.safetensors` + `interop_torch_<name>.json`.
   The .safetensors file is exactly what `safetensors.torch.save_file(module.state_dict(), path)`
   writes for a freshly seeded float32 module (no metadata; names without prefix for a bare
   nn.RNN/GRU/LSTM, `embedding.`/`rnn.`/`head.` for the tagger). The JSON holds:
     {"name", "module": the constructor call, "config": the seqcore configuration the Swift side
      expects to infer (RecurrentConfig keys; the tagger: ModelConfig keys with "rnn" nested),
      "T", "B", "input" [T, B, I] (or "tokens" [T, B] for the tagger), "lengths" [B],
      "output" [T, B, D*Hout], "h_n" [L*D, B, Hout], "c_n" [L*D, B, H] or null
      (the tagger: "logits" [T, B, K])}
   The outputs are torch's, computed in float64 from the very float32 weights in the file, on a
   PackedSequence (pack_padded_sequence(enforce_sorted=False), pad_packed_sequence(total_length=T)),
   so padded steps are exactly 0 and the reverse direction starts at each sequence's last step.

2. ONNX-layout arrays: `interop_onnx_<name>.json`, one RNN/GRU/LSTM node each:
     {"name", "op": "RNN"|"GRU"|"LSTM", "direction": "forward"|"reverse"|"bidirectional",
      "linear_before_reset": 0|1, "hidden_size": H, "input_size": I, "T": T, "batch": B,
      "X" [T, B, I], "W" [D, G*H, I], "R" [D, G*H, H], "B" [D, 2*G*H] or null, "P" [D, 3H] or null,
      "initial_h" [D, B, H], "initial_c" [D, B, H] or null,
      "Y" [T, D, B, H], "Y_h" [D, B, H], "Y_c" [D, B, H] or null}        (ONNX's own layouts)
   W, R, B, P are drawn at random directly in ONNX layout (gate orders i,o,f,c and z,r,h; P order
   i,o,f): the conversion to PyTorch layout is the Swift code under test, not this script's.
   Outputs come from onnx.reference.ReferenceEvaluator in float64 with all sequences of full length
   (the reference ops ignore sequence_lens), and are cross-checked against onnxruntime in float32.

Checks (the script exits non-zero if one fails):
  a. each torch case: the file read back with safetensors.torch.load_file loads into a fresh module
     with load_state_dict(strict=True), which reproduces the outputs in float32 (|diff| <= 1e-5);
  b. each ONNX case: onnxruntime (float32) agrees with onnx.reference (|diff| <= 2e-5);
  c. the LSTM/GRU ONNX cases without peepholes or with linear_before_reset=1 agree with torch after
     converting the ONNX arrays to PyTorch layout here, independently (|diff| <= 1e-12), which
     confirms the gate orders the Swift importer assumes.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from safetensors.torch import load_file, save_file

import onnx
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

OUT_DIR = Path(__file__).resolve().parent
ONNX_OPSET = 22
GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


def flat(a) -> list[float]:
    a = a.detach().double().numpy() if isinstance(a, torch.Tensor) else np.asarray(a, dtype=np.float64)
    return [float(v) for v in a.reshape(-1)]


def write_json(name: str, obj: dict) -> None:
    (OUT_DIR / name).write_text(json.dumps(obj, indent=None, separators=(",", ":")) + "\n")


# --------------------------------------------------------------------------------------------
# 1. PyTorch state_dicts
# --------------------------------------------------------------------------------------------

def rnn_config(cell, I, H, L=1, bidir=False, P=0):
    return {"cell": cell, "gru_variant": "linear_before_reset", "input_size": I, "hidden_size": H,
            "num_layers": L, "direction": "bidirectional" if bidir else "forward", "merge": "concat",
            "proj_size": P, "peepholes": False, "bias": True, "dropout": 0.0}


# (name, constructor text, module factory, seqcore config, T, lengths, seed)
TORCH_CASES = [
    ("lstm", "nn.LSTM(3, 5, num_layers=2, bidirectional=True)",
     lambda: torch.nn.LSTM(3, 5, num_layers=2, bidirectional=True),
     rnn_config("lstm", 3, 5, L=2, bidir=True), 6, [6, 3, 5], 1001),
    ("lstm_proj", "nn.LSTM(4, 6, proj_size=3)",
     lambda: torch.nn.LSTM(4, 6, proj_size=3),
     rnn_config("lstm", 4, 6, P=3), 5, [5, 2], 1002),
    ("gru", "nn.GRU(3, 4, num_layers=2)",
     lambda: torch.nn.GRU(3, 4, num_layers=2),
     rnn_config("gru", 3, 4, L=2), 5, [4, 5, 1], 1003),
    ("rnn_relu", "nn.RNN(2, 3, nonlinearity='relu', bidirectional=True)",
     lambda: torch.nn.RNN(2, 3, nonlinearity="relu", bidirectional=True),
     rnn_config("rnn_relu", 2, 3, bidir=True), 4, [4, 2], 1004),
]


def torch_outputs(module, x, lengths):
    """float64 run of `module` on a packed batch: output [T, B, F], h_n, c_n (or None)."""
    T = x.shape[0]
    packed = pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=False)
    with torch.no_grad():
        out, state = module(packed)
    out, _ = pad_packed_sequence(out, total_length=T)
    h_n, c_n = state if isinstance(state, tuple) else (state, None)
    return out, h_n, c_n


def make_torch_case(name, text, factory, config, T, lengths, seed, check):
    torch.manual_seed(seed)
    module = factory().float()
    path = OUT_DIR / f"interop_torch_{name}.safetensors"
    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(path))
    B = len(lengths)
    gen = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(T, B, config["input_size"], generator=gen, dtype=torch.float64)
    out, h_n, c_n = torch_outputs(module.double(), x, lengths)
    write_json(f"interop_torch_{name}.json", {
        "name": name, "module": text, "config": config, "T": T, "B": B,
        "input": flat(x), "lengths": lengths, "output": flat(out), "h_n": flat(h_n),
        "c_n": flat(c_n) if c_n is not None else None,
    })
    if check:
        # a. what Python reads back from the file reproduces the outputs in float32
        fresh = factory().float()
        fresh.load_state_dict(load_file(str(path)), strict=True)
        out32, h32, _ = torch_outputs(fresh, x.float(), lengths)
        d = max(float((out32.double() - out).abs().max()), float((h32.double() - h_n).abs().max()))
        report(f"torch {name}: load_file -> load_state_dict(strict) float32 vs float64", d, 1e-5)


class Tagger(torch.nn.Module):
    """The module layout of seqcore's tagger: embedding -> rnn -> head at every step."""

    def __init__(self):
        super().__init__()
        self.embedding = torch.nn.Embedding(7, 4)
        self.rnn = torch.nn.GRU(4, 5, bidirectional=True)
        self.head = torch.nn.Linear(10, 3)

    def forward(self, tokens, lengths):
        T = tokens.shape[0]
        packed = pack_padded_sequence(self.embedding(tokens), torch.tensor(lengths), enforce_sorted=False)
        out, _ = self.rnn(packed)
        out, _ = pad_packed_sequence(out, total_length=T)
        return self.head(out)


def make_torch_tagger(check):
    seed = 1005
    torch.manual_seed(seed)
    module = Tagger().float()
    path = OUT_DIR / "interop_torch_tagger.safetensors"
    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(path))
    T, lengths = 5, [5, 3]
    gen = torch.Generator().manual_seed(seed + 1)
    tokens = torch.randint(0, 7, (T, len(lengths)), generator=gen)
    with torch.no_grad():
        logits = module.double()(tokens, lengths)
    config = {"architecture": "tagger", "rnn": rnn_config("gru", 4, 5, bidir=True), "vocab_size": 7,
              "embedding_size": 4, "padding_index": None, "output_size": 3, "output": "classes",
              "reduction": "mean_over_steps", "ignore_index": None, "start_token": 0, "stop_token": 1}
    write_json("interop_torch_tagger.json", {
        "name": "tagger", "module": "Tagger: embedding nn.Embedding(7, 4), rnn nn.GRU(4, 5, bidirectional=True), "
                                    "head nn.Linear(10, 3), at every step",
        "config": config, "T": T, "B": len(lengths), "tokens": [int(v) for v in tokens.reshape(-1)],
        "lengths": lengths, "logits": flat(logits),
    })
    if check:
        fresh = Tagger().float()
        fresh.load_state_dict(load_file(str(path)), strict=True)
        with torch.no_grad():
            l32 = fresh(tokens, lengths)
        # Padded steps: the head sees zeros there, so its output is the bias, in both runs.
        report("torch tagger: load_file -> load_state_dict(strict) float32 vs float64",
               float((l32.double() - logits).abs().max()), 1e-5)


# --------------------------------------------------------------------------------------------
# 2. ONNX-layout arrays
# --------------------------------------------------------------------------------------------

# (name, op, direction, linear_before_reset, I, H, T, B, with_bias, with_peepholes, seed)
ONNX_CASES = [
    ("gru_classic_bidir", "GRU", "bidirectional", 0, 3, 4, 5, 2, True, False, 2001),
    ("gru_classic_reverse", "GRU", "reverse", 0, 2, 3, 4, 3, True, False, 2002),
    ("gru_lbr_bidir", "GRU", "bidirectional", 1, 3, 4, 5, 2, True, False, 2003),
    ("gru_lbr_forward_nobias", "GRU", "forward", 1, 4, 3, 4, 2, False, False, 2004),
    ("lstm_peephole_bidir", "LSTM", "bidirectional", 0, 3, 4, 5, 2, True, True, 2005),
    ("lstm_peephole_reverse", "LSTM", "reverse", 0, 2, 5, 4, 3, True, True, 2006),
    ("lstm_forward", "LSTM", "forward", 0, 3, 3, 4, 2, True, False, 2007),
    ("rnn_bidir", "RNN", "bidirectional", 0, 3, 4, 4, 2, True, False, 2008),
]


def onnx_node_model(op, direction, lbr, I, H, T, B, with_bias, with_peep, dtype):
    D = 2 if direction == "bidirectional" else 1
    G = GATES[op]
    vi = helper.make_tensor_value_info
    inputs = [vi("X", dtype, [T, B, I]), vi("W", dtype, [D, G * H, I]), vi("R", dtype, [D, G * H, H])]
    names = ["X", "W", "R"]
    if with_bias:
        inputs.append(vi("B", dtype, [D, 2 * G * H]))
        names.append("B")
    else:
        names.append("")
    names.append("")  # sequence_lens
    inputs.append(vi("initial_h", dtype, [D, B, H]))
    names.append("initial_h")
    if op == "LSTM":
        inputs.append(vi("initial_c", dtype, [D, B, H]))
        names.append("initial_c")
        if with_peep:
            inputs.append(vi("P", dtype, [D, 3 * H]))
            names.append("P")
    outputs = ["Y", "Y_h"] + (["Y_c"] if op == "LSTM" else [])
    shapes = {"Y": [T, D, B, H], "Y_h": [D, B, H], "Y_c": [D, B, H]}
    attrs = {"hidden_size": H, "direction": direction}
    if op == "GRU":
        attrs["linear_before_reset"] = lbr
    node = helper.make_node(op, names, outputs, **attrs)
    graph = helper.make_graph([node], "node", inputs, [vi(o, dtype, shapes[o]) for o in outputs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)])
    onnx.checker.check_model(model)
    return model


def make_onnx_case(name, op, direction, lbr, I, H, T, B, with_bias, with_peep, seed, check):
    rng = np.random.default_rng(seed)
    D = 2 if direction == "bidirectional" else 1
    G = GATES[op]
    arrays = {
        "X": rng.standard_normal((T, B, I)),
        "W": rng.uniform(-0.6, 0.6, (D, G * H, I)),
        "R": rng.uniform(-0.6, 0.6, (D, G * H, H)),
        "B": rng.uniform(-0.6, 0.6, (D, 2 * G * H)) if with_bias else None,
        "P": rng.uniform(-0.6, 0.6, (D, 3 * H)) if with_peep else None,
        "initial_h": rng.standard_normal((D, B, H)) * 0.5,
        "initial_c": rng.standard_normal((D, B, H)) * 0.5 if op == "LSTM" else None,
    }
    feeds = {k: v for k, v in arrays.items() if v is not None}
    model = onnx_node_model(op, direction, lbr, I, H, T, B, with_bias, with_peep, TensorProto.DOUBLE)
    results = ReferenceEvaluator(model).run(None, feeds)
    Y, Y_h = results[0], results[1]
    Y_c = results[2] if op == "LSTM" else None
    if check:
        onnxruntime_diff(op, direction, lbr, I, H, T, B, with_bias, with_peep, feeds, results)
        if op != "RNN" and not with_peep and (op == "LSTM" or lbr == 1):
            torch_diff(op, direction, H, arrays, Y, Y_h, Y_c)
    write_json(f"interop_onnx_{name}.json", {
        "name": name, "op": op, "direction": direction, "linear_before_reset": lbr, "hidden_size": H,
        "input_size": I, "T": T, "batch": B,
        **{k: (flat(v) if v is not None else None) for k, v in arrays.items()},
        "Y": flat(Y), "Y_h": flat(Y_h), "Y_c": flat(Y_c) if Y_c is not None else None,
    })


def onnxruntime_diff(op, direction, lbr, I, H, T, B, with_bias, with_peep, feeds, expected):
    """b. onnxruntime in float32 (its CPU RNN kernels reject double) against onnx.reference."""
    try:
        import onnxruntime as ort
    except ImportError:
        print("  (onnxruntime not installed: cross-check skipped)")
        return
    model = onnx_node_model(op, direction, lbr, I, H, T, B, with_bias, with_peep, TensorProto.FLOAT)
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    got = sess.run(None, {k: v.astype(np.float32) for k, v in feeds.items()})
    d = max(float(np.abs(g.astype(np.float64) - e).max()) for g, e in zip(got, expected))
    report(f"onnx {op} {direction} lbr={lbr}: onnxruntime float32 vs onnx.reference", d, 2e-5)


def torch_diff(op, direction, H, arrays, Y, Y_h, Y_c):
    """c. Convert the ONNX arrays to PyTorch layout here and compare torch with onnx.reference."""
    D = 2 if direction == "bidirectional" else 1
    # PyTorch block k comes from ONNX block order[k]: LSTM i,f,g,o <- i,o,f,c; GRU r,z,n <- z,r,h.
    order = [0, 2, 3, 1] if op == "LSTM" else [1, 0, 2]

    def to_torch(a):  # [G*H, ...] ONNX order -> PyTorch order
        return np.concatenate([a[k * H:(k + 1) * H] for k in order], axis=0)

    I = arrays["W"].shape[2]
    G = GATES[op]
    mod = (torch.nn.LSTM if op == "LSTM" else torch.nn.GRU)(I, H, bidirectional=D == 2).double()
    with torch.no_grad():
        for d in range(D):
            onnx_d = d if direction != "reverse" else 0
            suffix = "_reverse" if d == 1 else ""
            b = arrays["B"][onnx_d] if arrays["B"] is not None else np.zeros(2 * G * H)
            getattr(mod, "weight_ih_l0" + suffix).copy_(torch.from_numpy(to_torch(arrays["W"][onnx_d])))
            getattr(mod, "weight_hh_l0" + suffix).copy_(torch.from_numpy(to_torch(arrays["R"][onnx_d])))
            getattr(mod, "bias_ih_l0" + suffix).copy_(torch.from_numpy(to_torch(b[:G * H])))
            getattr(mod, "bias_hh_l0" + suffix).copy_(torch.from_numpy(to_torch(b[G * H:])))
    x = torch.from_numpy(arrays["X"])
    if direction == "reverse":
        x = torch.flip(x, [0])
    h0 = torch.from_numpy(arrays["initial_h"])
    with torch.no_grad():
        if op == "LSTM":
            out, (h_n, c_n) = mod(x, (h0, torch.from_numpy(arrays["initial_c"])))
        else:
            out, h_n = mod(x, h0)
            c_n = None
    if direction == "reverse":
        out = torch.flip(out, [0])
    T, B = arrays["X"].shape[0], arrays["X"].shape[1]
    y = out.numpy().reshape(T, B, D, H).transpose(0, 2, 1, 3)  # [T, B, D*H] -> ONNX [T, D, B, H]
    d = max(float(np.abs(y - Y).max()), float(np.abs(h_n.numpy() - Y_h).max()))
    if c_n is not None:
        d = max(d, float(np.abs(c_n.numpy() - Y_c).max()))
    report(f"onnx {op} {direction}: torch on converted weights vs onnx.reference", d, 1e-12)


# --------------------------------------------------------------------------------------------

FAILURES: list[str] = []


def report(label, diff, tolerance):
    ok = diff <= tolerance
    print(f"  {'ok  ' if ok else 'FAIL'} {label}: max |diff| {diff:.2e} (tolerance {tolerance:.0e})")
    if not ok:
        FAILURES.append(label)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-check", action="store_true", help="write the files without the checks")
    args = parser.parse_args()
    check = not args.no_check
    torch.set_num_threads(1)
    for case in TORCH_CASES:
        make_torch_case(*case, check=check)
    make_torch_tagger(check)
    for case in ONNX_CASES:
        make_onnx_case(*case, check=check)
    written = sorted(p.name for p in OUT_DIR.glob("interop_*"))
    print(f"wrote {len(written)} files: {', '.join(written)}")
    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed: {FAILURES}")
        sys.exit(1)


if __name__ == "__main__":
    main()
