#!/usr/bin/env python3
"""Runs every lesson (NN_*.py in this folder), each in its own interpreter, and reports.

    python3 examples/lessons/run_all.py [-v] [PREFIX ...]

-v prints every lesson's output (otherwise only a failing lesson's); PREFIX runs only the lessons
whose file names start with it (e.g. 02 05). Prints one line per lesson and "N passed, N failed";
exits 1 when any lesson failed (or none was found).

The lessons run with this interpreter (sys.executable). When it cannot import seqcore, a built
library at the repository root (build/lib/libseqcore.so, from `make lib`) and the package's
sources are used instead, through SEQCORE_LIBRARY and PYTHONPATH.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
TIMEOUT_SECONDS = 300  # per lesson; each takes seconds


def environment():
    env = dict(os.environ)
    found = subprocess.run([sys.executable, "-c", "import seqcore"], env=env, capture_output=True).returncode == 0
    library = REPO / "build" / "lib" / "libseqcore.so"
    if not found and library.exists():
        env["SEQCORE_LIBRARY"] = str(library)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "bindings" / "python" / "src"),
                                                          env.get("PYTHONPATH")]))
        print(f"(seqcore is not installed for {sys.executable}: using {library} and bindings/python/src)")
    return env


def main(argv):
    verbose = "-v" in argv
    prefixes = [a for a in argv if a != "-v"]
    lessons = sorted(p for p in HERE.glob("[0-9][0-9]_*.py")
                     if not prefixes or any(p.name.startswith(x) for x in prefixes))
    if not lessons:
        print("no lessons found", file=sys.stderr)
        return 1
    env = environment()
    passed, failed = [], []
    started = time.perf_counter()
    for lesson in lessons:
        t0 = time.perf_counter()
        try:
            run = subprocess.run([sys.executable, str(lesson)], env=env, capture_output=True, text=True,
                                 timeout=TIMEOUT_SECONDS)
            code, output = run.returncode, run.stdout + run.stderr
        except subprocess.TimeoutExpired as error:
            code, output = "timeout", f"{error.stdout or ''}{error.stderr or ''}\n(timed out after {TIMEOUT_SECONDS} s)"
        ok = code == 0
        (passed if ok else failed).append(lesson.name)
        print(f"{'PASS' if ok else 'FAIL'}  {lesson.name}  ({time.perf_counter() - t0:.1f} s)"
              + ("" if ok else f"  exit {code}"))
        if verbose or not ok:
            text = output if isinstance(output, str) else output.decode(errors="replace")
            print("".join("    " + line + "\n" for line in text.rstrip("\n").split("\n")))
    print(f"{len(passed)} passed, {len(failed)} failed ({time.perf_counter() - started:.1f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
