"""Shared helpers of the seqcore Python tests.

The tests run against whatever ``import seqcore`` finds: the installed package (run_tests.sh
installs it into a fresh venv and runs pytest from outside the source tree), or a source tree with
``SEQCORE_LIBRARY`` set. torch is optional: tests that need it are skipped when it is missing.
"""

from __future__ import annotations

import importlib.util
import json
import struct
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent.parent
FIXTURES = REPO / "Tests" / "Fixtures"
REPO_HEADER = REPO / "include" / "seqcore.h"

HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed (optional)")


def fixture_path(name: str) -> Path:
    path = FIXTURES / name
    if not path.is_file():
        pytest.skip(f"golden file {path} not found (tests run outside the repository)")
    return path


def load_json(name: str) -> Dict[str, Any]:
    return json.loads(fixture_path(name).read_text())


def read_safetensors(path: Path) -> Dict[str, np.ndarray]:
    """A minimal safetensors reader (F32/F64 only): 8-byte little-endian header length, JSON
    header, raw little-endian data."""
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    out: Dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = {"F32": "<f4", "F64": "<f8"}[info["dtype"]]
        start, end = info["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + start : 8 + n + end], dtype=dtype).reshape(info["shape"])
    return out


def assert_close(actual: Any, expected: Any, rtol: float = 1e-4, atol: float = 1e-5, label: str = "") -> None:
    """|actual - expected| <= atol + rtol * |expected| everywhere; on failure, reports the largest
    difference and its index."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    assert a.shape == e.shape, f"{label}: shape {a.shape} != expected {e.shape}"
    if a.size == 0:
        return
    diff = np.abs(a - e)
    excess = diff - (atol + rtol * np.abs(e))
    worst = np.unravel_index(int(np.argmax(excess)), a.shape)
    if excess[worst] > 0:
        raise AssertionError(
            f"{label}: max |diff| {diff.max():.3g}; worst at index {tuple(int(i) for i in worst)}: "
            f"got {a[worst]!r}, expected {e[worst]!r} (rtol {rtol}, atol {atol})"
        )


def rss_bytes() -> Optional[int]:
    """Resident set size of this process (Linux /proc), or None elsewhere."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
    except OSError:
        return None
    import os

    return pages * os.sysconf("SC_PAGE_SIZE")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
