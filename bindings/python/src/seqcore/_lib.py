"""Finds and loads ``libseqcore.so`` and checks that it is the version this package was built for.

Where the library is looked for, in order:

1. ``$SEQCORE_LIBRARY``, when set: the path of a ``libseqcore.so`` (nothing else is tried, so a
   typo is reported instead of silently loading another copy);
2. the copy bundled inside the installed package, ``seqcore/libseqcore.so`` (put there by
   ``pip install``).

The version check compares ``seq_version_number()`` and ``seq_abi_version()`` of the loaded library
with ``SEQ_VERSION_NUMBER`` and ``SEQ_ABI_VERSION`` of the header the package carries (the header the
ctypes declarations in ``_capi`` were written against). A mismatch raises :class:`LibraryError`.
"""

from __future__ import annotations

import ctypes
import os
import threading
from pathlib import Path
from typing import List, Optional

from ._header import Header, load_header
from .errors import LibraryError

__all__ = ["library_candidates", "load_library", "library_path"]

_PACKAGE_DIR = Path(__file__).resolve().parent
_lock = threading.Lock()
_library: Optional[ctypes.CDLL] = None
_library_path: Optional[str] = None


def library_candidates() -> List[Path]:
    """The paths tried, in order (see the module docstring)."""
    env = os.environ.get("SEQCORE_LIBRARY")
    if env:
        return [Path(env).expanduser()]
    return [_PACKAGE_DIR / "libseqcore.so"]


def _check_version(lib: ctypes.CDLL, path: str, header: Header) -> None:
    try:
        version_number = lib.seq_version_number
        abi_version = lib.seq_abi_version
        version = lib.seq_version
    except AttributeError as error:
        raise LibraryError(f"{path} is not a seqcore library (no {error.args[0].split(':')[-1].strip()})") from None
    version_number.restype = ctypes.c_int32
    version_number.argtypes = []
    abi_version.restype = ctypes.c_int32
    abi_version.argtypes = []
    version.restype = ctypes.c_char_p
    version.argtypes = []
    got_number, got_abi = int(version_number()), int(abi_version())
    if got_abi != header.abi_version or got_number != header.version_number:
        raise LibraryError(
            f"{path} is seqcore {version().decode()} (version number {got_number}, ABI {got_abi}), but this "
            f"package was built for {header.version_string} (version number {header.version_number}, "
            f"ABI {header.abi_version}, header {header.path}). Reinstall the package, or point "
            f"SEQCORE_LIBRARY at a matching build."
        )


def load_library() -> ctypes.CDLL:
    """The loaded library (loaded and checked once per process).

    Raises:
        LibraryError: no library at any candidate path (the message lists them), the file cannot
            be loaded, or its version differs from the package's.
    """
    global _library, _library_path
    with _lock:
        if _library is not None:
            return _library
        try:
            header = load_header()
        except (OSError, ValueError) as error:
            raise LibraryError(f"cannot read the seqcore header: {error}") from None
        tried = library_candidates()
        for path in tried:
            if not path.is_file():
                continue
            try:
                lib = ctypes.CDLL(str(path))
            except OSError as error:
                raise LibraryError(f"cannot load {path}: {error}") from None
            _check_version(lib, str(path), header)
            _library, _library_path = lib, str(path)
            return lib
        hint = (
            "SEQCORE_LIBRARY is set: point it at an existing libseqcore.so (build one with `make lib`: "
            "build/lib/libseqcore.so)"
            if os.environ.get("SEQCORE_LIBRARY")
            else "install the package with `pip install ./bindings/python` (which builds and bundles the "
            "library), or set SEQCORE_LIBRARY to the path of a libseqcore.so"
        )
        raise LibraryError("libseqcore.so not found; tried: " + ", ".join(str(p) for p in tried) + ". " + hint)


def library_path() -> str:
    """The path of the loaded library."""
    load_library()
    assert _library_path is not None
    return _library_path
