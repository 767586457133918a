"""The installed package: it carries libseqcore.so (self-contained: no Swift runtime needed),
seqcore.h and py.typed, imports from any directory, and its public API is typed and documented."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

import seqcore

PACKAGE = Path(seqcore.__file__).resolve().parent
INSTALLED = not os.environ.get("SEQCORE_LIBRARY")
only_installed = pytest.mark.skipif(not INSTALLED, reason="running from a source tree with SEQCORE_LIBRARY set")


@only_installed
def test_the_package_bundles_library_header_and_type_marker():
    assert (PACKAGE / "libseqcore.so").is_file()
    assert (PACKAGE / "seqcore.h").is_file()
    assert (PACKAGE / "py.typed").is_file()
    assert Path(seqcore.library_path()) == PACKAGE / "libseqcore.so"


@only_installed
def test_imports_from_another_directory(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("SEQCORE_LIBRARY", "SEQCORE_HEADER", "PYTHONPATH")}
    code = ("import numpy as np, seqcore; m = seqcore.SequenceTagger(seqcore.LSTM(2, 3), output_size=1); "
            "print(seqcore.__version__, m.predict(np.zeros((1, 2, 2))).shape)")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [seqcore.__version__, "(1,", "2,", "1)"]


def test_the_library_needs_no_swift_runtime():
    ldd = subprocess.run(["ldd", seqcore.library_path()], capture_output=True, text=True)
    if ldd.returncode != 0:
        pytest.skip("ldd unavailable")
    assert "not found" not in ldd.stdout, ldd.stdout
    assert "libswift" not in ldd.stdout, f"links a Swift runtime library:\n{ldd.stdout}"


PUBLIC = [seqcore.RNN, seqcore.GRU, seqcore.LSTM, seqcore.SequenceTagger, seqcore.SequenceClassifier,
          seqcore.LanguageModel, seqcore.Seq2Seq, seqcore.Stream, seqcore.History]


@pytest.mark.parametrize("cls", PUBLIC, ids=lambda c: c.__name__)
def test_public_methods_are_documented_and_typed(cls):
    assert cls.__doc__ and len(cls.__doc__) > 80, f"{cls.__name__} needs a docstring"
    for name, member in inspect.getmembers(cls):
        if name.startswith("_") or not callable(member) or isinstance(member, type):
            continue
        assert member.__doc__, f"{cls.__name__}.{name} has no docstring"
        signature = inspect.signature(member)
        assert signature.return_annotation is not inspect.Signature.empty or name in ("close",), \
            f"{cls.__name__}.{name} has no return annotation"


def test_shape_legend_is_stated():
    doc = seqcore.__doc__ or ""
    for letter in ("B sequences", "T steps", "I input features", "H hidden", "L layers", "D directions",
                   "V input vocabulary", "K outputs"):
        assert letter in doc, f"legend entry {letter!r} missing from the package docstring"
    assert "Thread safety" in doc
    assert "[T, B, I]" in (seqcore.layers.__doc__ or "")
    assert "[B, T, K]" in (seqcore.SequenceModel.predict.__doc__ or "")
