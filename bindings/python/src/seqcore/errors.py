"""The exceptions of seqcore.

Every exception the package raises is a :class:`SeqcoreError`. Each subclass also derives from the
built-in exception a Python programmer would expect (``ValueError`` for a bad value, ``TypeError``
for a wrong type, ``OSError`` for a file or library problem, ``KeyError`` for an unknown name), so
``except ValueError`` works as usual. An error raised by the C library carries its status code
(``status``, e.g. ``"SEQ_ERR_INVALID_ARGUMENT"``) and the library's message from
``seq_last_error()``, which names the function, the argument, what was expected and what came.
"""

from __future__ import annotations

from typing import Dict, Optional, Type

__all__ = [
    "SeqcoreError",
    "InvalidArgument",
    "InvalidType",
    "FileError",
    "FormatError",
    "NumericError",
    "ResourceLimit",
    "StateError",
    "NotFound",
    "ClosedError",
    "InternalError",
    "NotSupported",
    "LibraryError",
    "MissingDependency",
    "error_for_status",
]


class SeqcoreError(Exception):
    """Base class of every seqcore exception.

    Attributes:
        status: the C status name (``"SEQ_ERR_..."``) when the error came from the library, else
            ``None``.
        code: the numeric status code, or ``None``.
        message: the message (``seq_last_error()`` for library errors).
    """

    def __init__(self, message: str, *, status: Optional[str] = None, code: Optional[int] = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.message


class InvalidArgument(SeqcoreError, ValueError):
    """An argument has the wrong value, size or shape (``SEQ_ERR_INVALID_ARGUMENT``), or NaN or
    infinite values."""


class InvalidType(SeqcoreError, TypeError):
    """An argument has the wrong type or dtype (e.g. float token ids, a string as features)."""


class FileError(SeqcoreError, OSError):
    """A file could not be opened, read, written or renamed (``SEQ_ERR_IO``)."""


class FormatError(SeqcoreError, ValueError):
    """A file is not a valid seqcore model file (``SEQ_ERR_FORMAT``)."""


class NumericError(SeqcoreError, ArithmeticError):
    """A loss or gradient became NaN or infinite (``SEQ_ERR_NUMERIC``); the parameters are those of
    the last good step."""


class ResourceLimit(SeqcoreError, ValueError):
    """A request would exceed a size or memory limit (``SEQ_ERR_RESOURCE_LIMIT``)."""


class StateError(SeqcoreError, RuntimeError):
    """The object is not in a state that allows the call (``SEQ_ERR_STATE``)."""


class NotFound(SeqcoreError, KeyError):
    """An unknown name: configuration key or parameter (``SEQ_ERR_NOT_FOUND``)."""


class ClosedError(SeqcoreError, ValueError):
    """An object was used after ``close()`` (or after its ``with`` block)."""


class InternalError(SeqcoreError, RuntimeError):
    """A bug in seqcore (``SEQ_ERR_INTERNAL``, also NULL-pointer, wrong-handle and buffer-size
    errors, which the binding never provokes); please report it with the message."""


class NotSupported(SeqcoreError, NotImplementedError):
    """The loaded library lacks a function this call needs (an older or unfinished C ABI), or a
    conversion has no counterpart (e.g. a classic GRU to ``torch.nn.GRU``)."""


class LibraryError(SeqcoreError, OSError):
    """``libseqcore.so`` or ``seqcore.h`` could not be found or loaded, or their versions do not
    match the package."""


class MissingDependency(SeqcoreError, ImportError):
    """An optional dependency is not installed (torch for ``to_torch``, matplotlib for
    ``History.plot``)."""


# By status *name*: the numbers come from the header (see _capi.status_name).
_BY_STATUS: Dict[str, Type[SeqcoreError]] = {
    "SEQ_ERR_INVALID_ARGUMENT": InvalidArgument,
    "SEQ_ERR_IO": FileError,
    "SEQ_ERR_FORMAT": FormatError,
    "SEQ_ERR_NUMERIC": NumericError,
    "SEQ_ERR_RESOURCE_LIMIT": ResourceLimit,
    "SEQ_ERR_STATE": StateError,
    "SEQ_ERR_NOT_FOUND": NotFound,
    "SEQ_ERR_NULL_POINTER": InternalError,
    "SEQ_ERR_WRONG_HANDLE": InternalError,
    "SEQ_ERR_BUFFER_TOO_SMALL": InternalError,
    "SEQ_ERR_INTERNAL": InternalError,
}


def error_for_status(status: Optional[str], code: int, message: str) -> SeqcoreError:
    """The exception for a failed C call: the class for the status name (the base class for a
    code this version does not know)."""
    cls = _BY_STATUS.get(status or "", SeqcoreError)
    return cls(message or f"seqcore call failed with status {status or code}", status=status, code=code)
