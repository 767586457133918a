#!/usr/bin/env python3
"""Generate the golden fixtures `engine_<name>.json` that seqcore's Swift tests compare against.

Usage:  python Tests/Fixtures/make_fixtures.py            # regenerate every file, run every check
        python Tests/Fixtures/make_fixtures.py --no-check # regenerate only

Needs torch, numpy, onnx (with onnx.reference); onnxruntime is optional (one cross-check is skipped
without it). Every case has its own fixed seed, so the output is the same on every run.

Legend: T time steps, B batch, I input features, H hidden units, P projection size (0 = none),
Hout = P if P > 0 else H, L layers, D directions. All tensors are float64, time-major, and written
flat in row-major order. The format is described in README.md next to this file.

Oracles:
  * "torch"          - torch.nn.RNN / GRU / LSTM in float64 on a PackedSequence
                       (pack_padded_sequence(enforce_sorted=False) / pad_packed_sequence(total_length=T)),
                       gradients of loss = sum(output*grad_output) + sum(h_n*grad_h_n) + sum(c_n*grad_c_n)
                       by autograd.
  * "onnx.reference" - onnx.reference.ReferenceEvaluator on a one-node GRU/LSTM model, forward only.
                       The reference ops ignore `sequence_lens`; for the `_unequal` cases each sequence
                       is therefore run on its own (its first len_b steps), which is exactly what the
                       ONNX spec defines `sequence_lens` to mean, and the result is cross-checked
                       against onnxruntime run on the whole batch with `sequence_lens`.

Checks (the script exits non-zero if any fails):
  1. every fixture's forward pass against an independent numpy implementation written from the
     equations in DESIGN.md section 2 (all cells, both GRU variants, peepholes, projection,
     layers, directions, lengths);
  2. every torch fixture's gradients against central finite differences of that numpy forward;
  3. onnx.reference with linear_before_reset=1 (and an LSTM without peepholes) against torch,
     which verifies the PyTorch -> ONNX weight conversion;
  4. the onnx.reference fixtures against onnxruntime (float32 only: its CPU GRU/LSTM reject double).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import onnx
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

OUT_DIR = Path(__file__).resolve().parent
ONNX_OPSET = 22

GATES = {"rnn_tanh": 1, "rnn_relu": 1, "gru": 3, "lstm": 4}


# --------------------------------------------------------------------------------------------
# Case table
# --------------------------------------------------------------------------------------------

def cfg(cell, I, H, L=1, bidir=False, P=0, peep=False, bias=True, gru_variant=None):
    c = {"cell": cell}
    if cell == "gru":
        c["gru_variant"] = gru_variant or "linear_before_reset"
    c.update({"input_size": I, "hidden_size": H, "num_layers": L, "bidirectional": bidir,
              "proj_size": P, "peepholes": peep, "bias": bias})
    return c


# (name, config, T, lengths, seed)
TORCH_CASES = [
    ("rnn_tanh_1layer_unequal", cfg("rnn_tanh", 3, 4), 5, [5, 2, 4], 101),
    ("rnn_relu_1layer_unequal", cfg("rnn_relu", 3, 4), 4, [3, 4, 1], 102),
    ("rnn_tanh_bidir_2layer_unequal", cfg("rnn_tanh", 2, 3, L=2, bidir=True), 4, [2, 4], 103),
    ("gru_1layer_unequal", cfg("gru", 3, 4), 5, [3, 5, 1], 201),
    ("gru_bidir_unequal", cfg("gru", 3, 3, bidir=True), 4, [4, 2, 3], 202),
    ("gru_2layer", cfg("gru", 2, 3, L=2), 4, [4, 4], 203),
    ("lstm_1layer", cfg("lstm", 3, 4), 5, [5, 5], 301),
    ("lstm_proj", cfg("lstm", 3, 4, P=2), 4, [4, 3], 302),
    ("lstm_bidir_2layer_proj_unequal", cfg("lstm", 2, 3, L=2, bidir=True, P=2), 4, [4, 1, 3], 303),
    ("lstm_2layer", cfg("lstm", 3, 3, L=2), 4, [4, 4], 304),
    ("lstm_bidir_b1_t1", cfg("lstm", 3, 2, bidir=True), 1, [1], 305),
    ("lstm_nobias_unequal", cfg("lstm", 3, 3, bias=False), 4, [2, 4], 306),
]

ONNX_CASES = [
    ("gru_classic", cfg("gru", 3, 4, gru_variant="classic"), 5, [5, 5, 5], 401),
    ("gru_classic_bidir", cfg("gru", 3, 3, bidir=True, gru_variant="classic"), 4, [4, 4], 402),
    ("gru_classic_bidir_unequal", cfg("gru", 3, 3, bidir=True, gru_variant="classic"), 4, [4, 1, 3], 403),
    ("lstm_peephole", cfg("lstm", 3, 4, peep=True), 5, [5, 5], 501),
    ("lstm_peephole_bidir", cfg("lstm", 2, 3, bidir=True, peep=True), 4, [4, 4, 4], 502),
    ("lstm_peephole_bidir_unequal", cfg("lstm", 2, 3, bidir=True, peep=True), 4, [2, 4, 3], 503),
]


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------

def hout(c):
    return c["proj_size"] if c["proj_size"] > 0 else c["hidden_size"]


def ndir(c):
    return 2 if c["bidirectional"] else 1


def flat(a):
    a = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    return [float(v) for v in np.asarray(a, dtype=np.float64).reshape(-1)]


def param_names(c):
    """PyTorch state_dict names, in state_dict order, plus our peephole_l<k>[_reverse]."""
    names = []
    for l in range(c["num_layers"]):
        for sfx in ([""] + (["_reverse"] if c["bidirectional"] else [])):
            n = [f"weight_ih_l{l}{sfx}", f"weight_hh_l{l}{sfx}"]
            if c["bias"]:
                n += [f"bias_ih_l{l}{sfx}", f"bias_hh_l{l}{sfx}"]
            if c["proj_size"] > 0:
                n += [f"weight_hr_l{l}{sfx}"]
            if c["peepholes"]:
                n += [f"peephole_l{l}{sfx}"]
            names += n
    return names


def make_module(c):
    kw = dict(input_size=c["input_size"], hidden_size=c["hidden_size"], num_layers=c["num_layers"],
              bias=c["bias"], bidirectional=c["bidirectional"])
    if c["cell"] in ("rnn_tanh", "rnn_relu"):
        m = torch.nn.RNN(nonlinearity=c["cell"][4:], **kw)
    elif c["cell"] == "gru":
        m = torch.nn.GRU(**kw)
    else:
        m = torch.nn.LSTM(proj_size=c["proj_size"], **kw)
    return m.double()


def random_case_tensors(c, T, B, gen):
    """Input N(0,1) [T,B,I], h0 N(0,1) [L*D,B,Hout], c0 N(0,1) [L*D,B,H] (lstm only)."""
    LD = c["num_layers"] * ndir(c)
    x = torch.randn(T, B, c["input_size"], generator=gen, dtype=torch.float64)
    h0 = torch.randn(LD, B, hout(c), generator=gen, dtype=torch.float64)
    c0 = (torch.randn(LD, B, c["hidden_size"], generator=gen, dtype=torch.float64)
          if c["cell"] == "lstm" else None)
    return x, h0, c0


# --------------------------------------------------------------------------------------------
# Independent numpy implementation (DESIGN.md section 2), PyTorch parameter layout
# --------------------------------------------------------------------------------------------

def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def np_step(c, p, x, h, cs):
    """One step for the whole batch. x [B,in], h [B,Hout], cs [B,H] or None -> (h', c')."""
    W, R = p["wih"], p["whh"]
    bi = p["bih"] if p["bih"] is not None else 0.0
    bh = p["bhh"] if p["bhh"] is not None else 0.0
    gx = x @ W.T + bi          # [B, G*H]
    gh = h @ R.T + bh          # [B, G*H]
    cell = c["cell"]
    if cell == "rnn_tanh":
        return np.tanh(gx + gh), None
    if cell == "rnn_relu":
        return np.maximum(gx + gh, 0.0), None
    if cell == "gru":
        xr, xz, xn = np.split(gx, 3, axis=1)
        hr, hz, hn = np.split(gh, 3, axis=1)
        r = sigmoid(xr + hr)
        z = sigmoid(xz + hz)
        if c["gru_variant"] == "linear_before_reset":
            n = np.tanh(xn + r * hn)                                   # r * (W_hn h + b_hn)
        else:
            Rn = np.split(R, 3, axis=0)[2]
            bhn = np.split(bh, 3)[2] if p["bhh"] is not None else 0.0
            n = np.tanh(xn + (r * h) @ Rn.T + bhn)                     # W_hn (r * h) + b_hn
        return (1.0 - z) * n + z * h, None
    # lstm: rows i, f, g, o
    gi, gf, gg, go = np.split(gx + gh, 4, axis=1)
    if p["peep"] is not None:
        Pi, Pf, Po = p["peep"]
        i = sigmoid(gi + Pi * cs)
        f = sigmoid(gf + Pf * cs)
        cn = f * cs + i * np.tanh(gg)
        o = sigmoid(go + Po * cn)
    else:
        i, f, o = sigmoid(gi), sigmoid(gf), sigmoid(go)
        cn = f * cs + i * np.tanh(gg)
    hn_ = o * np.tanh(cn)
    if p["whr"] is not None:
        hn_ = hn_ @ p["whr"].T
    return hn_, cn


def np_forward(c, params, x, lengths, h0, c0):
    """x [T,B,I], h0 [L*D,B,Hout], c0 [L*D,B,H] -> output [T,B,D*Hout] (zero past length), h_n, c_n.

    A sequence's state is frozen past its length; the reverse direction starts from h0 at step
    len_b - 1 and ends at step 0.
    """
    T, B, _ = x.shape
    D = ndir(c)
    lengths = np.asarray(lengths)
    layer_in = x
    hn_all, cn_all = [], []
    for l in range(c["num_layers"]):
        outs = []
        for d in range(D):
            sfx = "_reverse" if d == 1 else ""
            g = lambda k: params.get(f"{k}_l{l}{sfx}")
            p = {"wih": g("weight_ih"), "whh": g("weight_hh"), "bih": g("bias_ih"),
                 "bhh": g("bias_hh"), "whr": g("weight_hr"), "peep": g("peephole")}
            k = l * D + d
            h = h0[k].copy()
            cs = c0[k].copy() if c0 is not None else None
            y = np.zeros((T, B, h.shape[1]))
            steps = range(T) if d == 0 else range(T - 1, -1, -1)
            for t in steps:
                m = (t < lengths)[:, None]
                h_new, c_new = np_step(c, p, layer_in[t], h, cs)
                h = np.where(m, h_new, h)
                if cs is not None:
                    cs = np.where(m, c_new, cs)
                y[t] = np.where(m, h, 0.0)
            outs.append(y)
            hn_all.append(h)
            cn_all.append(cs)
        layer_in = np.concatenate(outs, axis=2)
    h_n = np.stack(hn_all)
    c_n = np.stack(cn_all) if c0 is not None else None
    return layer_in, h_n, c_n


def fixture_arrays(fx):
    """Rebuild numpy arrays of one fixture dict."""
    c = fx["config"]
    T, B = fx["T"], fx["B"]
    LD = c["num_layers"] * ndir(c)
    x = np.array(fx["input"]).reshape(T, B, c["input_size"])
    h0 = np.array(fx["h0"]).reshape(LD, B, hout(c))
    c0 = np.array(fx["c0"]).reshape(LD, B, c["hidden_size"]) if fx["c0"] is not None else None
    params = {k: np.array(v).reshape(fx["shapes"][k]) for k, v in fx["params"].items()}
    return c, x, h0, c0, params


# --------------------------------------------------------------------------------------------
# Torch oracle
# --------------------------------------------------------------------------------------------

def torch_run(m, c, x, lengths, h0, c0):
    """Forward on a PackedSequence; returns output [T,B,D*Hout] (zeros past length), h_n, c_n."""
    T = x.shape[0]
    packed = pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=False)
    if c["cell"] == "lstm":
        out, (h_n, c_n) = m(packed, (h0, c0))
    else:
        out, h_n = m(packed, h0)
        c_n = None
    out, _ = pad_packed_sequence(out, total_length=T)
    return out, h_n, c_n


def make_torch_case(name, c, T, lengths, seed):
    B = len(lengths)
    torch.manual_seed(seed)
    m = make_module(c)                       # default init U(-1/sqrt(H), 1/sqrt(H))
    gen = torch.Generator().manual_seed(seed + 10_000)
    x, h0, c0 = random_case_tensors(c, T, B, gen)
    x.requires_grad_()
    h0.requires_grad_()
    if c0 is not None:
        c0.requires_grad_()

    out, h_n, c_n = torch_run(m, c, x, lengths, h0, c0)

    g_out = torch.randn(out.shape, generator=gen, dtype=torch.float64)
    g_hn = torch.randn(h_n.shape, generator=gen, dtype=torch.float64)
    g_cn = torch.randn(c_n.shape, generator=gen, dtype=torch.float64) if c_n is not None else None
    loss = (out * g_out).sum() + (h_n * g_hn).sum()
    if c_n is not None:
        loss = loss + (c_n * g_cn).sum()
    loss.backward()

    sd = dict(m.named_parameters())
    names = param_names(c)
    assert sorted(names) == sorted(sd), (names, list(sd))

    if all(L == T for L in lengths):
        # With all lengths = T the packed run must equal the plain padded run.
        with torch.no_grad():
            r = m(x, (h0, c0)) if c0 is not None else m(x, h0)
            o2, h2 = (r[0], r[1][0]) if c0 is not None else r
        assert torch.equal(o2, out) and torch.equal(h2, h_n), name

    return {
        "name": name,
        "oracle": "torch",
        "config": c,
        "T": T, "B": B,
        "input": flat(x),
        "lengths": list(lengths),
        "h0": flat(h0),
        "c0": flat(c0) if c0 is not None else None,
        "params": {n: flat(sd[n]) for n in names},
        "shapes": {n: list(sd[n].shape) for n in names},
        "output": flat(out),
        "h_n": flat(h_n),
        "c_n": flat(c_n) if c_n is not None else None,
        "grad_output": flat(g_out),
        "grad_h_n": flat(g_hn),
        "grad_c_n": flat(g_cn) if g_cn is not None else None,
        "grads": {n: flat(sd[n].grad) for n in names},
        "grad_input": flat(x.grad),
        "grad_h0": flat(h0.grad),
        "grad_c0": flat(c0.grad) if c0 is not None else None,
    }


# --------------------------------------------------------------------------------------------
# ONNX oracle
# --------------------------------------------------------------------------------------------

# ONNX gate order expressed as PyTorch block indices.
ONNX_GRU_BLOCKS = [1, 0, 2]        # z, r, h  <- PyTorch r, z, n
ONNX_LSTM_BLOCKS = [0, 3, 1, 2]    # i, o, f, c  <- PyTorch i, f, g, o
ONNX_PEEP_ROWS = [0, 2, 1]         # P = [P_i, P_o, P_f]  <- our rows i, f, o


def to_onnx(c, params):
    """PyTorch-layout params of one layer -> ONNX W [D,G*H,I], R [D,G*H,H], B [D,2*G*H], P [D,3H]."""
    H = c["hidden_size"]
    blocks = ONNX_GRU_BLOCKS if c["cell"] == "gru" else ONNX_LSTM_BLOCKS
    G = len(blocks)

    def reorder(a):
        parts = np.split(np.asarray(a), G, axis=0)
        return np.concatenate([parts[b] for b in blocks], axis=0)

    Ws, Rs, Bs, Ps = [], [], [], []
    for d in range(ndir(c)):
        sfx = "_reverse" if d == 1 else ""
        Ws.append(reorder(params[f"weight_ih_l0{sfx}"]))
        Rs.append(reorder(params[f"weight_hh_l0{sfx}"]))
        if c["bias"]:
            Bs.append(np.concatenate([reorder(params[f"bias_ih_l0{sfx}"]),
                                      reorder(params[f"bias_hh_l0{sfx}"])]))
        else:
            Bs.append(np.zeros(2 * G * H))
        if c["peepholes"]:
            Ps.append(np.asarray(params[f"peephole_l0{sfx}"])[ONNX_PEEP_ROWS].reshape(-1))
    out = {"W": np.stack(Ws), "R": np.stack(Rs), "B": np.stack(Bs)}
    if c["peepholes"]:
        out["P"] = np.stack(Ps)
    return out


def onnx_model(c, T, B, dtype, with_lens):
    """One-node GRU/LSTM model. Inputs X, W, R, B, [sequence_lens], initial_h, [initial_c, P]."""
    H, I, D = c["hidden_size"], c["input_size"], ndir(c)
    G = GATES[c["cell"]]
    is_lstm = c["cell"] == "lstm"
    vi = helper.make_tensor_value_info
    ins = [vi("X", dtype, [T, B, I]), vi("W", dtype, [D, G * H, I]), vi("R", dtype, [D, G * H, H]),
           vi("B", dtype, [D, 2 * G * H])]
    if with_lens:
        ins.append(vi("sequence_lens", TensorProto.INT32, [B]))
    ins.append(vi("initial_h", dtype, [D, B, H]))
    if is_lstm:
        ins += [vi("initial_c", dtype, [D, B, H]), vi("P", dtype, [D, 3 * H])]
    node_in = ["X", "W", "R", "B", "sequence_lens" if with_lens else "", "initial_h"]
    if is_lstm:
        node_in += ["initial_c", "P"]
    attrs = {"hidden_size": H, "direction": "bidirectional" if D == 2 else "forward"}
    if c["cell"] == "gru":
        attrs["linear_before_reset"] = 1 if c["gru_variant"] == "linear_before_reset" else 0
    outs = ["Y", "Y_h"] + (["Y_c"] if is_lstm else [])
    node = helper.make_node(c["cell"].upper(), node_in, outs, **attrs)
    out_shapes = {"Y": [T, D, B, H], "Y_h": [D, B, H], "Y_c": [D, B, H]}
    graph = helper.make_graph([node], "rnn", ins, [vi(o, dtype, out_shapes[o]) for o in outs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)])
    model.ir_version = 10
    onnx.checker.check_model(model)
    return model


def onnx_feeds(c, x, h0, c0, params, dtype, lengths=None):
    f = {"X": x, "initial_h": h0, **to_onnx(c, params)}
    if c["cell"] == "lstm":
        f["initial_c"] = c0
        if "P" not in f:
            f["P"] = np.zeros((ndir(c), 3 * c["hidden_size"]))
    if lengths is not None:
        f["sequence_lens"] = np.asarray(lengths, dtype=np.int32)
    return {k: (v.astype(dtype) if v.dtype.kind == "f" else v) for k, v in f.items()}


def onnx_to_ours(c, Y, Y_h, Y_c):
    """ONNX Y [T,D,B,H] -> ours [T,B,D*H]; Y_h/Y_c [D,B,H] are already ours (single layer)."""
    T, D, B, H = Y.shape
    return Y.transpose(0, 2, 1, 3).reshape(T, B, D * H), Y_h, Y_c


def run_onnx_reference(c, x, lengths, h0, c0, params):
    """onnx.reference ignores sequence_lens, so each sequence runs alone on its first len_b steps."""
    T, B, _ = x.shape
    is_lstm = c["cell"] == "lstm"
    if all(L == T for L in lengths):
        sess = ReferenceEvaluator(onnx_model(c, T, B, TensorProto.DOUBLE, False))
        res = sess.run(None, onnx_feeds(c, x, h0, c0, params, np.float64))
        return onnx_to_ours(c, *res) if is_lstm else onnx_to_ours(c, *res, None)
    D, H = ndir(c), c["hidden_size"]
    out = np.zeros((T, B, D * H))
    h_n = np.zeros((D, B, H))
    c_n = np.zeros((D, B, H)) if is_lstm else None
    for b, L in enumerate(lengths):
        sess = ReferenceEvaluator(onnx_model(c, L, 1, TensorProto.DOUBLE, False))
        res = sess.run(None, onnx_feeds(c, x[:L, b:b + 1], h0[:, b:b + 1],
                                        c0[:, b:b + 1] if is_lstm else None, params, np.float64))
        o, hh, cc = onnx_to_ours(c, *res) if is_lstm else onnx_to_ours(c, *res, None)
        out[:L, b] = o[:, 0]
        h_n[:, b] = hh[:, 0]
        if is_lstm:
            c_n[:, b] = cc[:, 0]
    return out, h_n, c_n


def make_onnx_case(name, c, T, lengths, seed):
    B = len(lengths)
    H = c["hidden_size"]
    torch.manual_seed(seed)
    m = make_module(c)                       # same U(-1/sqrt(H), 1/sqrt(H)) init as PyTorch
    sd = {k: v.detach().numpy().copy() for k, v in m.named_parameters()}
    if c["peepholes"]:
        pg = torch.Generator().manual_seed(seed + 20_000)
        for sfx in ([""] + (["_reverse"] if c["bidirectional"] else [])):
            u = torch.rand(3, H, generator=pg, dtype=torch.float64)
            sd[f"peephole_l0{sfx}"] = ((2 * u - 1) / math.sqrt(H)).numpy()
    gen = torch.Generator().manual_seed(seed + 10_000)
    x, h0, c0 = random_case_tensors(c, T, B, gen)
    x, h0 = x.numpy(), h0.numpy()
    c0 = c0.numpy() if c0 is not None else None

    out, h_n, c_n = run_onnx_reference(c, x, lengths, h0, c0, sd)
    names = param_names(c)
    assert sorted(names) == sorted(sd), (names, list(sd))
    return {
        "name": name,
        "oracle": "onnx.reference",
        "config": c,
        "T": T, "B": B,
        "input": flat(x),
        "lengths": list(lengths),
        "h0": flat(h0),
        "c0": flat(c0) if c0 is not None else None,
        "params": {n: flat(sd[n]) for n in names},
        "shapes": {n: list(sd[n].shape) for n in names},
        "output": flat(out),
        "h_n": flat(h_n),
        "c_n": flat(c_n) if c_n is not None else None,
    }


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------

KEY_ORDER = ["name", "oracle", "config", "T", "B", "input", "lengths", "h0", "c0", "params",
             "shapes", "output", "h_n", "c_n", "grad_output", "grad_h_n", "grad_c_n", "grads",
             "grad_input", "grad_h0", "grad_c0"]


def write_fixture(fx):
    """One top-level key per line, values compact; floats printed by repr (shortest round-trip)."""
    lines = []
    for k in KEY_ORDER:
        if k not in fx:
            continue
        v = fx[k]
        if isinstance(v, dict) and k in ("params", "shapes", "grads"):
            inner = ",\n".join(f"  {json.dumps(n)}: {json.dumps(a)}" for n, a in v.items())
            lines.append(f" {json.dumps(k)}: {{\n{inner}\n }}")
        else:
            lines.append(f" {json.dumps(k)}: {json.dumps(v)}")
    text = "{\n" + ",\n".join(lines) + "\n}\n"
    assert json.loads(text) == {k: fx[k] for k in KEY_ORDER if k in fx}
    path = OUT_DIR / f"engine_{fx['name']}.json"
    path.write_text(text)
    return path


# --------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------

class Report:
    def __init__(self):
        self.failures = []

    def diff(self, label, a, b, atol, rtol=0.0):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        assert a.shape == b.shape, (label, a.shape, b.shape)
        d = np.abs(a - b)
        worst = float(d.max()) if d.size else 0.0
        where = np.unravel_index(int(d.argmax()), d.shape) if d.size else ()
        ok = bool(np.all(d <= atol + rtol * np.abs(b)))
        if not ok:
            self.failures.append(f"{label}: max |diff| {worst:.3e} at {where}")
        return worst


def loss_np(c, params, x, lengths, h0, c0, fx):
    out, h_n, c_n = np_forward(c, params, x, lengths, h0, c0)
    s = np.sum(out.reshape(-1) * np.asarray(fx["grad_output"]))
    s += np.sum(h_n.reshape(-1) * np.asarray(fx["grad_h_n"]))
    if c_n is not None:
        s += np.sum(c_n.reshape(-1) * np.asarray(fx["grad_c_n"]))
    return s


def fd_grad(f, a, eps=1e-6):
    g = np.zeros_like(a)
    it = np.nditer(a, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = a[i]
        a[i] = old + eps
        fp = f()
        a[i] = old - eps
        fm = f()
        a[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


def check_numpy(fx, rep):
    """Forward vs the numpy implementation; torch cases also gradients vs finite differences."""
    c, x, h0, c0, params = fixture_arrays(fx)
    lengths = fx["lengths"]
    out, h_n, c_n = np_forward(c, params, x, lengths, h0, c0)
    w = rep.diff(f"{fx['name']} output vs numpy", out.reshape(-1), fx["output"], 1e-12)
    w = max(w, rep.diff(f"{fx['name']} h_n vs numpy", h_n.reshape(-1), fx["h_n"], 1e-12))
    if c_n is not None:
        w = max(w, rep.diff(f"{fx['name']} c_n vs numpy", c_n.reshape(-1), fx["c_n"], 1e-12))
    g = None
    if "grads" in fx:
        f = lambda: loss_np(c, params, x, lengths, h0, c0, fx)
        g = 0.0
        for n in params:
            g = max(g, rep.diff(f"{fx['name']} d/d{n} vs finite diff", fd_grad(f, params[n]).reshape(-1),
                                fx["grads"][n], 1e-7, 1e-7))
        g = max(g, rep.diff(f"{fx['name']} grad_input vs finite diff", fd_grad(f, x).reshape(-1),
                            fx["grad_input"], 1e-7, 1e-7))
        g = max(g, rep.diff(f"{fx['name']} grad_h0 vs finite diff", fd_grad(f, h0).reshape(-1),
                            fx["grad_h0"], 1e-7, 1e-7))
        if c0 is not None:
            g = max(g, rep.diff(f"{fx['name']} grad_c0 vs finite diff", fd_grad(f, c0).reshape(-1),
                                fx["grad_c0"], 1e-7, 1e-7))
    return w, g


def check_reference_vs_torch(rep):
    """onnx.reference (linear_before_reset=1 GRU, peephole-free LSTM) vs torch: verifies conversion."""
    res = {}
    for label, c, seed in [("gru lbr=1 bidir", cfg("gru", 3, 4, bidir=True), 601),
                           ("lstm no-peephole bidir", cfg("lstm", 3, 4, bidir=True), 602)]:
        T, B = 5, 3
        torch.manual_seed(seed)
        m = make_module(c)
        gen = torch.Generator().manual_seed(seed + 10_000)
        x, h0, c0 = random_case_tensors(c, T, B, gen)
        with torch.no_grad():
            to, th, tc = torch_run(m, c, x, [T] * B, h0, c0)
        sd = {k: v.detach().numpy() for k, v in m.named_parameters()}
        o, h, cc = run_onnx_reference(c, x.numpy(), [T] * B, h0.numpy(),
                                      c0.numpy() if c0 is not None else None, sd)
        d = rep.diff(f"onnx.reference vs torch ({label}) output", o, to.numpy(), 1e-12)
        d = max(d, rep.diff(f"onnx.reference vs torch ({label}) h_n", h, th.numpy(), 1e-12))
        if tc is not None:
            d = max(d, rep.diff(f"onnx.reference vs torch ({label}) c_n", cc, tc.numpy(), 1e-12))
        res[label] = d
    return res


def check_onnxruntime(fx, rep):
    """The whole batch through onnxruntime (float32, with sequence_lens) vs the fixture."""
    import onnxruntime as ort
    c, x, h0, c0, params = fixture_arrays(fx)
    T, B = fx["T"], fx["B"]
    model = onnx_model(c, T, B, TensorProto.FLOAT, True)
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    res = sess.run(None, onnx_feeds(c, x, h0, c0, params, np.float32, fx["lengths"]))
    o, h, cc = onnx_to_ours(c, *res) if c["cell"] == "lstm" else onnx_to_ours(c, *res, None)
    d = rep.diff(f"{fx['name']} output vs onnxruntime", o.reshape(-1), fx["output"], 1e-5)
    d = max(d, rep.diff(f"{fx['name']} h_n vs onnxruntime", h.reshape(-1), fx["h_n"], 1e-5))
    if cc is not None:
        d = max(d, rep.diff(f"{fx['name']} c_n vs onnxruntime", cc.reshape(-1), fx["c_n"], 1e-5))
    return d


# --------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--no-check", action="store_true", help="write the fixtures, skip the checks")
    args = ap.parse_args()
    torch.set_default_dtype(torch.float64)

    fixtures = [make_torch_case(*case) for case in TORCH_CASES]
    fixtures += [make_onnx_case(*case) for case in ONNX_CASES]
    for fx in fixtures:
        p = write_fixture(fx)
        print(f"wrote {p.name:44s} {p.stat().st_size:6d} bytes  ({fx['oracle']})")
    if args.no_check:
        return 0

    rep = Report()
    print("\nforward vs numpy (max |diff|), gradients vs central finite differences (max |diff|):")
    for fx in fixtures:
        w, g = check_numpy(fx, rep)
        gs = f"   grads {g:.2e}" if g is not None else ""
        print(f"  {fx['name']:40s} forward {w:.2e}{gs}")

    print("\nonnx.reference vs torch (conversion check), max |diff|:")
    for label, d in check_reference_vs_torch(rep).items():
        print(f"  {label:40s} {d:.2e}")

    try:
        import onnxruntime  # noqa: F401
        have_ort = True
    except ImportError:
        have_ort = False
        print("\nonnxruntime not installed: skipping the onnxruntime cross-check")
    if have_ort:
        print("\nonnx.reference fixtures vs onnxruntime (float32, sequence_lens), max |diff|:")
        for fx in fixtures:
            if fx["oracle"] == "onnx.reference":
                print(f"  {fx['name']:40s} {check_onnxruntime(fx, rep):.2e}")

    if rep.failures:
        print("\nFAILED:", *rep.failures, sep="\n  ")
        return 1
    print("\nall checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
