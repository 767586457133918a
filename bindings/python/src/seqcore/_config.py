"""Configurations: a dict of options to a ``seq_config`` handle and back.

The type of each key (int, float, string) is read from the header's documentation of
``seq_config`` (``_capi.CONFIG_KEYS``); a key the header does not document is set by the Python
type of its value, so a newer library's keys still work.
"""

from __future__ import annotations

import ctypes
from typing import Any, Dict, Mapping, Optional

import numpy as np

from . import _capi
from ._handle import Handle, out_pointer
from ._arrays import c_string, check_float
from .errors import InvalidArgument, InvalidType, NotFound

__all__ = ["Config", "config_to_dict"]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class Config(Handle):
    """A ``seq_config`` handle built from a mapping; ``None`` values are left unset."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        pointer = out_pointer(_capi.seq_config)
        _capi.seq_config_create(ctypes.byref(pointer))
        super().__init__(pointer, _capi.seq_config_free)
        for key, value in options.items():
            if value is not None:
                self.set(key, value)

    def set(self, key: str, value: Any) -> None:
        kind = _capi.CONFIG_KEYS.get(key)
        if kind is None:
            if isinstance(value, str):
                kind = "string"
            elif isinstance(value, (bool, int, np.integer)):
                kind = "int"
            else:
                kind = "float"
        # Errors name the option as the caller knows it (its key), not the C parameter ("value").
        k = c_string(key, "option name")
        if kind == "string":
            if not isinstance(value, str):
                raise InvalidType(f"{key}: expected a string, got {type(value).__name__} {value!r}")
            text = c_string(value, key)
            with self._use() as h:
                _capi.seq_config_set_string(h, k, text)
        elif kind == "int":
            if isinstance(value, (float, np.floating)) and float(value).is_integer():
                value = int(value)
            if not isinstance(value, (bool, int, np.integer)):
                raise InvalidType(f"{key}: expected an integer, got {type(value).__name__} {value!r}")
            if not _INT64_MIN <= int(value) <= _INT64_MAX:
                raise InvalidArgument(f"{key}: expected a 64-bit integer, in [{_INT64_MIN}, {_INT64_MAX}], got {value}")
            with self._use() as h:
                _capi.seq_config_set_int(h, k, int(value))
        else:
            number = check_float(value, key)
            with self._use() as h:
                _capi.seq_config_set_float(h, k, number)

    def get(self, key: str) -> Optional[Any]:
        """The value of a key (its default when unset), or None for an unset key with no default."""
        kind = _capi.CONFIG_KEYS.get(key, "string")
        k = c_string(key, "option name")
        with self._use() as h:
            try:
                if kind == "int":
                    i = ctypes.c_int64()
                    _capi.seq_config_get_int(h, k, ctypes.byref(i))
                    return int(i.value)
                if kind == "float":
                    d = ctypes.c_double()
                    _capi.seq_config_get_float(h, k, ctypes.byref(d))
                    return float(d.value)
                length = ctypes.c_int64()
                _capi.seq_config_get_string(h, k, None, 0, ctypes.byref(length))
                buffer = ctypes.create_string_buffer(length.value + 1)
                _capi.seq_config_get_string(h, k, buffer, length.value + 1, None)
                return buffer.value.decode()
            except NotFound:
                return None

    def to_dict(self) -> Dict[str, Any]:
        """Every key the header documents, with its value (None when unset)."""
        return {key: self.get(key) for key in _capi.CONFIG_KEYS}


def config_to_dict(pointer: Any) -> Dict[str, Any]:
    """Reads and frees a ``seq_config *`` returned by the library."""
    config = Config.__new__(Config)
    Handle.__init__(config, pointer, _capi.seq_config_free)
    try:
        return config.to_dict()
    finally:
        config.close()
