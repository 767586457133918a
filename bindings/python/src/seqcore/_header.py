"""Reads ``seqcore.h``: the version macros, the enum values, the C prototypes, the configuration
keys and their types, and the fields of the structs.

The header is the one source of truth for every number the binding uses: nothing here is copied by
hand. It is parsed at import time from the copy bundled into the package (``seqcore/seqcore.h``,
put there by the build step next to ``libseqcore.so``); in a source checkout, from the repository's
``include/seqcore.h``. The tests use the same parser to check that ``_capi`` binds every function
of the header with the right number and types of arguments.

Only the subset of C that the generated header uses is understood: ``#define NAME value``,
``enum name { NAME = value, ... };``, ``typedef struct name { type field; ... } name;`` and
function declarations ending in ``;``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

__all__ = ["Header", "Prototype", "Parameter", "find_header", "parse_header", "load_header"]


@dataclass(frozen=True)
class Parameter:
    """One parameter of a C function: its C type (normalised spacing, e.g. ``const float *``) and
    its name."""

    ctype: str
    name: str


@dataclass(frozen=True)
class Prototype:
    """A C function declaration: return type, name, parameters and the declaration's text."""

    restype: str
    name: str
    parameters: Tuple[Parameter, ...]
    text: str

    @property
    def arity(self) -> int:
        return len(self.parameters)


@dataclass
class Header:
    """Everything the binding reads from ``seqcore.h``."""

    path: Optional[str]
    defines: Dict[str, str] = field(default_factory=dict)
    enums: Dict[str, Dict[str, int]] = field(default_factory=dict)
    functions: Dict[str, Prototype] = field(default_factory=dict)
    structs: Dict[str, List[Parameter]] = field(default_factory=dict)
    config_keys: Dict[str, str] = field(default_factory=dict)

    @property
    def version_string(self) -> str:
        return self.defines["SEQ_VERSION_STRING"].strip('"')

    @property
    def version_number(self) -> int:
        return int(self.defines["SEQ_VERSION_NUMBER"])

    @property
    def abi_version(self) -> int:
        return int(self.defines["SEQ_ABI_VERSION"])

    def constant(self, name: str) -> int:
        """The value of an enumerator, e.g. ``constant("SEQ_ERR_IO")``."""
        for values in self.enums.values():
            if name in values:
                return values[name]
        raise KeyError(f"seqcore.h has no enumerator {name!r}")


_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
_DEFINE = re.compile(r"^\s*#\s*define\s+(\w+)\s+(.+?)\s*$", re.M)
_ENUM = re.compile(r"\benum\s+(\w+)\s*\{(.*?)\}\s*;", re.S)
_STRUCT = re.compile(r"\btypedef\s+struct\s+(\w+)\s*\{(.*?)\}\s*\w+\s*;", re.S)
_FUNCTION = re.compile(r"^\s*((?:const\s+)?\w+\s*\**)\s*\b(seq_\w+)\s*\(([^()]*)\)\s*$", re.S)
# A configuration key in the doc comment of seq_config, e.g.
#  * - "hidden_size" (int >= 1; required): ...      * - "beta1", "beta2" (float in [0, 1); ...
_CONFIG_KEY = re.compile(r'^\s*\*\s*-\s*((?:"\w+"\s*,?\s*)+)\((int|float|string)\b', re.M)


def _normalise_type(text: str) -> str:
    text = re.sub(r"\s+", " ", text.strip())
    text = re.sub(r"\s*\*\s*", " *", text)
    text = text.replace("* *", "**")
    return text.strip()


def _split_parameter(text: str) -> Parameter:
    text = text.strip()
    m = re.match(r"^(.*?)(\w+)$", text, re.S)
    if m is None or not m.group(1).strip():
        raise ValueError(f"cannot parse C parameter {text!r}")
    return Parameter(_normalise_type(m.group(1)), m.group(2))


def parse_header(text: str, path: Optional[str] = None) -> Header:
    """Parses the text of ``seqcore.h``."""
    header = Header(path=path)
    for m in _CONFIG_KEY.finditer(text):
        for key in re.findall(r'"(\w+)"', m.group(1)):
            header.config_keys[key] = m.group(2)
    code = _COMMENT.sub(" ", text)
    for m in _DEFINE.finditer(code):
        header.defines[m.group(1)] = m.group(2)
    for m in _ENUM.finditer(code):
        values: Dict[str, int] = {}
        for item in m.group(2).split(","):
            item = item.strip()
            if not item:
                continue
            name, _, value = item.partition("=")
            values[name.strip()] = int(value.strip(), 0)
        header.enums[m.group(1)] = values
    for m in _STRUCT.finditer(code):
        fields = [_split_parameter(f) for f in m.group(2).split(";") if f.strip()]
        header.structs[m.group(1)] = fields
    # Function declarations: drop preprocessor lines, struct bodies and typedefs first, so that
    # only declarations remain between semicolons.
    body = re.sub(r"^\s*#.*$", " ", code, flags=re.M)
    body = _STRUCT.sub(";", body)
    body = _ENUM.sub(";", body)
    body = re.sub(r"\btypedef\b[^;]*;", ";", body)
    body = body.replace('extern "C" {', ";")
    for statement in body.split(";"):
        f = _FUNCTION.match(statement)
        if f is None:
            continue
        restype, name, params = _normalise_type(f.group(1)), f.group(2), f.group(3).strip()
        parameters: Tuple[Parameter, ...] = ()
        if params and params != "void":
            parameters = tuple(_split_parameter(p) for p in params.split(","))
        def spaced(ctype: str, ident: str) -> str:
            return ctype + ident if ctype.endswith("*") else f"{ctype} {ident}"

        args = ", ".join(spaced(p.ctype, p.name) for p in parameters) or "void"
        decl = f"{spaced(restype, name)}({args});"
        header.functions[name] = Prototype(restype, name, parameters, decl)
    for required in ("SEQ_VERSION_STRING", "SEQ_VERSION_NUMBER", "SEQ_ABI_VERSION"):
        if required not in header.defines:
            raise ValueError(f"{path or 'seqcore.h'}: no #define {required}: not a seqcore header")
    return header


def _repository_header() -> Optional[Path]:
    # src/seqcore/_header.py -> bindings/python/src/seqcore -> repository root four levels up.
    here = Path(__file__).resolve().parent
    for parent in list(here.parents)[:5]:
        candidate = parent / "include" / "seqcore.h"
        if candidate.is_file():
            return candidate
    return None


def header_candidates() -> List[Path]:
    """Where the header is looked for, in order: ``$SEQCORE_HEADER``; the copy bundled in the
    package; ``include/seqcore.h`` of the source checkout the package sits in."""
    paths: List[Path] = []
    env = os.environ.get("SEQCORE_HEADER")
    if env:
        paths.append(Path(env))
    paths.append(Path(__file__).resolve().parent / "seqcore.h")
    repo = _repository_header()
    if repo is not None:
        paths.append(repo)
    return paths


def find_header() -> Path:
    """The first existing header among :func:`header_candidates`; ``FileNotFoundError`` naming
    every path tried otherwise."""
    tried = header_candidates()
    for path in tried:
        if path.is_file():
            return path
    raise FileNotFoundError(
        "seqcore.h not found; tried: " + ", ".join(str(p) for p in tried)
        + ". Install the package with pip (which bundles it) or set SEQCORE_HEADER."
    )


_cached: Optional[Header] = None


def load_header() -> Header:
    """The parsed header (parsed once per process)."""
    global _cached
    if _cached is None:
        path = find_header()
        _cached = parse_header(path.read_text(encoding="utf-8"), str(path))
    return _cached
