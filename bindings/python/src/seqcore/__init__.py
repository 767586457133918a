"""seqcore: recurrent neural networks (RNN, GRU, LSTM) that train by backpropagation through time
and run fast on a CPU, from Python with numpy in and out.

A ctypes binding over ``libseqcore.so`` (bundled in the package; no Swift toolchain needed)::

    import numpy as np, seqcore

    text = np.frombuffer(b"hello world, " * 40, dtype=np.uint8)
    lm = seqcore.LanguageModel(seqcore.LSTM(16, 64), vocab_size=256, learning_rate=0.01)
    lm.fit([text[i:i + 32] for i in range(0, len(text) - 32, 8)], epochs=20)
    print(bytes(lm.generate(list(b"hel"), 20, temperature=0)))

What is here:

- layers with PyTorch's arguments, names and results: :class:`RNN`, :class:`GRU`, :class:`LSTM`
  (``state_dict``/``load_state_dict`` under PyTorch's names, ``from_torch``/``to_torch``,
  ``from_onnx``/``import_onnx`` for ONNX-layout W, R, B, P);
- the four architectures with ``fit``/``predict``/``evaluate``: :class:`SequenceTagger`,
  :class:`SequenceClassifier`, :class:`LanguageModel` (``generate``), :class:`Seq2Seq`
  (``decode``); :mod:`seqcore.optim` (torch.optim's optimizers and their options, learning-rate
  schedules with warm-up); ``save``/:func:`load`; streaming sessions (``model.stream()``, :class:`Stream`);
  the per-step gradient-norm diagnostic (``model.gradient_norms``);
- exceptions: every error is a :class:`SeqcoreError` (see :mod:`seqcore.errors`).

numpy: float32 C-contiguous arrays go to C without a copy; other real arrays (float64, ints,
views, torch tensors, lists) are converted once to float32. Token ids are any integer dtype
(int32 C-contiguous without a copy). Results are new numpy arrays. Lengths are lists or arrays;
a list of sequences of different lengths is padded for you.

Shape legend used throughout: B sequences (batch), T steps, I input features per step, H hidden
units, L layers, D directions (2 if bidirectional), V input vocabulary, K outputs per step.

Thread safety: every object may be used from any thread. Calls on one object (model, layer,
stream) are serialised by a lock in the object, held for the whole call (also through ``fit``,
whose progress callback runs on the calling thread); calls on different objects run in parallel,
since ctypes releases the GIL during C calls. ``close()`` waits for a call in progress on the same
object. :func:`set_num_threads` sets the library's kernel threads (1 or 2) for the whole process.
Error messages are kept per thread by the library, so concurrent failures never mix.

Environment: ``SEQCORE_LIBRARY`` overrides the path of ``libseqcore.so``; ``SEQCORE_HEADER`` that
of ``seqcore.h`` (both for development against a build tree).
"""

from __future__ import annotations

from . import _capi, optim
from ._arrays import check_int as _check_int
from ._header import load_header as _load_header
from ._lib import library_path
from .errors import (ClosedError, FileError, FormatError, InternalError, InvalidArgument, InvalidType, LibraryError,
                     MissingDependency, NotFound, NotSupported, NumericError, ResourceLimit, SeqcoreError, StateError)
from .layers import GRU, LSTM, RNN, RecurrentLayer, from_torch
from .models import LanguageModel, Seq2Seq, SequenceClassifier, SequenceModel, SequenceTagger, load
from .streaming import Stream
from .training import History

__version__: str = _load_header().version_string

__all__ = [
    "RNN", "GRU", "LSTM", "RecurrentLayer", "from_torch",
    "SequenceModel", "SequenceTagger", "SequenceClassifier", "LanguageModel", "Seq2Seq", "load",
    "Stream", "History", "optim",
    "SeqcoreError", "InvalidArgument", "InvalidType", "FileError", "FormatError", "NumericError", "ResourceLimit",
    "StateError", "NotFound", "ClosedError", "InternalError", "NotSupported", "LibraryError", "MissingDependency",
    "version", "library_version", "library_path", "set_num_threads", "get_num_threads", "has_gradient_norms",
    "__version__",
]


def version() -> str:
    """The package's version (that of the header it was built with), e.g. "0.1.0"."""
    return __version__


def library_version() -> str:
    """The loaded library's version, ``seq_version()``."""
    return _capi.seq_version().decode()


def set_num_threads(count: int) -> None:
    """Sets how many threads the kernels use (1, or 2 = the maximum), for every model of the
    process. Results are bit-identical for every setting. With 2, a persistent worker thread
    shares the work and polls for the next call for 2 ms after each one before it sleeps."""
    count = _check_int(count, "count", 1)
    _capi.seq_set_num_threads(min(count, 2**31 - 1))


def get_num_threads() -> int:
    """The number of threads the kernels use."""
    return int(_capi.seq_get_num_threads())


def has_gradient_norms() -> bool:
    """Whether the loaded library provides the per-step gradient-norm diagnostic
    (``model.gradient_norms``)."""
    return _capi.has_function("seq_model_gradient_norms")
