"""Build step of the seqcore Python package: bundles libseqcore.so and seqcore.h into it.

`pip install ./bindings/python` runs `build_py` below, which

1. takes the library from the environment variable SEQCORE_PREBUILT_LIB (a path to a built
   libseqcore.so) when it is set, else runs `make lib` at the repository root (Swift 6.3 needed at
   build time only) and takes build/lib/libseqcore.so;
2. copies it (the file itself, not the symlink) into the package as seqcore/libseqcore.so, and the
   header as seqcore/seqcore.h: include/seqcore.h of the repository, or SEQCORE_PREBUILT_HEADER.

The wheel is platform-specific (it carries a native library), so `has_ext_modules` is true. The
version is the header's SEQ_VERSION_STRING, so package, header and library always agree.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


def given_path(value: str) -> Path:
    """A path from the environment: pip runs this file in bindings/python, not in the user's
    directory, so a relative path is tried against the shell's $PWD, the repository root, then here."""
    path = Path(value).expanduser()
    if path.is_absolute():
        return path
    for base in (Path(os.environ.get("PWD", ".")), REPO, Path.cwd()):
        if (base / path).exists():
            return base / path
    return path


def header_path() -> Path:
    env = os.environ.get("SEQCORE_PREBUILT_HEADER")
    path = given_path(env) if env else REPO / "include" / "seqcore.h"
    if not path.is_file():
        raise SystemExit(f"seqcore: header not found at {path}; build from a seqcore checkout or set SEQCORE_PREBUILT_HEADER")
    return path


def version() -> str:
    m = re.search(r'^\s*#\s*define\s+SEQ_VERSION_STRING\s+"([^"]+)"', header_path().read_text(), re.M)
    if m is None:
        raise SystemExit(f"seqcore: no SEQ_VERSION_STRING in {header_path()}")
    return m.group(1)


def library_path() -> Path:
    prebuilt = os.environ.get("SEQCORE_PREBUILT_LIB")
    if prebuilt:
        path = given_path(prebuilt)
        if not path.is_file():
            raise SystemExit(f"seqcore: SEQCORE_PREBUILT_LIB={prebuilt} is not a file")
        return path.resolve()
    if not (REPO / "Makefile").is_file():
        raise SystemExit(f"seqcore: no Makefile at {REPO}: build from a seqcore checkout, or set SEQCORE_PREBUILT_LIB "
                         "to a built libseqcore.so")
    print(f"seqcore: running `make lib` in {REPO} (set SEQCORE_PREBUILT_LIB to skip)", flush=True)
    subprocess.run(["make", "lib"], cwd=REPO, check=True)
    return (REPO / "build" / "lib" / "libseqcore.so").resolve()


class BuildPyWithLibrary(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "seqcore"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(library_path(), target / "libseqcore.so")
        os.chmod(target / "libseqcore.so", 0o755)
        shutil.copyfile(header_path(), target / "seqcore.h")


class BinaryDistribution(Distribution):
    def has_ext_modules(self) -> bool:
        return True


setup(version=version(), cmdclass={"build_py": BuildPyWithLibrary}, distclass=BinaryDistribution)
