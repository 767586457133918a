"""The base of every object that owns a C handle: frees it once, from ``close()``, the end of a
``with`` block or garbage collection, and refuses use after close with :class:`ClosedError`.

Each object has a re-entrant lock held for the duration of every C call on its handle, and taken
by ``close()``: closing an object while another thread is inside a call on it waits for that call
instead of freeing memory under it. Calls on one object are therefore serialised (the C library
serialises calls on one model anyway); calls on different objects run in parallel, since ctypes
releases the GIL.
"""

from __future__ import annotations

import ctypes
import threading
import weakref
from typing import Any, Callable, Optional

from .errors import ClosedError, InvalidType

__all__ = ["Handle"]


def refuse_copies() -> Any:
    """``__copy__``, ``__deepcopy__`` and ``__reduce_ex__`` that all raise ``self._refuse_copy()``:
    for objects that own a C object (copy, deepcopy and pickle would share or lose it)."""
    def refuse(self: Any, *_: Any) -> Any:
        return self._refuse_copy()
    return refuse, refuse, refuse


class _Use:
    """``with handle._use() as pointer``: the handle's lock held, its live pointer given. One per
    handle, reused by every call (the lock is re-entrant and holds the state): a quarter of the
    cost of a generator-based context manager, paid at every C call. It refers to its handle
    weakly, so that a dropped handle is freed at once, not when the cycle collector runs."""

    __slots__ = ("_handle", "_lock")

    def __init__(self, handle: "Handle") -> None:
        self._handle = weakref.ref(handle)
        self._lock = handle._lock

    def __enter__(self) -> Any:
        self._lock.acquire()
        handle = self._handle()
        pointer = None if handle is None else handle._pointer
        if pointer is None:
            self._lock.release()
            raise ClosedError(f"{'this object' if handle is None else handle._describe()} is closed")
        return pointer

    def __exit__(self, *exc: Any) -> None:
        self._lock.release()


class Handle:
    """Owns one C handle (a ctypes pointer) and the function that frees it."""

    _kind = "object"

    def __init__(self, pointer: Any, free: Callable[[Any], None]) -> None:
        if not pointer:
            raise ValueError("NULL handle")
        self._pointer: Optional[Any] = pointer
        self._free = free  # kept on the instance: module globals may be gone at interpreter exit
        self._lock = threading.RLock()
        self._user = _Use(self)

    def _use(self) -> _Use:
        """Holds the object's lock and gives the live handle (``with h._use() as pointer``);
        ClosedError after close()."""
        return self._user

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

    # A copy would hold the same C pointer and free it a second time: refused. Objects built on
    # handles (models, layers) make their copies from their weights instead.
    def _refuse_copy(self) -> Any:
        raise InvalidType(f"{self._describe()} holds a C object and cannot be copied or pickled")

    __copy__, __deepcopy__, __reduce_ex__ = refuse_copies()

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
