#!/usr/bin/env python3
"""Writes Tests/Fixtures/tbptt_training.json: truncated BPTT as a PyTorch user writes it.

Run with the reference environment (torch installed):

    /root/venv-ref/bin/python Tests/Fixtures/make_tbptt_fixtures.py

Each case is a tagger (nn.GRU or nn.LSTM, then nn.Linear, softmax cross-entropy averaged over the
valid steps) trained on one batch of sequences of unequal lengths in windows of k steps, in
float64: for each window, the sequences that reach it run on a PackedSequence from the state the
previous window ended in (detached: the gradient stops at the window's first step), then
zero_grad, backward and an SGD step with momentum. The initial weights and the inputs are float32
values (stored exactly), so seqcore starts from the same numbers. Recorded: the configuration,
the initial state_dict (PyTorch names with the tagger's "rnn." and "head." prefixes), inputs
x [T, B, I] time-major, labels [T, B] (0 past a length), lengths, every window's loss, and the
state_dict after the last window. Deterministic: re-running rewrites an identical file.
"""

import json
import os

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

HERE = os.path.dirname(os.path.abspath(__file__))


class Tagger(torch.nn.Module):
    def __init__(self, cell, inputs, hidden, layers, classes):
        super().__init__()
        kind = {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[cell]
        self.rnn = kind(inputs, hidden, num_layers=layers)
        self.head = torch.nn.Linear(hidden, classes)

    def forward(self, x, lengths, state):
        packed = pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=False)
        out, final = self.rnn(packed, state)
        out, _ = pad_packed_sequence(out, total_length=x.shape[0])
        return self.head(out), final


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def case(name, cell, inputs, hidden, layers, classes, lengths, window, lr, momentum, seed):
    torch.manual_seed(seed)
    net = Tagger(cell, inputs, hidden, layers, classes)
    # float32 weights and inputs, the arithmetic in float64
    net = net.float().double()
    initial = {k: v.clone() for k, v in net.state_dict().items()}
    steps, batch = max(lengths), len(lengths)
    x = torch.randn(steps, batch, inputs).float().double()
    labels = torch.randint(0, classes, (steps, batch))
    valid = torch.arange(steps)[:, None] < torch.tensor(lengths)[None, :]
    labels[~valid] = 0
    x[~valid] = 0
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum, foreach=False)
    rows, state, losses = list(range(batch)), None, []
    for start in range(0, steps, window):
        keep = [i for i, r in enumerate(rows) if lengths[r] > start]
        if len(keep) != len(rows):
            index = torch.tensor(keep)
            state = None if state is None else tuple(s[:, index] for s in state) if cell == "lstm" else state[:, index]
            rows = [rows[i] for i in keep]
        window_lengths = [min(lengths[r], start + window) - start for r in rows]
        span = max(window_lengths)
        xw = x[start:start + span, rows]
        yw = labels[start:start + span, rows]
        mask = torch.arange(span)[:, None] < torch.tensor(window_lengths)[None, :]
        logits, final = net(xw, window_lengths, state)
        loss = torch.nn.functional.cross_entropy(logits[mask], yw[mask])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        state = tuple(s.detach() for s in final) if cell == "lstm" else final.detach()
    return {
        "name": name, "cell": cell, "input_size": inputs, "hidden_size": hidden, "num_layers": layers,
        "classes": classes, "window": window, "learning_rate": lr, "momentum": momentum,
        "lengths": lengths, "x": flat(x), "labels": [int(v) for v in labels.reshape(-1).tolist()],
        "initial": {k: {"shape": list(v.shape), "values": flat(v)} for k, v in initial.items()},
        "window_losses": losses,
        "final": {k: {"shape": list(v.shape), "values": flat(v)} for k, v in net.state_dict().items()},
    }


def main():
    cases = [
        case("gru_k3", "gru", 3, 5, 1, 4, [8, 5, 3, 7], 3, 0.5, 0.9, 11),
        case("lstm_2layer_k2", "lstm", 3, 4, 2, 3, [7, 2, 6], 2, 0.3, 0.9, 12),
    ]
    payload = {"generator": "Tests/Fixtures/make_tbptt_fixtures.py",
               "torch_version": torch.__version__.split("+")[0], "cases": cases}
    with open(os.path.join(HERE, "tbptt_training.json"), "w") as f:
        json.dump(payload, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
