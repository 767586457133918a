"""The low-level layer against the header: every C function bound, with the right arity and
types; numbers read from the header, not copied; the loader's checks."""

from __future__ import annotations

import ctypes
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import seqcore
from seqcore import _capi, _header, _lib, errors

from conftest import REPO_HEADER


def bundled_or_repo_header() -> Path:
    """The header the package uses (bundled copy when installed), and it must be the repo's too
    when both exist."""
    path = _header.find_header()
    if REPO_HEADER.is_file():
        assert path.read_text() == REPO_HEADER.read_text(), (
            f"the package's header {path} differs from {REPO_HEADER}: reinstall the package")
    return path


@pytest.fixture(scope="module")
def header() -> _header.Header:
    path = bundled_or_repo_header()
    return _header.parse_header(path.read_text(), str(path))


def test_header_parses_every_declaration(header):
    text = Path(header.path).read_text()
    # Every "seq_xxx(" at the start of a declaration is a function the parser found.
    declared = set(re.findall(r"^[a-z_0-9 ]+\*?\s*\*?(seq_\w+)\(", text, re.M))
    assert declared, "no declarations found in the header"
    assert declared == set(header.functions)
    assert len(header.functions) >= 50


def test_every_header_function_is_bound_with_its_arity_and_types(header):
    problems = []
    for name, proto in header.functions.items():
        func = _capi.DECLARED.get(name)
        if func is None:
            problems.append(f"{name}: missing from seqcore._capi")
            continue
        if len(func.argtypes) != proto.arity:
            problems.append(f"{name}: {len(func.argtypes)} argtypes, the header has {proto.arity}: {proto.text}")
            continue
        for i, p in enumerate(proto.parameters):
            want = _capi.CTYPE_OF.get(p.ctype)
            if want is None:
                problems.append(f"{name}: parameter {p.name} has C type {p.ctype!r} unknown to _capi.CTYPE_OF")
            elif func.argtypes[i] is not want:
                problems.append(f"{name}: parameter {i} ({p.ctype} {p.name}) bound as {func.argtypes[i]}, expected {want}")
        want_res = _capi.RESTYPE_OF.get(proto.restype, "?")
        if func.restype is not want_res:
            problems.append(f"{name}: restype {func.restype}, header says {proto.restype}")
    assert not problems, "\n".join(problems)


def test_nothing_bound_beyond_the_header_and_nothing_missing_from_the_library(header):
    assert set(_capi.DECLARED) == set(header.functions)
    assert _capi.MISSING == [], f"the library lacks functions of its header: {_capi.MISSING}"


def test_a_function_missing_from_the_library_raises_not_supported():
    stub = _capi._Missing("seq_future_function", _capi.seq_status, [])
    with pytest.raises(errors.NotSupported, match="seq_future_function"):
        stub()


def test_each_declaration_is_under_its_prototype_comment(header):
    source = inspect.getsource(_capi)
    flat = re.sub(r"\s+", " ", re.sub(r"\n# ?", " ", source))
    for name, proto in header.functions.items():
        assert re.sub(r"\s+", " ", proto.text) in flat, f"{name}: prototype not quoted in _capi.py: {proto.text}"


def test_status_and_layout_values_come_from_the_header(header):
    assert _capi.STATUS == header.enums["seq_status_code"]
    assert _capi.LAYOUT == header.enums["seq_layout_value"]
    assert _capi.SEQ_OK == header.constant("SEQ_OK")
    # No literal status numbers in the binding: the names map to exception classes.
    for name in header.enums["seq_status_code"]:
        if name != "SEQ_OK":
            assert name in errors._BY_STATUS, f"{name} has no exception class"
    # The library's own names for the codes agree with the header's.
    for name, code in header.enums["seq_status_code"].items():
        assert _capi.seq_status_string(code)


def test_config_keys_and_progress_struct_come_from_the_header(header):
    assert _capi.CONFIG_KEYS == header.config_keys
    assert {"cell", "hidden_size", "learning_rate", "architecture"} <= set(_capi.CONFIG_KEYS)
    assert _capi.CONFIG_KEYS["learning_rate"] == "float" and _capi.CONFIG_KEYS["cell"] == "string"
    fields = [f.name for f in header.structs["seq_progress"]]
    assert [f[0] for f in _capi.seq_progress._fields_] == fields
    assert fields[0] == "size"


def test_progress_struct_size_matches_the_library():
    seen = []
    model = seqcore.SequenceClassifier(seqcore.GRU(2, 3), output_size=2)
    x = np.zeros((4, 3, 2), np.float32)
    orig = _capi.seq_progress_callback

    history = model.fit(x, np.array([0, 1, 0, 1]), epochs=1, batch_size=2, verbose=0)
    assert len(history.batch_loss) == 2
    # Read the size field through a raw fit with our own callback.
    def on_progress(p, user):
        seen.append((p.contents.size, p.contents.batch, p.contents.batches))
        return 0
    from seqcore.models import _Dataset
    inputs, targets = model._fit_data(x, np.array([0, 1, 0, 1]), None, None)
    cb = orig(on_progress)
    with _Dataset(inputs, targets) as d, model._handle._use() as h, d._use() as dh:
        _capi.seq_model_fit(h, dh, 1, 2, cb, None)
    assert seen and seen[0][0] == ctypes.sizeof(_capi.seq_progress)
    assert [s[1:] for s in seen] == [(1, 2), (2, 2)]


def test_version_matches_header_and_library(header):
    assert seqcore.__version__ == header.version_string
    assert seqcore.library_version() == header.version_string
    assert _capi.seq_version_number() == header.version_number
    assert _capi.seq_abi_version() == header.abi_version


def test_version_mismatch_is_refused(header):
    fake = _header.Header(path="fake.h", defines=dict(header.defines))
    fake.defines["SEQ_VERSION_NUMBER"] = str(header.version_number + 1)
    with pytest.raises(errors.LibraryError, match="built for") as info:
        _lib._check_version(ctypes.CDLL(seqcore.library_path()), seqcore.library_path(), fake)
    assert isinstance(info.value, OSError)
    fake.defines["SEQ_VERSION_NUMBER"] = str(header.version_number)
    fake.defines["SEQ_ABI_VERSION"] = str(header.abi_version + 1)
    with pytest.raises(errors.LibraryError, match="ABI"):
        _lib._check_version(ctypes.CDLL(seqcore.library_path()), seqcore.library_path(), fake)


def test_a_non_seqcore_library_is_refused(header):
    libm = ctypes.CDLL("libm.so.6")
    with pytest.raises(errors.LibraryError, match="not a seqcore library"):
        _lib._check_version(libm, "libm.so.6", header)


def _import_in_subprocess(env_update, cwd):
    env = dict(os.environ)
    env.update(env_update)
    code = "import seqcore; print(seqcore.library_path())"
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True)


def test_missing_library_error_names_the_paths_tried(tmp_path):
    missing = tmp_path / "nowhere" / "libseqcore.so"
    result = _import_in_subprocess({"SEQCORE_LIBRARY": str(missing)}, tmp_path)
    assert result.returncode != 0
    assert "LibraryError" in result.stderr and str(missing) in result.stderr and "tried" in result.stderr


def test_library_override_by_environment(tmp_path):
    path = seqcore.library_path()
    result = _import_in_subprocess({"SEQCORE_LIBRARY": path}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == path


def test_array_arguments_refuse_wrong_dtype_and_layout():
    with pytest.raises(errors.InvalidType, match="float32"):
        _capi.ConstFloatArray.from_param(np.zeros(3, np.float64))
    with pytest.raises(errors.InvalidType, match="contiguous"):
        _capi.ConstFloatArray.from_param(np.zeros((3, 4), np.float32)[:, ::2])
    with pytest.raises(errors.InvalidType, match="writeable"):
        a = np.zeros(3, np.float32)
        a.flags.writeable = False
        _capi.FloatArray.from_param(a)
    with pytest.raises(errors.InvalidType, match="int32"):
        _capi.ConstInt32Array.from_param(np.zeros(3, np.int64))
    assert _capi.ConstFloatArray.from_param(None) is None


def test_scalar_arguments_are_range_checked_not_wrapped():
    config = ctypes.POINTER(_capi.seq_config)()
    _capi.seq_config_create(ctypes.byref(config))
    try:
        with pytest.raises(errors.InvalidArgument, match="64-bit"):
            _capi.seq_config_set_int(config, b"hidden_size", 2**64 + 4)  # ctypes alone would wrap to 4
        with pytest.raises(errors.InvalidType, match="integer"):
            _capi.seq_config_set_int(config, b"hidden_size", 4.0)
        with pytest.raises(errors.InvalidType, match="number"):
            _capi.seq_config_set_float(config, b"dropout", "0.5")
        with pytest.raises(errors.InvalidArgument, match="32-bit"):
            _capi.seq_set_num_threads(2**31)
    finally:
        _capi.seq_config_free(config)


def test_string_arguments_with_a_nul_byte_never_reach_c():
    """The last guard under the checks of the Python API: C would read b"hidden_size\\0x" as
    "hidden_size"."""
    config = ctypes.POINTER(_capi.seq_config)()
    _capi.seq_config_create(ctypes.byref(config))
    try:
        with pytest.raises(errors.InvalidArgument, match="seq_config_set_int: argument 'key': .*NUL"):
            _capi.seq_config_set_int(config, b"hidden_size\0x", 4)
        with pytest.raises(errors.InvalidArgument, match="seq_config_set_string: argument 'value': .*NUL"):
            _capi.seq_config_set_string(config, b"cell", b"gru\0x")
        _capi.seq_config_set_string(config, b"cell", b"gru")
    finally:
        _capi.seq_config_free(config)


def test_handles_are_typed_and_free_null_is_harmless():
    config = ctypes.POINTER(_capi.seq_config)()
    _capi.seq_config_create(ctypes.byref(config))
    try:
        with pytest.raises(errors.InvalidType, match="seq_model_free"):
            _capi.seq_model_free(config)  # a config where a model is expected
        with pytest.raises(ctypes.ArgumentError):
            _capi.DECLARED["seq_model_free"](config)  # (what ctypes itself raises)
    finally:
        _capi.seq_config_free(config)
    _capi.seq_model_free(None)
    _capi.seq_stream_free(None)
    _capi.seq_dataset_free(None)
    _capi.seq_config_free(None)


def test_failed_calls_raise_with_the_c_message():
    config = ctypes.POINTER(_capi.seq_config)()
    _capi.seq_config_create(ctypes.byref(config))
    try:
        with pytest.raises(errors.InvalidArgument) as info:
            _capi.seq_config_set_int(config, b"hidden_size", 0)
        assert info.value.status == "SEQ_ERR_INVALID_ARGUMENT"
        assert info.value.code == _capi.STATUS["SEQ_ERR_INVALID_ARGUMENT"]
        assert "seq_config_set_int" in str(info.value) and "hidden_size" in str(info.value)
        with pytest.raises(errors.NotFound, match="no_such_key") as info2:
            _capi.seq_config_set_int(config, b"no_such_key", 1)
        assert isinstance(info2.value, KeyError)
    finally:
        _capi.seq_config_free(config)


def test_unknown_status_codes_give_the_base_class():
    error = errors.error_for_status(None, 999, "from a newer library")
    assert type(error) is errors.SeqcoreError and error.code == 999
    assert str(error) == "from a newer library"


def test_exception_hierarchy():
    pairs = [(errors.InvalidArgument, ValueError), (errors.InvalidType, TypeError), (errors.FileError, OSError),
             (errors.FormatError, ValueError), (errors.NotFound, KeyError), (errors.ClosedError, ValueError),
             (errors.LibraryError, OSError), (errors.NumericError, ArithmeticError),
             (errors.NotSupported, NotImplementedError), (errors.MissingDependency, ImportError)]
    for cls, builtin in pairs:
        assert issubclass(cls, errors.SeqcoreError) and issubclass(cls, builtin), cls
    assert str(errors.NotFound("plain message")) == "plain message"  # not KeyError's quoted repr


def test_threads_setting():
    before = seqcore.get_num_threads()
    try:
        seqcore.set_num_threads(1)
        assert seqcore.get_num_threads() == 1
        seqcore.set_num_threads(64)
        assert seqcore.get_num_threads() in (1, 2)
        with pytest.raises(errors.InvalidArgument):
            seqcore.set_num_threads(0)
        with pytest.raises(errors.InvalidType):
            seqcore.set_num_threads(1.5)  # type: ignore[arg-type]
        seqcore.set_num_threads(np.int64(1))  # numpy integers, as every other integer argument
        assert seqcore.get_num_threads() == 1
        with pytest.raises(errors.InvalidArgument, match="count"):
            seqcore.set_num_threads(np.int32(0))
    finally:
        seqcore.set_num_threads(before)
