"""RNN, GRU and LSTM layers against the repository's golden files (PyTorch float64 and
onnx.reference results), through load_state_dict and forward; and their numpy conventions."""

from __future__ import annotations

import numpy as np
import pytest

import seqcore
from seqcore import errors

from conftest import FIXTURES, assert_close, fixture_path, load_json, read_safetensors
from onnx_oracle import onnx_to_torch

ENGINE_CASES = sorted(p.stem for p in FIXTURES.glob("engine_*.json")) if FIXTURES.is_dir() else []
ONNX_CASES = sorted(p.stem for p in FIXTURES.glob("interop_onnx_*.json")) if FIXTURES.is_dir() else []
TORCH_LAYER_CASES = ["interop_torch_lstm", "interop_torch_lstm_proj", "interop_torch_gru", "interop_torch_rnn_relu"]


def layer_from_fixture_config(config, **extra):
    cell = config["cell"]
    common = dict(input_size=config["input_size"], hidden_size=config["hidden_size"],
                  num_layers=config.get("num_layers", 1), bias=config.get("bias", True))
    if "direction" in config:
        common["direction"] = config["direction"]
    else:
        common["bidirectional"] = config["bidirectional"]
    common.update(extra)
    if cell == "lstm":
        return seqcore.LSTM(proj_size=config.get("proj_size", 0), peepholes=config.get("peepholes", False), **common)
    if cell == "gru":
        return seqcore.GRU(variant=config.get("gru_variant", "linear_before_reset"), **common)
    return seqcore.RNN(nonlinearity=cell[4:], **common)


def test_golden_files_are_present():
    assert len(ENGINE_CASES) >= 18, f"expected the 18 engine golden files in {FIXTURES}"
    assert len(ONNX_CASES) >= 8


@pytest.mark.parametrize("case", ENGINE_CASES)
def test_engine_golden_file(case):
    """Every engine golden file: weights by load_state_dict, the fixture's random h0/c0 and
    lengths; output, h_n and c_n within rel 1e-4 / abs 1e-5 (all cases, both directions)."""
    f = load_json(case + ".json")
    c = f["config"]
    T, B = f["T"], f["B"]
    layer = layer_from_fixture_config(c)
    D = 2 if c["bidirectional"] else 1
    L, H = c["num_layers"], c["hidden_size"]
    hout = c["proj_size"] or H
    state = {name: np.array(v).reshape(f["shapes"][name]) for name, v in f["params"].items()}
    layer.load_state_dict(state)
    assert list(layer.state_dict()) == list(f["params"]), "parameter names and order are PyTorch's"
    x = np.array(f["input"]).reshape(T, B, c["input_size"])
    h0 = np.array(f["h0"]).reshape(L * D, B, hout)
    if c["cell"] == "lstm":
        c0 = np.array(f["c0"]).reshape(L * D, B, H)
        out, (h_n, c_n) = layer(x, (h0, c0), lengths=f["lengths"])
        assert_close(c_n, np.array(f["c_n"]).reshape(L * D, B, H), label=f"{case} c_n")
    else:
        out, h_n = layer(x, h0, lengths=f["lengths"])
    assert out.dtype == np.float32 and h_n.dtype == np.float32
    assert_close(out, np.array(f["output"]).reshape(T, B, D * hout), label=f"{case} output")
    assert_close(h_n, np.array(f["h_n"]).reshape(L * D, B, hout), label=f"{case} h_n")
    layer.close()


@pytest.mark.parametrize("case", TORCH_LAYER_CASES)
def test_torch_state_dict_golden_file(case):
    """PyTorch state_dicts saved with safetensors load by name and reproduce torch's outputs."""
    f = load_json(case + ".json")
    c = f["config"]
    layer = layer_from_fixture_config(c)
    layer.load_state_dict(read_safetensors(fixture_path(case + ".safetensors")))
    T, B = f["T"], f["B"]
    x = np.array(f["input"]).reshape(T, B, c["input_size"])
    result = layer(x, lengths=f["lengths"])
    out, h_n = result[0], (result[1][0] if c["cell"] == "lstm" else result[1])
    assert_close(out, np.array(f["output"]).reshape(out.shape), label=f"{case} output")
    assert_close(h_n, np.array(f["h_n"]).reshape(h_n.shape), label=f"{case} h_n")
    if c["cell"] == "lstm":
        assert_close(result[1][1], np.array(f["c_n"]).reshape(result[1][1].shape), label=f"{case} c_n")


@pytest.mark.parametrize("case", ONNX_CASES)
def test_onnx_layout_golden_file(case):
    """ONNX-layout W, R, B, P (gate orders i,o,f,c and z,r,h) through from_onnx; Y, Y_h, Y_c of
    onnx.reference (ONNX layouts [T, D, B, H] and [D, B, H])."""
    f = load_json(case + ".json")
    op, H, I, T, B = f["op"], f["hidden_size"], f["input_size"], f["T"], f["batch"]
    D = 2 if f["direction"] == "bidirectional" else 1
    G = {"RNN": 1, "GRU": 3, "LSTM": 4}[op]
    arrays = {k: (None if f[k] is None else np.array(f[k])) for k in ("W", "R", "B", "P")}
    W, R = arrays["W"].reshape(D, G * H, I), arrays["R"].reshape(D, G * H, H)
    Bias = None if arrays["B"] is None else arrays["B"].reshape(D, 2 * G * H)
    P = None if arrays["P"] is None else arrays["P"].reshape(D, 3 * H)
    kwargs = {"linear_before_reset": f["linear_before_reset"]} if op == "GRU" else {}
    cls = {"RNN": seqcore.RNN, "GRU": seqcore.GRU, "LSTM": seqcore.LSTM}[op]
    layer = cls.from_onnx(W, R, Bias, P, direction=f["direction"], **kwargs)
    x = np.array(f["X"]).reshape(T, B, I)
    h0 = np.array(f["initial_h"]).reshape(D, B, H)
    if op == "LSTM":
        c0 = np.array(f["initial_c"]).reshape(D, B, H)
        out, (h_n, c_n) = layer(x, (h0, c0))
        assert_close(c_n, np.array(f["Y_c"]).reshape(D, B, H), label=f"{case} Y_c")
    else:
        out, h_n = layer(x, h0)
    y = np.array(f["Y"]).reshape(T, D, B, H).transpose(0, 2, 1, 3).reshape(T, B, D * H)
    assert_close(out, y, label=f"{case} Y")
    assert_close(h_n, np.array(f["Y_h"]).reshape(D, B, H), label=f"{case} Y_h")


@pytest.mark.parametrize("case", ONNX_CASES)
def test_onnx_import_equals_an_independent_conversion(case):
    """The C library's ONNX conversion (seq_model_set_onnx_tensor) puts every value where an
    independent numpy conversion from DESIGN.md's tables puts it."""
    f = load_json(case + ".json")
    op, H, I = f["op"], f["hidden_size"], f["input_size"]
    D = 2 if f["direction"] == "bidirectional" else 1
    G = {"RNN": 1, "GRU": 3, "LSTM": 4}[op]
    get = lambda k, shape: None if f[k] is None else np.array(f[k], dtype=np.float32).reshape(shape)
    W, R, B, P = get("W", (D, G * H, I)), get("R", (D, G * H, H)), get("B", (D, 2 * G * H)), get("P", (D, 3 * H))
    kwargs = {"linear_before_reset": f["linear_before_reset"]} if op == "GRU" else {}
    cls = {"RNN": seqcore.RNN, "GRU": seqcore.GRU, "LSTM": seqcore.LSTM}[op]
    layer = cls.from_onnx(W, R, B, P, direction=f["direction"], **kwargs)
    expected = onnx_to_torch(op.lower(), H, D, W, R, B, P)
    got = layer.state_dict()
    for k, entry in enumerate(expected):
        suffix = "_l0" + ("_reverse" if k == 1 else "")
        for base, value in entry.items():
            assert_close(got[base + suffix], value, 0, 0, f"{case} {base + suffix}")


def test_import_onnx_into_an_existing_layer_and_its_checks(rng):
    f = load_json("interop_onnx_lstm_peephole_bidir.json")
    H, I = f["hidden_size"], f["input_size"]
    W = np.array(f["W"], dtype=np.float32).reshape(2, 4 * H, I)
    R = np.array(f["R"], dtype=np.float32).reshape(2, 4 * H, H)
    B = np.array(f["B"], dtype=np.float32).reshape(2, 8 * H)
    P = np.array(f["P"], dtype=np.float32).reshape(2, 3 * H)
    layer = seqcore.LSTM(I, H, bidirectional=True, peepholes=True)
    layer.import_onnx(W, R, B, P)
    sd = layer.state_dict()
    # ONNX i, o, f, c blocks -> PyTorch i, f, g, o; peephole rows i, o, f -> i, f, o.
    assert_close(sd["weight_ih_l0"][H:2 * H], W[0, 2 * H:3 * H], 0, 0, "forget gate block")
    assert_close(sd["weight_hh_l0_reverse"][3 * H:], R[1, H:2 * H], 0, 0, "output gate block")
    assert_close(sd["bias_hh_l0"][:H], B[0, 4 * H:5 * H], 0, 0, "Rb input gate")
    assert_close(sd["peephole_l0"][1], P[0, 2 * H:3 * H], 0, 0, "peephole f")
    before = layer.state_dict()
    with pytest.raises(errors.InvalidArgument, match="W"):
        layer.import_onnx(W[:1], R, B, P)  # one direction for a bidirectional layer
    with pytest.raises(errors.InvalidArgument, match="layer"):
        layer.import_onnx(W, R, B, P, layer=1)
    bad = W.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(errors.InvalidArgument, match="finite"):
        layer.import_onnx(bad, R, B, P)
    for name, value in layer.state_dict().items():
        assert np.array_equal(value, before[name]), f"{name} changed by a failed import"
    plain = seqcore.LSTM(I, H, bidirectional=True)
    with pytest.raises(errors.InvalidArgument, match="peepholes"):
        plain.import_onnx(W, R, B, P)
    with pytest.raises(errors.NotSupported):
        seqcore.LSTM(I, H, proj_size=2).import_onnx(W[:1], R[:1])
    with pytest.raises(errors.NotSupported):
        seqcore.GRU(I, H, variant="simplified").import_onnx(np.zeros((1, 3 * H, I)), np.zeros((1, 3 * H, H)))
    # A two-layer model: layer 1 takes D·H inputs; the decoder stack of a seq2seq too.
    deep = seqcore.LSTM(I, H, num_layers=2, bidirectional=True, peepholes=True)
    deep.import_onnx(np.zeros((2, 4 * H, 2 * H), np.float32), R, B, P, layer=1)
    assert np.array_equal(deep.state_dict()["weight_hh_l1"], layer.state_dict()["weight_hh_l0"])
    assert np.all(deep.state_dict()["weight_ih_l1"] == 0)


def test_gru_onnx_variant_must_match():
    f = load_json("interop_onnx_gru_classic_bidir.json")
    H, I = f["hidden_size"], f["input_size"]
    W = np.array(f["W"]).reshape(2, 3 * H, I)
    R = np.array(f["R"]).reshape(2, 3 * H, H)
    layer = seqcore.GRU.from_onnx(W, R, direction="bidirectional", linear_before_reset=0)
    assert layer.variant == "classic"
    assert seqcore.GRU.from_onnx(W, R, direction="bidirectional", linear_before_reset=1).variant == "linear_before_reset"


def test_bidirectional_decomposition_equals_the_engine(rng):
    """The layer's forward (one stream per layer and direction, taking h0) equals the engine's
    whole-stack bidirectional run (zero h0), with unequal lengths."""
    for layer in (seqcore.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2, seed=3),
                  seqcore.GRU(3, 4, num_layers=2, bidirectional=True, variant="classic", seed=4),
                  seqcore.RNN(3, 4, num_layers=3, direction="reverse", seed=5),
                  seqcore.GRU(3, 4, num_layers=2, bidirectional=True, merge="sum", seed=6)):
        x = rng.standard_normal((6, 4, 3)).astype(np.float32)
        lengths = [6, 2, 5, 1]
        out = layer(x, lengths=lengths)[0]
        from seqcore._arrays import prepare_inputs
        inputs = prepare_inputs(x, lengths, uses_tokens=False, input_size=3, batch_first=False)
        engine = layer._handle.predict(inputs).reshape(out.shape)
        assert_close(out, engine, 1e-5, 1e-6, repr(layer))


def test_layouts_unbatched_and_ragged_inputs_agree(rng):
    layer = seqcore.GRU(3, 4, bidirectional=True, seed=7)
    x = rng.standard_normal((5, 2, 3)).astype(np.float32)
    out, h_n = layer(x, lengths=[5, 3])
    bf = seqcore.GRU(3, 4, bidirectional=True, batch_first=True, seed=7)
    bf.load_state_dict(layer.state_dict())
    out_bf, h_bf = bf(x.transpose(1, 0, 2), lengths=np.array([5, 3]))
    assert_close(out_bf.transpose(1, 0, 2), out, 0, 0, "batch_first output")
    assert_close(h_bf, h_n, 0, 0, "batch_first h_n")
    ragged_out, ragged_h = layer([x[:5, 0], x[:3, 1]])
    assert_close(ragged_out, out, 0, 0, "ragged output")
    single, single_h = layer(x[:3, 1])
    assert single.shape == (3, 8) and single_h.shape == (2, 4)
    assert_close(single, out[:3, 1], 1e-6, 1e-7, "unbatched output")
    assert np.all(out[3:, 1] == 0), "steps past a length are exactly zero"


def test_state_dict_round_trip_and_strictness(rng):
    a = seqcore.LSTM(2, 3, num_layers=2, seed=1)
    b = seqcore.LSTM(2, 3, num_layers=2, seed=2)
    assert not np.array_equal(a.state_dict()["weight_hh_l1"], b.state_dict()["weight_hh_l1"])
    b.load_state_dict({k: v.astype(np.float64) for k, v in a.state_dict().items()})
    for name, value in a.state_dict().items():
        assert np.array_equal(b.state_dict()[name], value)
    with pytest.raises(errors.NotFound, match="missing"):
        b.load_state_dict({"weight_ih_l0": a.state_dict()["weight_ih_l0"]})
    b.load_state_dict({"weight_ih_l0": np.zeros((12, 2))}, strict=False)
    assert np.all(b.state_dict()["weight_ih_l0"] == 0)
    assert a.num_parameters == sum(v.size for v in a.state_dict().values())


def test_layer_repr_and_properties():
    assert repr(seqcore.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2)) == \
        "LSTM(3, 5, num_layers=2, proj_size=2, bidirectional=True)"
    assert repr(seqcore.RNN(2, 3, nonlinearity="relu", batch_first=True)) == "RNN(2, 3, nonlinearity='relu', batch_first=True)"
    assert repr(seqcore.GRU(2, 3, variant="simplified")) == "GRU(2, 3, variant='simplified')"
    lstm = seqcore.LSTM(3, 5, bidirectional=True, proj_size=2)
    assert (lstm.num_directions, lstm.state_size, lstm.output_size) == (2, 2, 4)


def test_layer_dropout_is_inference_only(rng):
    layer = seqcore.LSTM(3, 4, num_layers=2, dropout=0.5, seed=1)
    x = rng.standard_normal((4, 2, 3)).astype(np.float32)
    a, _ = layer(x)
    b, _ = layer(x)
    assert np.array_equal(a, b), "a layer's forward is deterministic (evaluation mode)"


def test_gru_from_onnx_takes_linear_before_reset_0_or_1_only():
    W, R = np.zeros((1, 12, 3)), np.zeros((1, 12, 4))
    for bad in (2, -1, "yes", 0.5):
        with pytest.raises(errors.InvalidArgument, match="linear_before_reset: expected 0 or 1"):
            seqcore.GRU.from_onnx(W, R, linear_before_reset=bad)
    assert seqcore.GRU.from_onnx(W, R, linear_before_reset=np.int64(1)).variant == "linear_before_reset"
    assert seqcore.GRU.from_onnx(W, R, linear_before_reset=False).variant == "classic"


def test_layer_configuration_is_read_only(rng):
    """An assigned direction (or size, cell option ...) would leave the weights of another
    configuration behind it: refused, and the layer keeps working."""
    layer = seqcore.LSTM(2, 4, proj_size=3)
    x = rng.standard_normal((3, 1, 2)).astype(np.float32)
    before = layer(x)[0]
    for name, value in (("direction", "bidirectional"), ("hidden_size", 8), ("num_layers", 2), ("bias", False),
                        ("merge", "sum"), ("batch_first", True), ("proj_size", 0), ("peepholes", True),
                        ("seed", 1), ("input_size", 3), ("dropout", 0.5), ("initialization", "xavier"),
                        ("forget_bias", 1.0)):
        with pytest.raises(AttributeError, match=f"{name}: a layer's configuration is fixed"):
            setattr(layer, name, value)
    with pytest.raises(AttributeError, match="variant"):
        seqcore.GRU(2, 3).variant = "classic"
    with pytest.raises(AttributeError, match="nonlinearity"):
        seqcore.RNN(2, 3).nonlinearity = "relu"
    assert layer.direction == "forward" and layer.hidden_size == 4
    assert np.array_equal(layer(x)[0], before)


LAYER_VARIETY = [
    lambda: seqcore.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2, batch_first=True, seed=3,
                         forget_bias=1.0),
    lambda: seqcore.LSTM(3, 4, peepholes=True, direction="reverse", initialization="xavier"),
    lambda: seqcore.GRU(3, 4, num_layers=2, bidirectional=True, variant="classic", merge="sum", dropout=0.25),
    lambda: seqcore.RNN(3, 4, nonlinearity="relu", bias=False, seed=9),
]


@pytest.mark.parametrize("make", LAYER_VARIETY, ids=["lstm", "lstm-peep", "gru", "rnn"])
def test_layer_copies_and_pickles_are_independent_layers(make, rng):
    import copy
    import gc
    import pickle

    layer = make()
    state = {k: v + 0.01 * rng.standard_normal(v.shape).astype(np.float32) for k, v in layer.state_dict().items()}
    layer.load_state_dict(state)
    x = rng.standard_normal((4, 2, 3)).astype(np.float32)
    expected = layer(x)[0]
    for clone in (copy.copy(layer), copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        assert type(clone) is type(layer) and repr(clone) == repr(layer)
        assert clone._args == layer._args
        assert np.array_equal(clone(x)[0], expected)
        clone.load_state_dict({k: np.zeros_like(v) for k, v in state.items()})
        clone.close()
        del clone
        gc.collect()
        # The original is untouched by what happens to a copy (a shallow copy used to share its
        # sub-models, closed when the copy was dropped).
        assert not layer.closed and np.array_equal(layer(x)[0], expected)
    layer.close()
    with pytest.raises(errors.ClosedError, match="layer is closed"):
        copy.deepcopy(layer)
