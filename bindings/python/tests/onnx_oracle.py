"""An independent oracle for the tests: ONNX-layout recurrent weights to PyTorch layout, in numpy
(the package itself converts through the C function seq_model_set_onnx_tensor).

An ONNX RNN/GRU/LSTM node holds one layer, both directions in one tensor, gates in ONNX order:

- ``W`` [D, G·H, I], ``R`` [D, G·H, H], ``B`` [D, 2·G·H] = [Wb | Rb], ``P`` [D, 3·H] (LSTM peepholes);
- LSTM gates i, o, f, c; PyTorch's i, f, g, o are ONNX blocks 0, 2, 3, 1;
- GRU gates z, r, h; PyTorch's r, z, n are ONNX blocks 1, 0, 2;
- ``P`` rows i, o, f; seqcore's ``peephole`` [3, H] rows i, f, o are ONNX rows 0, 2, 1.

(DESIGN.md section 2, "Weight conversion tables".)
"""

from __future__ import annotations

from typing import Dict, List, Optional

import numpy as np

from seqcore.errors import InvalidArgument

__all__ = ["GATES", "onnx_to_torch"]

GATES = {"rnn": 1, "gru": 3, "lstm": 4}
# PyTorch block k is ONNX block _ORDER[cell][k].
_ORDER = {"rnn": [0], "gru": [1, 0, 2], "lstm": [0, 2, 3, 1]}
_PEEPHOLE_ROWS = [0, 2, 1]


def _reorder(a: np.ndarray, cell: str, hidden: int) -> np.ndarray:
    blocks = [a[k * hidden : (k + 1) * hidden] for k in _ORDER[cell]]
    return np.concatenate(blocks, axis=0)


def _check(name: str, a: np.ndarray, shape: tuple) -> None:
    if a.shape != shape:
        raise InvalidArgument(f"ONNX tensor {name}: expected shape {list(shape)}, got {list(a.shape)}")


def onnx_to_torch(
    cell: str,
    hidden_size: int,
    directions: int,
    W: np.ndarray,
    R: np.ndarray,
    B: Optional[np.ndarray],
    P: Optional[np.ndarray],
) -> List[Dict[str, np.ndarray]]:
    """One dict per direction with ``weight_ih`` [G·H, I], ``weight_hh`` [G·H, H], ``bias_ih``,
    ``bias_hh`` [G·H] (zeros when ``B`` is None, as ONNX defines) and ``peephole`` [3, H] (when
    ``P`` is given), in PyTorch layout and gate order."""
    g, h, d = GATES[cell], hidden_size, directions
    if W.ndim != 3:
        raise InvalidArgument(f"ONNX tensor W: expected shape [{d}, {g * h}, I], got {list(W.shape)}")
    _check("W", W, (d, g * h, W.shape[2]))
    _check("R", R, (d, g * h, h))
    if B is not None:
        _check("B", B, (d, 2 * g * h))
    if P is not None:
        if cell != "lstm":
            raise InvalidArgument(f"ONNX tensor P: peepholes exist only for LSTM, not {cell.upper()}")
        _check("P", P, (d, 3 * h))
    out: List[Dict[str, np.ndarray]] = []
    for k in range(d):
        bias = B[k] if B is not None else np.zeros(2 * g * h, dtype=np.float32)
        entry = {
            "weight_ih": _reorder(W[k], cell, h),
            "weight_hh": _reorder(R[k], cell, h),
            "bias_ih": _reorder(bias[: g * h], cell, h),
            "bias_hh": _reorder(bias[g * h :], cell, h),
        }
        if P is not None:
            entry["peephole"] = P[k].reshape(3, h)[_PEEPHOLE_ROWS]
        out.append({name: np.ascontiguousarray(v, dtype=np.float32) for name, v in entry.items()})
    return out
