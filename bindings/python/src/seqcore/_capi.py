"""The low-level layer: every function of ``seqcore.h`` declared for ctypes, each under its C
prototype.

Conventions of this module:

- A function returning ``seq_status`` raises the matching :mod:`seqcore.errors` exception when the
  status is not ``SEQ_OK`` (through ``errcheck``), with the message of ``seq_last_error()``, read on
  the same thread right after the call. Callers never look at status codes.
- Handles are typed pointers (``POINTER(seq_model)`` ...): passing a config where a model is
  expected is a ``ctypes.ArgumentError`` before the call, not a crash.
- Array arguments accept ``None`` (NULL), a numpy array of exactly the C element type and
  C-contiguous (passed without copying; a wrong dtype or layout is refused here, so it can never
  reach C), or a ctypes array/pointer/``byref``. Output arrays must also be writeable.
- The numbers (status codes, layouts) and the fields of ``seq_progress`` come from the header
  (:mod:`seqcore._header`); none is written here by hand.
- Hot paths that call one function many times with arguments they have already checked (a
  stream's step) use a second, unchecked binding of it (:func:`unchecked`): plain ctypes argument
  types derived from the header, the status returned as an int, turned into the same exception by
  :func:`raise_for_status`.

A function of the header that the loaded library does not export (a library built from older
sources) is bound to a stub that raises :class:`~seqcore.errors.NotSupported` when called.

ctypes releases the GIL during every call, so calls on different models run in parallel.
"""

from __future__ import annotations

import ctypes
import re
from ctypes import POINTER, byref, c_char, c_char_p, c_double, c_int32, c_int64, c_void_p
from typing import Any, Callable, Dict, List, Optional

import numpy as np

from ._header import load_header
from ._lib import load_library
from .errors import InvalidArgument, InvalidType, NotSupported, error_for_status

_lib = load_library()
HEADER = load_header()

# Status codes and layouts, by name, from the header.
STATUS: Dict[str, int] = dict(HEADER.enums["seq_status_code"])
STATUS_NAMES: Dict[int, str] = {v: k for k, v in STATUS.items()}
SEQ_OK: int = STATUS["SEQ_OK"]
LAYOUT: Dict[str, int] = dict(HEADER.enums["seq_layout_value"])
SEQ_LAYOUT_TIME_MAJOR: int = LAYOUT["SEQ_LAYOUT_TIME_MAJOR"]
SEQ_LAYOUT_BATCH_FIRST: int = LAYOUT["SEQ_LAYOUT_BATCH_FIRST"]
# Configuration keys and their types ("int", "float", "string"), from seq_config's documentation.
CONFIG_KEYS: Dict[str, str] = dict(HEADER.config_keys)


# --- Opaque handle types ---------------------------------------------------------------------


class seq_config(ctypes.Structure):
    """Opaque ``struct seq_config``."""


class seq_model(ctypes.Structure):
    """Opaque ``struct seq_model``."""


class seq_dataset(ctypes.Structure):
    """Opaque ``struct seq_dataset``."""


class seq_stream(ctypes.Structure):
    """Opaque ``struct seq_stream``."""


def _c_field_type(ctype: str) -> Any:
    return {"int64_t": c_int64, "int32_t": c_int32, "double": c_double}[ctype]


# typedef struct seq_progress { int64_t size; ... } seq_progress;  (fields read from the header)
seq_progress = type(
    "seq_progress",
    (ctypes.Structure,),
    {"_fields_": [(f.name, _c_field_type(f.ctype)) for f in HEADER.structs["seq_progress"]]},
)

# typedef int32_t (*seq_progress_callback)(const seq_progress *progress, void *user_data);
seq_progress_callback = ctypes.CFUNCTYPE(c_int32, POINTER(seq_progress), c_void_p)


# --- Array argument types --------------------------------------------------------------------


def _array_type(name: str, dtype: Any, element: Any, writeable: bool) -> type:
    pointer = POINTER(element)
    dtype = np.dtype(dtype)

    def from_param(cls: type, obj: Any) -> Any:
        if obj is None:
            return None
        if isinstance(obj, np.ndarray):
            if obj.dtype != dtype:
                raise InvalidType(f"{name}: expected a numpy array of dtype {dtype.name}, got {obj.dtype}")
            flags = obj.flags
            if not flags.c_contiguous:
                raise InvalidType(f"{name}: expected a C-contiguous array")
            if flags.writeable:
                # The array's buffer, seen as its first element: a fifth of the time of
                # obj.ctypes.data_as, and it keeps the array alive for the call, as that does.
                try:
                    return byref(element.from_buffer(obj))
                except (ValueError, TypeError):  # an empty array (nothing to map): the route below
                    pass
            elif writeable:
                raise InvalidType(f"{name}: expected a writeable array for an output")
            return obj.ctypes.data_as(pointer)
        return pointer.from_param(obj)

    return type(name, (), {"from_param": classmethod(from_param), "pointer": pointer})


FloatArray = _array_type("FloatArray", np.float32, ctypes.c_float, True)
ConstFloatArray = _array_type("ConstFloatArray", np.float32, ctypes.c_float, False)
Int32Array = _array_type("Int32Array", np.int32, c_int32, True)
ConstInt32Array = _array_type("ConstInt32Array", np.int32, c_int32, False)
Int64Array = _array_type("Int64Array", np.int64, c_int64, True)
ConstInt64Array = _array_type("ConstInt64Array", np.int64, c_int64, False)



class seq_status(c_int32):
    """``typedef int32_t seq_status`` as a result: a distinct type, so that only functions returning
    a status get the error check (and ctypes hands the checker the raw value)."""


def _checked_integer(name: str, base: Any, bits: int) -> type:
    """An argument type for a C integer that refuses what ctypes would silently wrap or truncate:
    a value out of range (``ValueError``) or not an integer (``TypeError``); the call wrapper turns
    these into InvalidArgument / InvalidType."""
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1

    def from_param(cls: type, value: Any) -> Any:
        if type(value) is int and low <= value <= high:  # the common case, first
            return base(value)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"expected an integer, got {type(value).__name__}")
        if not low <= value <= high:
            raise ValueError(f"expected an integer in [{low}, {high}] ({bits}-bit), got {value}")
        return base(int(value))

    return type(name, (base,), {"from_param": classmethod(from_param)})


def _checked_double_from_param(cls: type, value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    return c_double(float(value))


def _c_string_from_param(cls: type, value: Any) -> Any:
    # The callers pass checked strings (_arrays.c_string names the argument); this is the last
    # guard: bytes with a NUL would reach C cut short, a silently different string.
    if isinstance(value, bytes) and b"\0" in value:
        raise ValueError(f"expected a string without NUL bytes (C would cut it at the first), got {value!r}")
    return c_char_p.from_param(value)


Int32Arg = _checked_integer("Int32Arg", c_int32, 32)
Int64Arg = _checked_integer("Int64Arg", c_int64, 64)
DoubleArg = type("DoubleArg", (c_double,), {"from_param": classmethod(_checked_double_from_param)})
# typedef int32_t seq_layout;
seq_layout = _checked_integer("seq_layout", c_int32, 32)
# const char * as an argument: c_char_p that refuses an embedded NUL.
CString = type("CString", (c_char_p,), {"from_param": classmethod(_c_string_from_param)})


# The ctypes type of each C type of the header, as an argument (CTYPE_OF) and as a result
# (RESTYPE_OF); the tests check every declaration below against the header through these tables.
RESTYPE_OF: Dict[str, Any] = {
    "void": None,
    "int32_t": c_int32,
    "seq_status": seq_status,
    "const char *": c_char_p,
}
CTYPE_OF: Dict[str, Any] = {
    "int32_t": Int32Arg,
    "int64_t": Int64Arg,
    "double": DoubleArg,
    "seq_status": Int32Arg,
    "seq_layout": seq_layout,
    "const char *": CString,
    "char *": POINTER(c_char),
    "void *": c_void_p,
    "double *": POINTER(c_double),
    "float *": FloatArray,
    "const float *": ConstFloatArray,
    "int32_t *": Int32Array,
    "const int32_t *": ConstInt32Array,
    "int64_t *": Int64Array,
    "const int64_t *": ConstInt64Array,
    "seq_config *": POINTER(seq_config),
    "seq_config **": POINTER(POINTER(seq_config)),
    "seq_model *": POINTER(seq_model),
    "seq_model **": POINTER(POINTER(seq_model)),
    "seq_dataset *": POINTER(seq_dataset),
    "seq_dataset **": POINTER(POINTER(seq_dataset)),
    "seq_stream *": POINTER(seq_stream),
    "seq_stream **": POINTER(POINTER(seq_stream)),
    "seq_progress_callback": seq_progress_callback,
}


# --- Declaration helpers ---------------------------------------------------------------------


def last_error() -> str:
    """``seq_last_error()`` of the calling thread, decoded."""
    message = seq_last_error()
    return message.decode("utf-8", "replace") if message else ""


def status_name(code: int) -> Optional[str]:
    """The header's name of a status code (``None`` for a code this header does not know)."""
    return STATUS_NAMES.get(code)


def raise_for_status(code: int) -> None:
    """Raises the exception of a status code that is not ``SEQ_OK``, with the message of
    ``seq_last_error()`` (call it on the thread that made the call, right after it)."""
    if code != SEQ_OK:
        raise error_for_status(status_name(code), code, last_error())


def _raise_on_error(result: seq_status, func: Any, args: Any) -> int:
    code = int(result.value)
    if code != SEQ_OK:
        raise_for_status(code)
    return code


DECLARED: Dict[str, Callable[..., Any]] = {}


MISSING: List[str] = []


class _Missing:
    """Stands for a function of the header that the loaded library does not export (a library
    built from older sources with the same version number): calling it raises NotSupported, so
    the rest of the package still works."""

    def __init__(self, name: str, restype: Any, argtypes: List[Any]) -> None:
        self.__name__ = name
        self.restype = restype
        self.argtypes = argtypes

    def __call__(self, *args: Any) -> Any:
        raise NotSupported(f"{self.__name__} is declared in seqcore.h but missing from {_lib._name}: "
                           "rebuild the library (make lib) and reinstall the package")


def _argument_error(function: str, text: str) -> Exception:
    """ctypes' "argument 3: ValueError: ..." as "seq_x: argument 'steps': ..." (the parameter's
    name from the header), InvalidArgument for a value out of range, else InvalidType."""
    kind = InvalidArgument if "ValueError" in text or "InvalidArgument" in text else InvalidType
    m = re.match(r"argument (\d+): (?:<class '[\w.]+'>|[\w.]+): (.*)$", text, re.S)
    proto = HEADER.functions.get(function)
    if m is not None and proto is not None and 1 <= int(m.group(1)) <= proto.arity:
        return kind(f"{function}: argument '{proto.parameters[int(m.group(1)) - 1].name}': {m.group(2)}")
    return kind(f"{function}: {text}")


def _declare(name: str, restype: Any, argtypes: List[Any]) -> Any:
    """Binds ``name``: ``DECLARED[name]`` is the ctypes function (with argtypes, restype and the
    status check); the returned callable also turns ctypes' argument conversion errors into
    InvalidType / InvalidArgument naming the function."""
    try:
        func = getattr(_lib, name)
    except AttributeError:
        MISSING.append(name)
        DECLARED[name] = _Missing(name, restype, argtypes)
        return DECLARED[name]
    func.restype = restype
    func.argtypes = argtypes
    if restype is seq_status:
        func.errcheck = _raise_on_error
    DECLARED[name] = func

    def call(*args: Any) -> Any:
        try:
            return func(*args)
        except ctypes.ArgumentError as error:
            raise _argument_error(name, str(error)) from None

    call.__name__ = call.__qualname__ = name
    call.__wrapped__ = func  # type: ignore[attr-defined]
    return call


# The plain ctypes type of each C type of the header, for unchecked bindings: every pointer is a
# c_void_p, every integer its fixed width.
_UNCHECKED_TYPE_OF: Dict[str, Any] = {"int64_t": c_int64, "int32_t": c_int32, "seq_status": c_int32,
                                      "seq_layout": c_int32, "double": c_double}


def unchecked(name: str) -> Any:
    """A second ctypes binding of ``name`` for a hot path, apart from ``DECLARED``: argument types
    from the header's prototype (pointers and handles ``c_void_p``, integers ``c_int64`` /
    ``c_int32``), the result a plain int (the status code; no ``errcheck``). The caller passes
    ctypes values it made and checked once (ctypes' own conversions would still refuse a Python
    value out of range), and passes the status to :func:`raise_for_status`. A function the library
    lacks gives its NotSupported stub."""
    if name in MISSING:
        return DECLARED[name]
    proto = HEADER.functions[name]
    func = _lib[name]  # a new function object: DECLARED's keeps its checked argument types
    func.argtypes = [c_void_p if "*" in p.ctype else _UNCHECKED_TYPE_OF[p.ctype] for p in proto.parameters]
    func.restype = c_int32 if proto.restype in ("seq_status", "int32_t") else RESTYPE_OF[proto.restype]
    return func


def has_function(name: str) -> bool:
    """Whether the loaded library exports ``name``."""
    return name in DECLARED and name not in MISSING


_config_p = POINTER(seq_config)
_model_p = POINTER(seq_model)
_dataset_p = POINTER(seq_dataset)
_stream_p = POINTER(seq_stream)
_i64_p = Int64Array
_f64_p = POINTER(c_double)

# --- Version ---------------------------------------------------------------------------------

# const char *seq_version(void);
seq_version = _declare("seq_version", c_char_p, [])
# int32_t seq_version_number(void);
seq_version_number = _declare("seq_version_number", c_int32, [])
# int32_t seq_abi_version(void);
seq_abi_version = _declare("seq_abi_version", c_int32, [])

# --- Status codes and errors -----------------------------------------------------------------

# const char *seq_status_string(seq_status code);
seq_status_string = _declare("seq_status_string", c_char_p, [Int32Arg])
# const char *seq_last_error(void);
seq_last_error = _declare("seq_last_error", c_char_p, [])

# --- Threads ---------------------------------------------------------------------------------

# seq_status seq_set_num_threads(int32_t count);
seq_set_num_threads = _declare("seq_set_num_threads", seq_status, [Int32Arg])
# int32_t seq_get_num_threads(void);
seq_get_num_threads = _declare("seq_get_num_threads", c_int32, [])

# --- Configuration ---------------------------------------------------------------------------

# seq_status seq_config_create(seq_config **out);
seq_config_create = _declare("seq_config_create", seq_status, [POINTER(_config_p)])
# void seq_config_free(seq_config *config);
seq_config_free = _declare("seq_config_free", None, [_config_p])
# seq_status seq_config_set_int(seq_config *config, const char *key, int64_t value);
seq_config_set_int = _declare("seq_config_set_int", seq_status, [_config_p, CString, Int64Arg])
# seq_status seq_config_set_float(seq_config *config, const char *key, double value);
seq_config_set_float = _declare("seq_config_set_float", seq_status, [_config_p, CString, DoubleArg])
# seq_status seq_config_set_string(seq_config *config, const char *key, const char *value);
seq_config_set_string = _declare("seq_config_set_string", seq_status, [_config_p, CString, CString])
# seq_status seq_config_unset(seq_config *config, const char *key);
seq_config_unset = _declare("seq_config_unset", seq_status, [_config_p, CString])
# seq_status seq_config_get_int(seq_config *config, const char *key, int64_t *out);
seq_config_get_int = _declare("seq_config_get_int", seq_status, [_config_p, CString, _i64_p])
# seq_status seq_config_get_float(seq_config *config, const char *key, double *out);
seq_config_get_float = _declare("seq_config_get_float", seq_status, [_config_p, CString, _f64_p])
# seq_status seq_config_get_string(seq_config *config, const char *key, char *buffer, int64_t capacity,
#                                  int64_t *length);
seq_config_get_string = _declare(
    "seq_config_get_string", seq_status, [_config_p, CString, POINTER(c_char), Int64Arg, _i64_p]
)

# --- Models ----------------------------------------------------------------------------------

# seq_status seq_model_create(seq_config *config, seq_model **out);
seq_model_create = _declare("seq_model_create", seq_status, [_config_p, POINTER(_model_p)])
# void seq_model_free(seq_model *model);
seq_model_free = _declare("seq_model_free", None, [_model_p])
# seq_status seq_model_get_config(seq_model *model, seq_config **out);
seq_model_get_config = _declare("seq_model_get_config", seq_status, [_model_p, POINTER(_config_p)])

# --- Inference -------------------------------------------------------------------------------

# seq_status seq_model_predict(seq_model *model, const float *features, const int32_t *tokens, int64_t steps,
#                              int64_t batch, int64_t input_size, const int64_t *lengths, seq_layout layout,
#                              float *output, int64_t capacity, int64_t *count);
seq_model_predict = _declare(
    "seq_model_predict",
    seq_status,
    [_model_p, ConstFloatArray, ConstInt32Array, Int64Arg, Int64Arg, Int64Arg, ConstInt64Array, seq_layout,
     FloatArray, Int64Arg, _i64_p],
)
# seq_status seq_model_generate(seq_model *model, const int32_t *prefix, int64_t prefix_length, int64_t count,
#                               double temperature, int64_t top_k, int64_t seed, int32_t stop_token,
#                               int32_t *output, int64_t capacity, int64_t *generated);
seq_model_generate = _declare(
    "seq_model_generate",
    seq_status,
    [_model_p, ConstInt32Array, Int64Arg, Int64Arg, DoubleArg, Int64Arg, Int64Arg, Int32Arg, Int32Array, Int64Arg, _i64_p],
)
# seq_status seq_model_decode(seq_model *model, const float *features, const int32_t *tokens, int64_t steps,
#                             int64_t batch, int64_t input_size, const int64_t *lengths, seq_layout layout,
#                             int64_t max_length, double temperature, int64_t top_k, int64_t seed,
#                             int32_t *output, int64_t capacity, int64_t *output_lengths);
seq_model_decode = _declare(
    "seq_model_decode",
    seq_status,
    [_model_p, ConstFloatArray, ConstInt32Array, Int64Arg, Int64Arg, Int64Arg, ConstInt64Array, seq_layout,
     Int64Arg, DoubleArg, Int64Arg, Int64Arg, Int32Array, Int64Arg, Int64Array],
)

# --- Training --------------------------------------------------------------------------------

_BATCH_ARGS = [_model_p, ConstFloatArray, ConstInt32Array, Int64Arg, Int64Arg, Int64Arg, ConstInt64Array, seq_layout,
               ConstInt32Array, ConstFloatArray, Int64Arg, ConstInt64Array]

# seq_status seq_model_train_step(seq_model *model, const float *features, const int32_t *tokens, int64_t steps,
#                                 int64_t batch, int64_t input_size, const int64_t *lengths, seq_layout layout,
#                                 const int32_t *target_ids, const float *target_values, int64_t target_steps,
#                                 const int64_t *target_lengths, double *loss);
seq_model_train_step = _declare("seq_model_train_step", seq_status, _BATCH_ARGS + [_f64_p])
# seq_status seq_model_evaluate(seq_model *model, const float *features, const int32_t *tokens, int64_t steps,
#                               int64_t batch, int64_t input_size, const int64_t *lengths, seq_layout layout,
#                               const int32_t *target_ids, const float *target_values, int64_t target_steps,
#                               const int64_t *target_lengths, double *loss);
seq_model_evaluate = _declare("seq_model_evaluate", seq_status, _BATCH_ARGS + [_f64_p])
# seq_status seq_model_compute_gradients(seq_model *model, const float *features, const int32_t *tokens,
#                                        int64_t steps, int64_t batch, int64_t input_size, const int64_t *lengths,
#                                        seq_layout layout, const int32_t *target_ids, const float *target_values,
#                                        int64_t target_steps, const int64_t *target_lengths, double *loss);
seq_model_compute_gradients = _declare("seq_model_compute_gradients", seq_status, _BATCH_ARGS + [_f64_p])
# seq_status seq_model_apply_gradients(seq_model *model);
seq_model_apply_gradients = _declare("seq_model_apply_gradients", seq_status, [_model_p])
# seq_status seq_model_zero_gradients(seq_model *model);
seq_model_zero_gradients = _declare("seq_model_zero_gradients", seq_status, [_model_p])
# seq_status seq_model_set_learning_rate(seq_model *model, double learning_rate);
seq_model_set_learning_rate = _declare("seq_model_set_learning_rate", seq_status, [_model_p, DoubleArg])
# seq_status seq_model_get_learning_rate(seq_model *model, double *out);
seq_model_get_learning_rate = _declare("seq_model_get_learning_rate", seq_status, [_model_p, _f64_p])
# seq_status seq_model_gradient_norms(seq_model *model, float *buffer, int64_t capacity, int64_t *rows,
#                                     int64_t *steps);
seq_model_gradient_norms = _declare(
    "seq_model_gradient_norms", seq_status, [_model_p, FloatArray, Int64Arg, _i64_p, _i64_p]
)
# seq_status seq_model_input_gradient(seq_model *model, float *buffer, int64_t capacity, int64_t *count);
seq_model_input_gradient = _declare(
    "seq_model_input_gradient", seq_status, [_model_p, FloatArray, Int64Arg, _i64_p]
)

# --- Datasets and training loops -------------------------------------------------------------

# seq_status seq_dataset_create(seq_dataset **out);
seq_dataset_create = _declare("seq_dataset_create", seq_status, [POINTER(_dataset_p)])
# void seq_dataset_free(seq_dataset *dataset);
seq_dataset_free = _declare("seq_dataset_free", None, [_dataset_p])
# seq_status seq_dataset_set_inputs(seq_dataset *dataset, const float *features, const int32_t *tokens,
#                                   int64_t count, int64_t steps, int64_t input_size, const int64_t *lengths,
#                                   seq_layout layout);
seq_dataset_set_inputs = _declare(
    "seq_dataset_set_inputs",
    seq_status,
    [_dataset_p, ConstFloatArray, ConstInt32Array, Int64Arg, Int64Arg, Int64Arg, ConstInt64Array, seq_layout],
)
# seq_status seq_dataset_set_targets(seq_dataset *dataset, const int32_t *target_ids, const float *target_values,
#                                    int64_t count, int64_t target_steps, int64_t width,
#                                    const int64_t *target_lengths, seq_layout layout);
seq_dataset_set_targets = _declare(
    "seq_dataset_set_targets",
    seq_status,
    [_dataset_p, ConstInt32Array, ConstFloatArray, Int64Arg, Int64Arg, Int64Arg, ConstInt64Array, seq_layout],
)
# seq_status seq_dataset_count(seq_dataset *dataset, int64_t *count);
seq_dataset_count = _declare("seq_dataset_count", seq_status, [_dataset_p, _i64_p])
# seq_status seq_model_fit(seq_model *model, seq_dataset *dataset, int64_t epochs, int64_t batch_size,
#                          seq_progress_callback callback, void *user_data);
seq_model_fit = _declare(
    "seq_model_fit", seq_status, [_model_p, _dataset_p, Int64Arg, Int64Arg, seq_progress_callback, c_void_p]
)

# --- Parameters and gradients ----------------------------------------------------------------

# seq_status seq_model_parameter_count(seq_model *model, int64_t *count);
seq_model_parameter_count = _declare("seq_model_parameter_count", seq_status, [_model_p, _i64_p])
# seq_status seq_model_parameter_name(seq_model *model, int64_t index, char *buffer, int64_t capacity,
#                                     int64_t *length);
seq_model_parameter_name = _declare(
    "seq_model_parameter_name", seq_status, [_model_p, Int64Arg, POINTER(c_char), Int64Arg, _i64_p]
)
# seq_status seq_model_parameter_shape(seq_model *model, const char *name, int64_t *dims, int64_t capacity,
#                                      int64_t *rank, int64_t *count);
seq_model_parameter_shape = _declare(
    "seq_model_parameter_shape", seq_status, [_model_p, CString, Int64Array, Int64Arg, _i64_p, _i64_p]
)
# seq_status seq_model_get_parameter(seq_model *model, const char *name, float *buffer, int64_t capacity,
#                                    int64_t *count);
seq_model_get_parameter = _declare(
    "seq_model_get_parameter", seq_status, [_model_p, CString, FloatArray, Int64Arg, _i64_p]
)
# seq_status seq_model_set_parameter(seq_model *model, const char *name, const float *values, int64_t count);
seq_model_set_parameter = _declare(
    "seq_model_set_parameter", seq_status, [_model_p, CString, ConstFloatArray, Int64Arg]
)
# seq_status seq_model_get_gradient(seq_model *model, const char *name, float *buffer, int64_t capacity,
#                                   int64_t *count);
seq_model_get_gradient = _declare(
    "seq_model_get_gradient", seq_status, [_model_p, CString, FloatArray, Int64Arg, _i64_p]
)
# seq_status seq_model_set_gradient(seq_model *model, const char *name, const float *gradients, int64_t count);
seq_model_set_gradient = _declare(
    "seq_model_set_gradient", seq_status, [_model_p, CString, ConstFloatArray, Int64Arg]
)

# --- Streaming -------------------------------------------------------------------------------

# seq_status seq_stream_create(seq_model *model, int64_t batch, seq_stream **out);
seq_stream_create = _declare("seq_stream_create", seq_status, [_model_p, Int64Arg, POINTER(_stream_p)])
# void seq_stream_free(seq_stream *stream);
seq_stream_free = _declare("seq_stream_free", None, [_stream_p])
# seq_status seq_stream_feed(seq_stream *stream, const float *features, const int32_t *tokens, int64_t steps,
#                            int64_t batch, int64_t input_size, seq_layout layout, float *output,
#                            int64_t capacity, int64_t *count);
seq_stream_feed = _declare(
    "seq_stream_feed",
    seq_status,
    [_stream_p, ConstFloatArray, ConstInt32Array, Int64Arg, Int64Arg, Int64Arg, seq_layout, FloatArray, Int64Arg, _i64_p],
)
# seq_status seq_stream_feed_hidden(seq_stream *stream, const float *features, const int32_t *tokens, int64_t steps,
#                                   int64_t batch, int64_t input_size, seq_layout layout, float *output,
#                                   int64_t capacity, int64_t *count);
seq_stream_feed_hidden = _declare(
    "seq_stream_feed_hidden",
    seq_status,
    [_stream_p, ConstFloatArray, ConstInt32Array, Int64Arg, Int64Arg, Int64Arg, seq_layout, FloatArray, Int64Arg, _i64_p],
)
# seq_status seq_stream_reset(seq_stream *stream);
seq_stream_reset = _declare("seq_stream_reset", seq_status, [_stream_p])
# seq_status seq_stream_position(seq_stream *stream, int64_t *steps);
seq_stream_position = _declare("seq_stream_position", seq_status, [_stream_p, _i64_p])
# seq_status seq_stream_get_state(seq_stream *stream, float *h, int64_t h_capacity, int64_t *h_count, float *c,
#                                 int64_t c_capacity, int64_t *c_count);
seq_stream_get_state = _declare(
    "seq_stream_get_state", seq_status, [_stream_p, FloatArray, Int64Arg, _i64_p, FloatArray, Int64Arg, _i64_p]
)
# seq_status seq_stream_set_state(seq_stream *stream, const float *h, int64_t h_count, const float *c,
#                                 int64_t c_count);
seq_stream_set_state = _declare(
    "seq_stream_set_state", seq_status, [_stream_p, ConstFloatArray, Int64Arg, ConstFloatArray, Int64Arg]
)

# --- Model files -----------------------------------------------------------------------------

# seq_status seq_model_save(seq_model *model, const char *path);
seq_model_save = _declare("seq_model_save", seq_status, [_model_p, CString])
# seq_status seq_model_save_checkpoint(seq_model *model, const char *path);
seq_model_save_checkpoint = _declare("seq_model_save_checkpoint", seq_status, [_model_p, CString])
# seq_status seq_model_load(const char *path, seq_model **out);
seq_model_load = _declare("seq_model_load", seq_status, [CString, POINTER(_model_p)])

# --- ONNX import -----------------------------------------------------------------------------

# seq_status seq_model_set_onnx_tensor(seq_model *model, const char *stack, int64_t layer, const char *tensor,
#                                      const float *data, int64_t count);
seq_model_set_onnx_tensor = _declare(
    "seq_model_set_onnx_tensor", seq_status, [_model_p, CString, Int64Arg, CString, ConstFloatArray, Int64Arg]
)

# --- Forward and backward, for a loss of the caller's ----------------------------------------

# seq_status seq_model_forward(seq_model *model, const float *features, const int32_t *tokens, int64_t steps,
#                              int64_t batch, int64_t input_size, const int64_t *lengths, seq_layout layout,
#                              const float *h0, int64_t h0_count, const float *c0, int64_t c0_count,
#                              int32_t training, float *output, int64_t capacity, int64_t *count);
seq_model_forward = _declare(
    "seq_model_forward",
    seq_status,
    [_model_p, ConstFloatArray, ConstInt32Array, Int64Arg, Int64Arg, Int64Arg, ConstInt64Array, seq_layout,
     ConstFloatArray, Int64Arg, ConstFloatArray, Int64Arg, Int32Arg, FloatArray, Int64Arg, _i64_p],
)
# seq_status seq_model_backward(seq_model *model, const float *gradient, int64_t count);
seq_model_backward = _declare("seq_model_backward", seq_status, [_model_p, ConstFloatArray, Int64Arg])
# seq_status seq_model_final_state(seq_model *model, float *h, int64_t h_capacity, int64_t *h_count, float *c,
#                                  int64_t c_capacity, int64_t *c_count);
seq_model_final_state = _declare(
    "seq_model_final_state", seq_status, [_model_p, FloatArray, Int64Arg, _i64_p, FloatArray, Int64Arg, _i64_p]
)
# seq_status seq_model_state_gradient(seq_model *model, float *h, int64_t h_capacity, int64_t *h_count, float *c,
#                                     int64_t c_capacity, int64_t *c_count);
seq_model_state_gradient = _declare(
    "seq_model_state_gradient", seq_status, [_model_p, FloatArray, Int64Arg, _i64_p, FloatArray, Int64Arg, _i64_p]
)
