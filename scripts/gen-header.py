#!/usr/bin/env python3
"""Generates include/seqcore.h from the C ABI's Swift sources (Sources/SeqCAPI/*.swift).

The header is never edited by hand. It is produced in two independent ways that must agree:

1. This script reads the Swift sources and writes the header: the version macros, the typedefs, the
   status codes and every `@c` function with its `///` doc comment, in clean C99/C++ (no clang
   extensions, no Swift macros), with typed handles (`seq_config *` rather than `void *`).
2. swiftc compiles the same sources with `-emit-clang-header-path` and states the C signature of
   every `@c` function as the compiler sees it. The script compares the two, function by function
   and type by type (handles compared as `void *`, typedefs as their underlying types), and fails on
   any difference, so a declaration this parser misread cannot reach the header.

What the parser accepts in Sources/SeqCAPI (it fails loudly on anything else):

- `@c public func seq_name(_ a: T, ...) -> R` (or `@c(seq_name) public func swiftName(...)`), the
  declaration on one or several lines, preceded by a `///` doc comment that documents each
  parameter (`- Parameter a:` or `- Parameters:` with `- a:`), the result (`- Returns:`, for
  non-void functions) and `- Thread safety:`. `///` is text for C readers; notes for Swift
  maintainers go in `//` comments.
- Parameter and result types:
    Int8 Int16 Int32 Int64 UInt8 UInt16 UInt32 UInt64 Float Double Bool  -> int8_t ... double bool
    CChar (only as a pointee)                                             -> char
    UnsafePointer<T>? / UnsafeMutablePointer<T>?                          -> const T * / T *
    UnsafeRawPointer? / UnsafeMutableRawPointer?                          -> const void * / void *
    Seq<Name>Handle? (a `public typealias Seq<Name>Handle = OpaquePointer`) -> seq_<name> *
    Seq<Name> (a `public typealias Seq<Name> = <integer or float type>`) -> seq_<name>
  Every pointer in a parameter, at every level, must be Optional: C may pass NULL, and a
  non-Optional Swift pointer that receives NULL is undefined behaviour. Int and UInt are refused
  (their C spelling is platform-dependent; sizes cross as Int64). Bare OpaquePointer is refused
  (give the handle a typealias).
- `public typealias Seq<Name>Handle = OpaquePointer` with a `///` comment -> `typedef struct seq_<name> seq_<name>;`
- `public typealias Seq<Name> = <scalar>` with a `///` comment -> `typedef <c scalar> seq_<name>;`
- `enum Status: SeqStatus` with `case name = <int>` lines -> the status constants
  (`ok` -> SEQ_OK, `fooBar` -> SEQ_ERR_FOO_BAR).
- `enum Anything: Seq<Name>` (Seq<Name> a scalar typealias above) with `case name = <int>` lines,
  each with a `///` comment -> `enum seq_<name>_value { SEQ_<NAME>_<CASE> = <int>, ... };`
  (`enum Layout: SeqLayout { case batchFirst = 1 }` -> SEQ_LAYOUT_BATCH_FIRST = 1).
- `struct Seq<Name> {` whose stored properties are `var name: Int64` or `var name: Double`, each
  with a `///` comment, the first being `size: Int64` -> `typedef struct seq_<name> { int64_t size;
  ... } seq_<name>;` (property names in snake_case). Only 8-byte fields, so the Swift and C layouts
  are the same (offsets 0, 8, 16, ...) without any padding rule to agree on. Such a struct only
  crosses the ABI by pointer, and carries its own size so fields can be appended later.
- `public typealias Seq<Name>Pointer = UnsafeRawPointer` -> a parameter type spelled
  `const seq_<name> *`, pointing to the struct above (a Swift struct cannot appear in a @c
  signature; swiftc sees `const void *`, which the cross-check accepts for it).
- `public typealias Seq<Name>Callback = @convention(c) (_ a: T, ...) -> R` with a `///` comment ->
  `typedef R (*seq_<name>_callback)(T a, ...);` (the parameter names are required, for C readers).
- `let seqVersionMajor / seqVersionMinor / seqVersionPatch / seqABIVersion: Int32 = <digits>`.
- The first `// MARK: - Title` of a file titles that file's group of functions.

Usage:
    gen-header.py --modules DIR [--output include/seqcore.h]   write the header
    gen-header.py --modules DIR --check                        fail if the committed header is stale
    gen-header.py --print-version | --print-abi                for the Makefile
DIR holds the built SeqCore.swiftmodule (e.g. .build-lib/release/Modules), which swiftc needs to
type-check SeqCAPI.
"""

import argparse
import difflib
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCES = os.path.join(ROOT, "Sources", "SeqCAPI")
HEADER = os.path.join(ROOT, "include", "seqcore.h")

# Groups of functions appear in this order; files not listed follow in alphabetical order.
FILE_ORDER = ["Version.swift", "Status.swift", "LastError.swift", "Threads.swift", "Config.swift", "ConfigKeys.swift", "Model.swift",
              "Inference.swift", "Training.swift", "Dataset.swift", "Parameters.swift", "Streaming.swift",
              "ModelFile.swift", "ONNX.swift"]

SCALARS = {
    "Int8": "int8_t", "Int16": "int16_t", "Int32": "int32_t", "Int64": "int64_t",
    "UInt8": "uint8_t", "UInt16": "uint16_t", "UInt32": "uint32_t", "UInt64": "uint64_t",
    "Float": "float", "Double": "double", "Bool": "bool",
}

# Names a C or C++ compiler would reject or misread as parameter names.
RESERVED = set("""
auto break case char const continue default do double else enum extern float for goto if inline int
long register restrict return short signed sizeof static struct switch typedef union unsigned void
volatile while bool true false alignas alignof and and_eq asm bitand bitor catch class compl
concept const_cast consteval constexpr constinit decltype delete dynamic_cast explicit export
friend mutable namespace new noexcept not not_eq nullptr operator or or_eq private protected public
reinterpret_cast requires static_assert static_cast template this thread_local throw try typeid
typename using virtual wchar_t xor xor_eq
""".split())


class GenError(Exception):
    pass


def fail_at(path, line, message):
    raise GenError(f"{os.path.relpath(path, ROOT)}:{line}: {message}")


def snake(name):
    """CamelCase -> camel_case (runs of capitals stay one word: ABIVersion -> abi_version)."""
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    return s.lower()


# ----------------------------------------------------------------------------------------------
# Reading the Swift sources


class Source:
    """Everything the header is made of, gathered from all files."""

    def __init__(self):
        self.version = {}        # seqVersionMajor -> int, ...
        self.handles = []        # (swift alias, c name, doc lines)
        self.scalar_aliases = []  # (swift alias, c name, c underlying, doc lines)
        self.status_doc = []
        self.status_cases = []   # (c name, value, doc lines)
        self.constant_enums = []  # (swift alias, c enum name, doc lines, [(c name, value, doc lines)])
        self.structs = []        # (swift name, c name, doc lines, [(c field, c type, doc lines)])
        self.struct_pointers = []  # (swift alias, c struct name)
        self.callbacks = []      # (swift alias, c name, doc lines, result swift type, [(name, swift type)], path, line)
        self.groups = []         # (title, [Function])


class Function:
    def __init__(self, path, line, c_name, params, result, doc):
        self.path, self.line = path, line
        self.c_name = c_name
        self.params = params     # [(c param name, swift type)]
        self.result = result     # swift type or None
        self.doc = doc


def split_top_level(text, sep=","):
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch in "<([":
            depth += 1
        elif ch in ">)]":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return [p.strip() for p in parts]


def read_sources():
    src = Source()
    files = sorted(f for f in os.listdir(SOURCES) if f.endswith(".swift"))
    files = [f for f in FILE_ORDER if f in files] + [f for f in files if f not in FILE_ORDER]
    for name in files:
        path = os.path.join(SOURCES, name)
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().split("\n")
        title, functions = read_file(path, lines, src)
        if functions:
            src.groups.append((title or os.path.splitext(name)[0], functions))
    for key in ("seqVersionMajor", "seqVersionMinor", "seqVersionPatch", "seqABIVersion"):
        if key not in src.version:
            raise GenError(f"Sources/SeqCAPI: no line `let {key}: Int32 = <digits>`")
    if not src.status_cases:
        raise GenError("Sources/SeqCAPI: no `enum Status: SeqStatus` with cases")
    return src


def read_file(path, lines, src):
    title = None
    functions = []
    doc = []
    i = 0
    while i < len(lines):
        raw = lines[i]
        line = raw.strip()
        lineno = i + 1
        if line.startswith("///"):
            text = line[3:]
            doc.append(text[1:] if text.startswith(" ") else text)
            i += 1
            continue
        m = re.match(r"//\s*MARK:\s*-\s*(.+)$", line)
        if m and title is None:
            title = m.group(1).strip()
        if "@_cdecl" in line and not line.startswith("//"):
            fail_at(path, lineno, "use @c, not @_cdecl: swiftc hides @_cdecl functions from C (DESIGN §5)")
        m = re.match(r"let\s+(seqVersionMajor|seqVersionMinor|seqVersionPatch|seqABIVersion)\s*:\s*Int32\s*=\s*(\d+)\s*$", line)
        if m:
            src.version[m.group(1)] = int(m.group(2))
        m = re.match(r"(public\s+)?typealias\s+(Seq\w+)\s*=\s*(\w+)\s*$", line)
        if m:
            read_typealias(path, lineno, m, doc, src)
        m = re.match(r"(public\s+)?typealias\s+(Seq\w+)\s*=\s*@convention\(c\)", line)
        if m:
            i = read_callback(path, lines, i, m, doc, src)
            doc = []
            continue
        if re.match(r"(\w+\s+)*enum\s+Status\s*:\s*SeqStatus\b", line):
            src.status_doc = doc
            i = read_status(path, lines, i + 1, src)
            doc = []
            continue
        m = re.match(r"(?:\w+\s+)*enum\s+\w+\s*:\s*(Seq\w+)\b", line)
        if m:
            i = read_constant_enum(path, lines, i + 1, m.group(1), doc, src)
            doc = []
            continue
        m = re.match(r"(?:public\s+)?struct\s+(Seq\w+)\s*\{\s*$", line)
        if m:
            i = read_struct(path, lines, i + 1, m.group(1), doc, src)
            doc = []
            continue
        if re.match(r"@c\b", line):
            i, fn = read_function(path, lines, i, doc)
            functions.append(fn)
            doc = []
            continue
        if line.startswith("@"):  # other attributes keep the doc comment above them
            i += 1
            continue
        doc = []
        i += 1
    return title, functions


def read_typealias(path, lineno, m, doc, src):
    public, alias, target = m.group(1), m.group(2), m.group(3)
    if not public:
        fail_at(path, lineno, f"typealias {alias}: a Seq-prefixed typealias is exported to C and must be public")
    if not doc:
        fail_at(path, lineno, f"typealias {alias}: needs a /// doc comment (it documents the C type)")
    if not "".join(doc).isascii():
        fail_at(path, lineno, f"typealias {alias}: the doc comment is not ASCII")
    if target == "UnsafeRawPointer":
        if not alias.endswith("Pointer"):
            fail_at(path, lineno, f"typealias {alias} = UnsafeRawPointer: struct pointer aliases are named Seq<Name>Pointer")
        src.struct_pointers.append((alias, snake(alias[: -len("Pointer")])))
    elif target == "OpaquePointer":
        if not alias.endswith("Handle"):
            fail_at(path, lineno, f"typealias {alias} = OpaquePointer: handle aliases are named Seq<Name>Handle")
        src.handles.append((alias, snake(alias[: -len("Handle")]), doc))
    elif target in SCALARS and target != "Bool":
        src.scalar_aliases.append((alias, snake(alias), SCALARS[target], doc))
    else:
        fail_at(path, lineno, f"typealias {alias} = {target}: only OpaquePointer (handles) and integer or float types can be exported")


def read_status(path, lines, i, src):
    doc = []
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith("///"):
            text = line[3:]
            doc.append(text[1:] if text.startswith(" ") else text)
        elif line.startswith("}"):
            return i + 1
        else:
            m = re.match(r"case\s+`?(\w+)`?\s*=\s*(-?\d+)\s*$", line)
            if m:
                case, value = m.group(1), int(m.group(2))
                if not doc:
                    fail_at(path, i + 1, f"status case {case}: needs a /// doc comment")
                c_name = "SEQ_OK" if case == "ok" else "SEQ_ERR_" + snake(case).upper()
                src.status_cases.append((c_name, value, doc))
            elif line.startswith("case "):
                fail_at(path, i + 1, "status cases are written one per line as `case name = <value>`")
            elif line.startswith(("init", "var", "func", "static")):
                # Members after the cases: skip to the enum's closing brace by indentation.
                while i < len(lines) and lines[i].rstrip() != "}":
                    i += 1
                return i + 1
            doc = []
        i += 1
    fail_at(path, i, "unterminated enum Status")


def read_doc_lines(line, doc):
    text = line[3:]
    doc.append(text[1:] if text.startswith(" ") else text)


def check_ascii_doc(path, lineno, what, doc):
    if not doc:
        fail_at(path, lineno, f"{what}: needs a /// doc comment")
    text = "\n".join(doc)
    if not text.isascii():
        fail_at(path, lineno, f"{what}: the doc comment is not ASCII")
    if "*/" in text or "/*" in text:
        fail_at(path, lineno, f"{what}: the doc comment contains `*/` or `/*`, which break a C comment")


def read_constant_enum(path, lines, i, alias, enum_doc, src):
    """`enum X: Seq<Name>` cases -> SEQ_<NAME>_<CASE> constants; the alias must be a scalar typealias
    declared before (checked in `render`)."""
    start = i
    prefix = "SEQ_" + snake(alias[3:]).upper() + "_"
    cases, doc = [], []
    check_ascii_doc(path, start, f"enum of {alias}", enum_doc)
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith("///"):
            read_doc_lines(line, doc)
        elif line.startswith("}"):
            break
        else:
            m = re.match(r"case\s+`?(\w+)`?\s*=\s*(-?\d+)\s*$", line)
            if m:
                check_ascii_doc(path, i + 1, f"case {m.group(1)}", doc)
                cases.append((prefix + snake(m.group(1)).upper(), int(m.group(2)), doc))
            elif line.startswith("case "):
                fail_at(path, i + 1, "constant cases are written one per line as `case name = <value>`")
            elif line and not line.startswith("//"):
                # Members after the cases: skip to the enum's closing brace by indentation.
                while i < len(lines) and lines[i].rstrip() != "}":
                    i += 1
                break
            doc = []
        i += 1
    if not cases:
        fail_at(path, start, f"enum of {alias}: no `case name = <value>` lines")
    src.constant_enums.append((alias, "seq_" + snake(alias[3:]) + "_value", enum_doc, cases))
    return i + 1


def read_struct(path, lines, i, name, struct_doc, src):
    """A C struct passed by pointer: 8-byte fields only, the first `size: Int64`."""
    start = i
    check_ascii_doc(path, start, f"struct {name}", struct_doc)
    fields, doc = [], []
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith("///"):
            read_doc_lines(line, doc)
        elif line.startswith("}"):
            break
        elif line and not line.startswith("//"):
            m = re.match(r"(?:public\s+)?var\s+(\w+)\s*:\s*(Int64|Double)\s*(=.*)?$", line)
            if not m:
                fail_at(path, i + 1, f"struct {name}: only `var name: Int64` or `var name: Double` stored "
                        "properties are allowed (8-byte fields keep the Swift and C layouts identical)")
            check_ascii_doc(path, i + 1, f"{name}.{m.group(1)}", doc)
            fields.append((snake(m.group(1)), SCALARS[m.group(2)], doc))
            doc = []
        i += 1
    if not fields or fields[0][:2] != ("size", "int64_t"):
        fail_at(path, start, f"struct {name}: the first field must be `size: Int64` (the struct's own size in bytes)")
    src.structs.append((name, snake(name), struct_doc, fields))
    return i + 1


def read_callback(path, lines, i, m, doc, src):
    """`public typealias Seq<Name>Callback = @convention(c) (_ a: T, ...) -> R`, on one or more lines."""
    start = i + 1
    alias = m.group(2)
    if not m.group(1):
        fail_at(path, start, f"typealias {alias}: a Seq-prefixed typealias is exported to C and must be public")
    if not alias.endswith("Callback"):
        fail_at(path, start, f"typealias {alias}: C function pointer aliases are named Seq<Name>Callback")
    check_ascii_doc(path, start, f"typealias {alias}", doc)
    text = ""
    while i < len(lines):
        text += " " + lines[i].strip()
        i += 1
        if re.search(r"->\s*\w+\s*$", text):
            break
    body = text.split("@convention(c)", 1)[1].strip()
    if not body.startswith("("):
        fail_at(path, start, f"typealias {alias}: expected `@convention(c) (...) -> R`")
    depth, j = 0, 0
    for j, ch in enumerate(body):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0:
            break
    params_text, rest = body[1:j], body[j + 1:].strip()
    rm = re.match(r"^->\s*(\w+)$", rest)
    if not rm:
        fail_at(path, start, f"typealias {alias}: cannot read the result type from `{rest}`")
    params = []
    for p in split_top_level(params_text):
        pm = re.match(r"^_\s+(\w+)\s*:\s*(.+)$", p)
        if not pm:
            fail_at(path, start, f"typealias {alias}: write each parameter as `_ name: Type` (C readers need the names)")
        params.append((snake(pm.group(1)), pm.group(2).strip()))
    result = rm.group(1)
    src.callbacks.append((alias, snake(alias), doc, None if result == "Void" else result, params, path, start))
    return i


def read_function(path, lines, i, doc):
    start = i + 1
    text = ""
    # Gather the declaration up to the body's opening brace.
    while i < len(lines):
        text += " " + lines[i].strip()
        i += 1
        if "{" in text:
            break
    m = re.match(r"\s*@c(?:\(\s*(\w+)\s*\))?\s+(?:@\w+\s+)*((?:\w+\s+)*)func\s+(\w+)\s*\(", text)
    if not m:
        fail_at(path, start, "cannot read this @c declaration; write `@c public func seq_name(...) -> T {`")
    explicit, modifiers, swift_name = m.group(1), (m.group(2) or ""), m.group(3)
    if "public" not in modifiers.split():
        fail_at(path, start, f"{swift_name}: @c functions must be public")
    c_name = explicit or swift_name
    if not c_name.startswith("seq_"):
        fail_at(path, start, f"{c_name}: every C name starts with seq_ (the linker exports only seq_*)")
    # Parameters: up to the matching parenthesis.
    depth, j = 1, m.end()
    while j < len(text) and depth:
        depth += {"(": 1, ")": -1}.get(text[j], 0)
        j += 1
    if depth:
        fail_at(path, start, f"{c_name}: unbalanced parentheses")
    params_text = text[m.end(): j - 1]
    rest = text[j:].split("{", 1)[0].strip()
    if rest.startswith("throws") or "async" in rest:
        fail_at(path, start, f"{c_name}: a C function cannot throw or be async; use guarded {{ }}")
    rm = re.match(r"^(?:->\s*(.+))?$", rest)
    if not rm:
        fail_at(path, start, f"{c_name}: cannot read the result type from `{rest}`")
    result = rm.group(1).strip() if rm.group(1) else None
    if result in ("Void", "()"):
        result = None
    params = []
    for p in split_top_level(params_text):
        pm = re.match(r"^(?:(\w+)\s+)?(\w+)\s*:\s*(.+)$", p)
        if not pm:
            fail_at(path, start, f"{c_name}: cannot read parameter `{p}`")
        pname, ptype = pm.group(2), pm.group(3).strip()
        if "=" in ptype:
            fail_at(path, start, f"{c_name}: parameter {pname}: C has no default arguments")
        if pname == "_" or pname in RESERVED:
            fail_at(path, start, f"{c_name}: parameter name `{pname}` cannot be used in C/C++; rename it")
        params.append((pname, ptype))
    fn = Function(path, start, c_name, params, result, doc)
    check_doc(fn)
    return i, fn


def check_doc(fn):
    where = lambda msg: fail_at(fn.path, fn.line, f"{fn.c_name}: {msg}")
    if not fn.doc:
        where("needs a /// doc comment (the header is the reference, DESIGN §4)")
    text = "\n".join(fn.doc)
    for name, _ in fn.params:
        if not re.search(rf"^\s*-\s*(Parameter\s+)?{re.escape(name)}\s*:", text, re.M):
            where(f"the doc comment does not describe parameter `{name}` (`- Parameter {name}:` or `- {name}:` under `- Parameters:`)")
    if fn.result and not re.search(r"^\s*-\s*Returns:", text, re.M):
        where("the doc comment needs `- Returns:`")
    if not re.search(r"^\s*-\s*Thread safety:", text, re.M):
        where("the doc comment needs `- Thread safety:`")
    if "*/" in text or "/*" in text:
        where("the doc comment contains `*/` or `/*`, which break a C comment")
    if not text.isascii():
        where("the doc comment is not ASCII; the header stays ASCII for every compiler and editor")


# ----------------------------------------------------------------------------------------------
# Swift types -> C types


class Types:
    def __init__(self, src):
        self.handles = {alias: c for alias, c, _ in src.handles}
        self.scalars = {alias: c for alias, c, _, _ in src.scalar_aliases}
        struct_names = {c for _, c, _, _ in src.structs}
        self.struct_pointers = {}
        for alias, c in src.struct_pointers:
            if c not in struct_names:
                raise GenError(f"typealias {alias}: no `struct Seq...` named seq_{c[4:]} to point to")
            self.struct_pointers[alias] = c
        self.callbacks = {alias: (c, result, params, path, line)
                          for alias, c, _, result, params, path, line in src.callbacks}
        # For the comparison with swiftc, which knows no typedefs.
        self.underlying = {c: "void" for c in self.handles.values()}
        self.underlying.update({c: "void" for c in struct_names})
        self.underlying.update({c: u for _, c, u, _ in src.scalar_aliases})

    def callback_signature(self, alias):
        """(C result, [(C type, name)]) of a callback typealias."""
        c, result, params, path, line = self.callbacks[alias]
        fn = Function(path, line, c, params, result, [])
        ctypes = [(self.c_type(t, fn, f"parameter {n}"), n) for n, t in params]
        return (self.c_type(result, fn, "result") if result else "void"), ctypes

    def canonical_callback(self, c_name):
        """The canonical spelling of a callback typedef's function pointer type, for the cross-check."""
        for alias, (c, _, _, _, _) in self.callbacks.items():
            if c == c_name:
                result, params = self.callback_signature(alias)
                inner = ", ".join(canonical(t, self.underlying) for t, _ in params) or "void"
                return f"{canonical(result, self.underlying)} (*)({inner})"
        return None

    def c_type(self, swift, fn, role, top=True):
        """C spelling of a Swift type. role is 'parameter NAME' or 'result'."""
        t = swift.strip()
        optional = t.endswith("?")
        if optional:
            t = t[:-1].strip()
        bad = lambda msg: fail_at(fn.path, fn.line, f"{fn.c_name}: {role}: {msg} (type `{swift}`)")
        is_pointer = False
        m = re.match(r"^(UnsafePointer|UnsafeMutablePointer)<(.+)>$", t)
        if m:
            is_pointer = True
            inner = m.group(2).strip()
            inner_c = self.c_type(inner, fn, role, top=False)
            const = m.group(1) == "UnsafePointer"
            if inner_c.endswith("*"):
                c = inner_c + ("const *" if const else "*")
            else:
                c = ("const " if const else "") + inner_c + " *"
        elif t in ("UnsafeRawPointer", "UnsafeMutableRawPointer"):
            is_pointer = True
            c = "const void *" if t == "UnsafeRawPointer" else "void *"
        elif t in self.handles:
            is_pointer = True
            c = self.handles[t] + " *"
        elif t in self.struct_pointers:
            if not top:
                bad("a struct pointer alias is not supported inside another pointer")
            is_pointer = True
            c = "const " + self.struct_pointers[t] + " *"
        elif t in self.callbacks:
            if not top:
                bad("a callback alias is not supported inside a pointer")
            is_pointer = True
            c = self.callbacks[t][0]
        elif t == "OpaquePointer":
            bad("bare OpaquePointer has no C type name; declare `public typealias Seq<Name>Handle = OpaquePointer`")
        elif t in self.scalars:
            c = self.scalars[t]
        elif t in SCALARS:
            c = SCALARS[t]
        elif t == "CChar":
            if top:
                bad("CChar is only supported as a pointee (strings); use Int8 or UInt8 for a byte")
            c = "char"
        elif t in ("Int", "UInt"):
            bad("Int/UInt have no fixed C spelling; use Int64 (sizes and counts) or Int32")
        else:
            bad("this type cannot cross the C ABI here; see scripts/gen-header.py for the supported types")
        if optional and not is_pointer:
            bad("only pointers can be Optional in C")
        if is_pointer and not optional and role != "result":
            bad("pointer parameters must be Optional at every level: C may pass NULL")
        return c


def c_decl(ctype, name):
    return f"{ctype}{name}" if ctype.endswith("*") else f"{ctype} {name}"


# ----------------------------------------------------------------------------------------------
# Writing the header

PREAMBLE = """\
/*
 * seqcore.h: the C interface of seqcore, recurrent neural networks (RNN, GRU, LSTM) that train
 * and run from C and C++.
 *
 * GENERATED by scripts/gen-header.py from the Swift files in Sources/SeqCAPI. Do not edit: change
 * the Swift sources and run `make header`.
 *
 * Building a program:
 *     cc app.c $(pkg-config --cflags --libs seqcore)
 * When the library is installed outside the dynamic loader's search path (any prefix other than
 * /usr or /usr/local, or /usr/local without `ldconfig`), also record its directory in the program:
 *     cc app.c $(pkg-config --cflags --libs seqcore) \\
 *        -Wl,-rpath,$(pkg-config --variable=libdir seqcore)
 * or set LD_LIBRARY_PATH when running it. libseqcore.so needs no Swift installation at run time.
 *
 * Conventions, true of every function below:
 * - Every function that can fail returns a seq_status: SEQ_OK (0) or a SEQ_ERR_* code. After a
 *   failure, seq_last_error() gives the reason in words, naming the argument, what was expected
 *   and what came. Nothing aborts the process on bad input.
 * - Objects are opaque handles (seq_config *, ...) made by a *_create function and given back with
 *   the matching *_free; *_free(NULL) does nothing. A NULL, freed or wrong-kind handle gives
 *   SEQ_ERR_NULL_POINTER or SEQ_ERR_WRONG_HANDLE instead of a crash (a freed handle is detected on
 *   a best-effort basis).
 * - Results go through pointers the caller provides ("out" parameters); on failure they are left
 *   untouched unless the function says otherwise. Sizes and counts are int64_t.
 * - Strings are NUL-terminated UTF-8. Strings the library returns are owned by the library; strings
 *   it takes are copied.
 * - Each function states its thread safety.
 */
"""


def comment(doc, indent=""):
    if not doc:
        return ""
    if len(doc) == 1 and len(doc[0]) + len(indent) < 92:
        return f"{indent}/** {doc[0]} */\n"
    out = f"{indent}/**\n"
    for line in doc:
        out += f"{indent} * {line}".rstrip() + "\n"
    return out + f"{indent} */\n"


def prototype(fn, types):
    result = types.c_type(fn.result, fn, "result") if fn.result else "void"
    params = [c_decl(types.c_type(t, fn, f"parameter {n}"), n) for n, t in fn.params] or ["void"]
    head = c_decl(result, fn.c_name) + "("
    one_line = head + ", ".join(params) + ");"
    if len(one_line) <= 100:
        return one_line + "\n"
    pad = " " * len(head)
    return head + (",\n" + pad).join(params) + ");\n"


def render(src):
    v = src.version
    major, minor, patch = v["seqVersionMajor"], v["seqVersionMinor"], v["seqVersionPatch"]
    types = Types(src)
    out = PREAMBLE
    out += "\n#ifndef SEQCORE_H\n#define SEQCORE_H\n\n"
    out += "#include <stddef.h>\n#include <stdint.h>\n"
    uses_bool = any("Bool" in (fn.result or "") or any("Bool" in t for _, t in fn.params)
                    for _, fns in src.groups for fn in fns)
    if uses_bool:
        out += "#ifndef __cplusplus\n#include <stdbool.h>\n#endif\n"
    out += "\n/** Version of this header; compare with seq_version() / seq_version_number() at run time. */\n"
    out += f"#define SEQ_VERSION_MAJOR {major}\n#define SEQ_VERSION_MINOR {minor}\n#define SEQ_VERSION_PATCH {patch}\n"
    out += f'#define SEQ_VERSION_STRING "{major}.{minor}.{patch}"\n'
    out += "/** MAJOR * 10000 + MINOR * 100 + PATCH. */\n"
    out += f"#define SEQ_VERSION_NUMBER {major * 10000 + minor * 100 + patch}\n"
    out += "/** Binary interface version: the N of libseqcore.so.N; compare with seq_abi_version(). */\n"
    out += f"#define SEQ_ABI_VERSION {v['seqABIVersion']}\n"
    out += '\n#ifdef __cplusplus\nextern "C" {\n#endif\n'

    out += "\n/* ---------------------------------------------------------------------------------------------\n"
    out += " * Types\n */\n"
    for _, c, underlying, doc in src.scalar_aliases:
        out += "\n" + comment(doc) + f"typedef {underlying} {c};\n"
    if src.status_cases:
        out += "\n" + comment(src.status_doc) + "enum seq_status_code {\n"
        seen = set()
        for c_name, value, doc in src.status_cases:
            if value in seen:
                raise GenError(f"status value {value} is used twice")
            seen.add(value)
            out += comment(doc, "    ") + f"    {c_name} = {value},\n"
        out = out.rstrip(",\n") + "\n};\n"
    scalar_names = {alias for alias, _, _, _ in src.scalar_aliases}
    for alias, c_enum, doc, cases in src.constant_enums:
        if alias not in scalar_names:
            raise GenError(f"enum of {alias}: {alias} must be a `public typealias {alias} = <integer type>`")
        out += "\n" + comment(doc) + f"enum {c_enum} {{\n"
        seen = set()
        for c_name, value, cdoc in cases:
            if value in seen:
                raise GenError(f"{c_enum}: value {value} is used twice")
            seen.add(value)
            out += comment(cdoc, "    ") + f"    {c_name} = {value},\n"
        out = out.rstrip(",\n") + "\n};\n"
    for _, c, doc in src.handles:
        out += "\n" + comment(doc) + f"typedef struct {c} {c};\n"
    for _, c, doc, fields in src.structs:
        out += "\n" + comment(doc) + f"typedef struct {c} {{\n"
        for name, ctype, fdoc in fields:
            out += comment(fdoc, "    ") + f"    {ctype} {name};\n"
        out += f"}} {c};\n"
    for alias, c, doc, _, _, _, _ in src.callbacks:
        result, params = types.callback_signature(alias)
        plist = ", ".join(c_decl(t, n) for t, n in params) or "void"
        out += "\n" + comment(doc) + f"typedef {c_decl(result, '(*' + c + ')')}({plist});\n"

    names = set()
    for title, functions in src.groups:
        out += "\n/* ---------------------------------------------------------------------------------------------\n"
        out += f" * {title}\n */\n"
        for fn in functions:
            if fn.c_name in names:
                fail_at(fn.path, fn.line, f"{fn.c_name} is declared twice")
            names.add(fn.c_name)
            out += "\n" + comment(fn.doc) + prototype(fn, types)

    out += '\n#ifdef __cplusplus\n} /* extern "C" */\n#endif\n\n#endif /* SEQCORE_H */\n'
    return out


# ----------------------------------------------------------------------------------------------
# The cross-check against swiftc


def canonical(ctype, underlying):
    """A C type as a token string with typedefs resolved, nullability dropped and `const` written
    after what it qualifies: `const char *` and `char const * _Nullable` both become `char const *`."""
    tokens = re.findall(r"\w+|\*", ctype)
    tokens = [underlying.get(t, t) for t in tokens
              if t not in ("_Nullable", "_Nonnull", "_Null_unspecified", "struct")]
    if len(tokens) >= 2 and tokens[0] == "const":
        tokens = [tokens[1], "const"] + tokens[2:]
    return " ".join(tokens)


def canonical_function_pointer(ctype):
    """swiftc's `int32_t (* _Nullable name)(void const * _Nullable, void * _Nullable)` as
    `int32_t (*)(void const *, void *)`."""
    m = re.match(r"^(.*?)\(\s*\*[^()]*\)\s*\((.*)\)\s*$", ctype.strip())
    if not m:
        raise GenError(f"cannot read the function pointer type `{ctype}` in swiftc's header")
    params = [canonical(p, {}) for p in split_top_level(m.group(2))]
    return f"{canonical(m.group(1), {})} (*)({', '.join(params) or 'void'})"


def swiftc_signatures(modules):
    swiftc = os.environ.get("SWIFTC") or "swiftc"
    files = sorted(os.path.join(SOURCES, f) for f in os.listdir(SOURCES) if f.endswith(".swift"))
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "SeqCAPI-Swift.h")
        # SeqCore's module needs the C module it imports (CSeqSupport), whose module map is in the sources.
        cmd = [swiftc, "-typecheck", "-parse-as-library", "-swift-version", "5", "-module-name", "SeqCAPI",
               "-I", modules, "-I", os.path.join(ROOT, "Sources", "CSeqSupport", "include"),
               "-emit-clang-header-path", out] + files
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode != 0:
            raise GenError("swiftc could not type-check Sources/SeqCAPI (is SeqCore built into "
                           f"{modules}?):\n{run.stderr.strip()}")
        with open(out, encoding="utf-8") as fh:
            text = fh.read()
    sigs = {}
    for m in re.finditer(r"^SWIFT_EXTERN\s+(.+?)\s*\b(\w+)\((.*?)\)\s*SWIFT_NOEXCEPT", text, re.M):
        result, name, params = m.group(1), m.group(2), m.group(3).strip()
        ptypes = []
        if params and params != "void":
            for p in split_top_level(params):
                if "(*" in p.replace(" ", ""):
                    ptypes.append(p)  # a function pointer: canonical_function_pointer drops the name
                else:
                    # swiftc always names parameters: drop the name, keep the type.
                    ptypes.append(re.sub(r"\b\w+\s*$", "", p.strip()))
        sigs[name] = (result, ptypes)
    return sigs


def cross_check(src, modules):
    types = Types(src)
    compiled = swiftc_signatures(modules)
    ours = {fn.c_name: fn for _, fns in src.groups for fn in fns}
    problems = []
    for name in sorted(set(compiled) - set(ours)):
        problems.append(f"{name}: swiftc exports it but this script did not find its declaration")
    for name in sorted(set(ours) - set(compiled)):
        problems.append(f"{name}: found by this script but swiftc does not export it to C")
    for name in sorted(set(ours) & set(compiled)):
        fn = ours[name]
        result, ptypes = compiled[name]
        mine = [types.c_type(fn.result, fn, "result") if fn.result else "void"]
        mine += [types.c_type(t, fn, f"parameter {n}") for n, t in fn.params]
        theirs = [result] + ptypes
        a = [types.canonical_callback(t.strip()) or canonical(t, types.underlying) for t in mine]
        b = [canonical_function_pointer(t) if "(*" in t.replace(" ", "") else canonical(t, {}) for t in theirs]
        if a != b:
            problems.append(f"{name}: this script says ({', '.join(a)}), swiftc says ({', '.join(b)})")
    if problems:
        raise GenError("the header disagrees with swiftc:\n  " + "\n  ".join(problems))


# ----------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description="Generate include/seqcore.h from Sources/SeqCAPI.")
    ap.add_argument("--modules", help="directory holding the built SeqCore.swiftmodule")
    ap.add_argument("--output", default=HEADER)
    ap.add_argument("--check", action="store_true", help="fail if the header on disk is stale")
    ap.add_argument("--print-version", action="store_true")
    ap.add_argument("--print-abi", action="store_true")
    args = ap.parse_args()
    try:
        src = read_sources()
        v = src.version
        if args.print_version:
            print(f"{v['seqVersionMajor']}.{v['seqVersionMinor']}.{v['seqVersionPatch']}")
            return 0
        if args.print_abi:
            print(v["seqABIVersion"])
            return 0
        if not args.modules:
            ap.error("--modules DIR is required to check the header against swiftc")
        text = render(src)
        for n, line in enumerate(text.split("\n"), 1):
            if not line.isascii():
                raise GenError(f"generated line {n} is not ASCII (fix the Swift doc comment it comes from): {line}")
        cross_check(src, args.modules)
    except GenError as e:
        print(f"gen-header: {e}", file=sys.stderr)
        return 1
    if args.check:
        try:
            with open(args.output, encoding="utf-8") as fh:
                current = fh.read()
        except FileNotFoundError:
            current = ""
        if current != text:
            diff = difflib.unified_diff(current.splitlines(True), text.splitlines(True),
                                        os.path.relpath(args.output, ROOT) + " (committed)", "(generated)")
            sys.stderr.writelines(diff)
            print(f"gen-header: {os.path.relpath(args.output, ROOT)} is stale: run `make header` and commit it",
                  file=sys.stderr)
            return 1
        print(f"gen-header: {os.path.relpath(args.output, ROOT)} is up to date")
        return 0
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as fh:
        fh.write(text)
    print(f"gen-header: wrote {os.path.relpath(args.output, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
