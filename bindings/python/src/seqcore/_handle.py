"""The base of every object that owns a C handle: frees it once, from ``close()``, the end of a
``with`` block or garbage collection, and refuses use after close with :class:`ClosedError`.

Each object has a re-entrant lock held for the duration of every C call on its handle, and taken
by ``close()``: closing an object while another thread is inside a call on it waits for that call
instead of freeing memory under it. Calls on one object are therefore serialised (the C library
serialises calls on one model anyway); calls on different objects run in parallel, since ctypes
releases the GIL.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
from typing import Any, Callable, Iterator, Optional

from .errors import ClosedError

__all__ = ["Handle"]


class Handle:
    """Owns one C handle (a ctypes pointer) and the function that frees it."""

    _kind = "object"

    def __init__(self, pointer: Any, free: Callable[[Any], None]) -> None:
        if not pointer:
            raise ValueError("NULL handle")
        self._pointer: Optional[Any] = pointer
        self._free = free  # kept on the instance: module globals may be gone at interpreter exit
        self._lock = threading.RLock()

    @contextlib.contextmanager
    def _use(self) -> Iterator[Any]:
        """Holds the object's lock and yields the live handle; ClosedError after close()."""
        with self._lock:
            if self._pointer is None:
                raise ClosedError(f"{self._describe()} is closed")
            yield self._pointer

    def _describe(self) -> str:
        return f"this {type(self).__name__}"

    @property
    def closed(self) -> bool:
        """Whether ``close()`` has been called."""
        return self._pointer is None

    def close(self) -> None:
        """Frees the C object. Safe to call more than once; any later use raises ClosedError."""
        lock = getattr(self, "_lock", None)
        if lock is None:  # __init__ failed before the handle was set
            return
        with lock:
            pointer, self._pointer = self._pointer, None
            if pointer is not None:
                self._free(pointer)

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass


def out_pointer(kind: Any) -> Any:
    """A NULL ``kind *`` to receive a new handle through ``kind **``."""
    return ctypes.POINTER(kind)()
