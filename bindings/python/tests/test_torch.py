"""Live parity with PyTorch (skipped when torch is not installed): from_torch / to_torch, forward
outputs and final states on packed sequences, a whole tagger's outputs and its gradients."""

from __future__ import annotations

import numpy as np
import pytest

import seqcore
from seqcore import errors

from conftest import HAS_TORCH, assert_close

pytestmark = pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed (optional)")

if HAS_TORCH:
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


def torch_forward(module, x, lengths, hx):
    """torch's forward in float64 on a packed batch (the reverse direction starts at each
    sequence's own end, as seqcore's lengths do)."""
    module = module.double()
    xt = torch.from_numpy(np.asarray(x, np.float64))
    packed = pack_padded_sequence(xt, torch.tensor(lengths), batch_first=module.batch_first, enforce_sorted=False)
    with torch.no_grad():
        out, state = module(packed, hx)
    out, _ = pad_packed_sequence(out, batch_first=module.batch_first, total_length=xt.shape[1 if module.batch_first else 0])
    return out.numpy(), state


def share_weights(model, rnn, head):
    """Gives a seqcore model the torch head's weights, then both torch modules the model's float32
    weights exactly (the recurrent stack came from torch through from_torch)."""
    model.load_state_dict({"head.weight": head.weight.detach().float().numpy(),
                           "head.bias": head.bias.detach().float().numpy()}, strict=False)
    state = model.state_dict()
    rnn.load_state_dict({n[4:]: torch.from_numpy(v).double() for n, v in state.items() if n.startswith("rnn.")})
    head.load_state_dict({n[5:]: torch.from_numpy(v).double() for n, v in state.items() if n.startswith("head.")})


CASES = [
    lambda: torch.nn.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2),
    lambda: torch.nn.LSTM(3, 4, batch_first=True),
    lambda: torch.nn.GRU(3, 4, num_layers=2, bidirectional=True),
    lambda: torch.nn.RNN(3, 4, nonlinearity="relu", bidirectional=True),
    lambda: torch.nn.RNN(3, 4, num_layers=3, bias=False),
]


@pytest.mark.parametrize("index", range(len(CASES)))
def test_from_torch_matches_torch_forward(index):
    torch.manual_seed(index)
    module = CASES[index]()
    layer = seqcore.from_torch(module)
    assert type(layer).__name__ == type(module).__name__
    T, B, I = 6, 3, 3
    lengths = [6, 2, 5]
    rng = np.random.default_rng(index)
    x = rng.standard_normal((B, T, I) if module.batch_first else (T, B, I)).astype(np.float32)
    D = 2 if module.bidirectional else 1
    hout = getattr(module, "proj_size", 0) or module.hidden_size
    h0 = rng.standard_normal((module.num_layers * D, B, hout)).astype(np.float32)
    if isinstance(module, torch.nn.LSTM):
        c0 = rng.standard_normal((module.num_layers * D, B, module.hidden_size)).astype(np.float32)
        out, (h_n, c_n) = layer(x, (h0, c0), lengths=lengths)
        ref, (ref_h, ref_c) = torch_forward(module, x, lengths, (torch.from_numpy(h0).double(), torch.from_numpy(c0).double()))
        assert_close(c_n, ref_c.numpy(), label="c_n")
    else:
        out, h_n = layer(x, h0, lengths=lengths)
        ref, ref_h = torch_forward(module, x, lengths, torch.from_numpy(h0).double())
    assert_close(out, ref, label=f"{module} output")
    assert_close(h_n, ref_h.numpy(), label=f"{module} h_n")


def test_to_torch_round_trip():
    for layer in (seqcore.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2, dropout=0.25, seed=1),
                  seqcore.GRU(3, 4, batch_first=True, seed=2), seqcore.RNN(3, 4, nonlinearity="relu", bias=False)):
        module = layer.to_torch()
        assert module.batch_first == layer.batch_first and module.dropout == layer.dropout
        for name, value in layer.state_dict().items():
            assert np.array_equal(module.state_dict()[name].numpy(), value), name
        back = seqcore.from_torch(module)
        x = np.random.default_rng(0).standard_normal((4, 2, 3)).astype(np.float32)
        assert_close(back(x)[0], layer(x)[0], 0, 0, repr(layer))


def test_torch_conversion_errors():
    with pytest.raises(errors.NotSupported, match="classic"):
        seqcore.GRU(3, 4, variant="classic").to_torch()
    with pytest.raises(errors.NotSupported, match="peepholes"):
        seqcore.LSTM(3, 4, peepholes=True).to_torch()
    with pytest.raises(errors.NotSupported, match="reverse"):
        seqcore.RNN(3, 4, direction="reverse").to_torch()
    with pytest.raises(errors.InvalidType, match="LSTM, GRU or RNN"):
        seqcore.from_torch(torch.nn.Linear(3, 4))
    with pytest.raises(errors.InvalidType):
        seqcore.GRU.from_torch(torch.nn.LSTM(3, 4))


def test_torch_tensors_are_accepted_as_inputs_and_weights():
    torch.manual_seed(0)
    module = torch.nn.GRU(3, 4)
    layer = seqcore.GRU(3, 4)
    layer.load_state_dict(module.state_dict())  # tensors, not arrays
    x = torch.randn(5, 2, 3)
    out, _ = layer(x)
    with torch.no_grad():
        ref, _ = module(x)
    assert_close(out, ref.numpy(), label="torch tensor input")


class Tagger(torch.nn.Module if HAS_TORCH else object):  # type: ignore[misc]
    def __init__(self, vocab, embed, hidden, classes):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab, embed)
        self.rnn = torch.nn.LSTM(embed, hidden, bidirectional=True)
        self.head = torch.nn.Linear(2 * hidden, classes)

    def forward(self, tokens, lengths):
        packed = pack_padded_sequence(self.embedding(tokens), lengths, enforce_sorted=False)
        out, _ = self.rnn(packed)
        out, _ = pad_packed_sequence(out, total_length=tokens.shape[0])
        return self.head(out)


def test_a_torch_tagger_outputs_and_gradients():
    """A torch tagger's state_dict loads by name; predictions are its softmax, and one training
    step's gradients (sum reduction, learning rate 0) are its autograd gradients."""
    torch.manual_seed(3)
    net = Tagger(11, 4, 5, 3).double()
    model = seqcore.SequenceTagger(seqcore.LSTM(4, 5, bidirectional=True), output_size=3, vocab_size=11,
                                   reduction="sum", optimizer="sgd", learning_rate=0.0, batch_first=False)
    model.load_state_dict({k: v.float() for k, v in net.state_dict().items()})
    net.load_state_dict({k: torch.from_numpy(v).double() for k, v in model.state_dict().items()})
    rng = np.random.default_rng(3)
    T, B = 6, 3
    tokens = rng.integers(0, 11, size=(T, B))
    labels = rng.integers(0, 3, size=(T, B))
    lengths = [6, 3, 5]
    logits = net(torch.from_numpy(tokens), torch.tensor(lengths))
    mask = torch.from_numpy(np.arange(T)[:, None] < np.array(lengths)[None, :])
    loss = torch.nn.functional.cross_entropy(logits[mask], torch.from_numpy(labels)[mask], reduction="sum")
    loss.backward()
    probabilities = torch.softmax(logits, -1).detach().numpy()
    assert_close(model.predict(tokens, lengths)[mask.numpy()], probabilities[mask.numpy()], label="probabilities")
    step_loss = model.train_step(tokens, labels, lengths)
    assert step_loss == pytest.approx(loss.item(), rel=1e-4)
    grads = model.gradients()
    for name, parameter in net.named_parameters():
        assert_close(grads[name], parameter.grad.numpy(), 1e-3, 1e-5, f"gradient of {name}")


def test_input_gradient_is_autograds_x_grad():
    """∂L/∂x of a GRU tagger (cross-entropy over the valid steps) against torch's x.grad."""
    torch.manual_seed(5)
    gru, head = torch.nn.GRU(3, 4).double(), torch.nn.Linear(4, 3).double()
    model = seqcore.SequenceTagger(seqcore.from_torch(gru), 3, batch_first=False)
    share_weights(model, gru, head)
    rng = np.random.default_rng(5)
    T, B, lengths = 6, 3, [6, 2, 4]
    x = rng.standard_normal((T, B, 3)).astype(np.float32)
    labels = rng.integers(0, 3, size=(T, B))
    xt = torch.from_numpy(x).double().requires_grad_(True)
    out, _ = gru(pack_padded_sequence(xt, torch.tensor(lengths), enforce_sorted=False))
    out, _ = pad_packed_sequence(out, total_length=T)
    mask = torch.from_numpy(np.arange(T)[:, None] < np.array(lengths)[None, :])
    torch.nn.functional.cross_entropy(head(out)[mask], torch.from_numpy(labels)[mask]).backward()
    assert_close(model.input_gradient(x, labels, lengths), xt.grad.numpy(), 1e-4, 1e-6, "dL/dx")


@pytest.mark.parametrize("kind", ["lstm_classifier", "gru_tagger"])
def test_forward_backward_of_a_custom_loss_is_autograds(kind):
    """A loss seqcore does not have, L = Σ w ⊙ z + ½ Σ z², through forward / backward from a given
    initial state: every weight's gradient, x.grad, h0.grad and c0.grad against torch's autograd."""
    torch.manual_seed(11)
    T, B, lengths = 5, 3, [5, 2, 4]
    if kind == "lstm_classifier":
        rnn = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2).double()
        model = seqcore.SequenceClassifier(seqcore.from_torch(rnn), 2, output="regression", batch_first=False)
        hout, k = 2, 2
    else:
        rnn = torch.nn.GRU(3, 4, num_layers=2).double()
        model = seqcore.SequenceTagger(seqcore.from_torch(rnn), 3, output="regression", batch_first=False)
        hout, k = 4, 3
    d = 2 if rnn.bidirectional else 1
    head = torch.nn.Linear(d * hout, k).double()
    share_weights(model, rnn, head)
    rng = np.random.default_rng(11)
    x = rng.standard_normal((T, B, 3)).astype(np.float32)
    h0 = 0.5 * rng.standard_normal((2 * d, B, hout)).astype(np.float32)
    c0 = 0.5 * rng.standard_normal((2 * d, B, 4)).astype(np.float32)
    initial = (h0, c0) if kind == "lstm_classifier" else h0

    xt = torch.from_numpy(x).double().requires_grad_(True)
    h0t = torch.from_numpy(h0).double().requires_grad_(True)
    c0t = torch.from_numpy(c0).double().requires_grad_(True)
    packed = pack_padded_sequence(xt, torch.tensor(lengths), enforce_sorted=False)
    out, state_n = rnn(packed, (h0t, c0t) if kind == "lstm_classifier" else h0t)
    if kind == "lstm_classifier":
        h_n = state_n[0]
        z = head(torch.cat([h_n[-2], h_n[-1]], dim=1))      # the top layer's two directions
        mask = torch.ones(B, k, dtype=torch.bool)
    else:
        out, _ = pad_packed_sequence(out, total_length=T)
        z = head(out)
        mask = torch.from_numpy(np.arange(T)[:, None] < np.array(lengths)[None, :])[..., None].expand(T, B, k)
    w = torch.from_numpy(rng.standard_normal(tuple(z.shape))).double()
    loss = ((w * z + 0.5 * z * z) * mask).sum()
    loss.backward()

    model.zero_grad()
    zs, _ = model.forward(x, lengths, initial_state=initial)
    assert_close(zs, (z * mask).detach().numpy(), 1e-4, 1e-6, "z")
    dx, dstate = model.backward(w.numpy().astype(np.float32) + zs)
    grads = model.gradients()
    for name, p in list(rnn.named_parameters()) + [("weight", head.weight), ("bias", head.bias)]:
        key = ("head." if p is head.weight or p is head.bias else "rnn.") + name
        assert_close(grads[key], p.grad.numpy(), 1e-4, 1e-6, key)
    assert_close(dx, xt.grad.numpy(), 1e-4, 1e-6, "x.grad")
    dh = dstate[0] if kind == "lstm_classifier" else dstate
    assert_close(dh, h0t.grad.numpy(), 1e-4, 1e-6, "h0.grad")
    if kind == "lstm_classifier":
        assert_close(dstate[1], c0t.grad.numpy(), 1e-4, 1e-6, "c0.grad")
