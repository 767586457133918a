#!/usr/bin/env bash
# Tests of the Python package, as a user gets it: builds libseqcore.so if needed (`make lib`),
# installs the package with pip into a fresh venv (system site packages visible, so numpy and
# pytest come from the system; installed from PyPI when missing), and runs pytest from outside the
# source tree, so that the installed copy is what gets imported. Exits non-zero on any failure.
#
#   bindings/python/run_tests.sh [pytest arguments]
#
# Environment: SEQCORE_PREBUILT_LIB=path/to/libseqcore.so skips `make lib`; PYTHON picks the
# interpreter (default python3); SEQCORE_TEST_VENV the venv directory (default
# bindings/python/.venv-test, recreated on every run). torch is optional: its tests are skipped
# when it is not importable.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="${SEQCORE_TEST_VENV:-$HERE/.venv-test}"

if [ -z "${SEQCORE_PREBUILT_LIB:-}" ]; then
    echo "== make lib"
    make -C "$REPO" lib
    export SEQCORE_PREBUILT_LIB="$REPO/build/lib/libseqcore.so"
fi

echo "== pip install $HERE into a fresh venv ($VENV)"
rm -rf "$VENV"
"$PYTHON" -m venv --system-site-packages "$VENV"
if ! "$VENV/bin/python" -c "import numpy, pytest" 2>/dev/null; then
    "$VENV/bin/python" -m pip install --quiet numpy pytest
fi
# tqdm is optional for users (fit's progress bar uses it when installed); installed here so its test
# runs instead of skipping. Without network it stays absent and that one test skips.
if ! "$VENV/bin/python" -c "import tqdm" 2>/dev/null; then
    "$VENV/bin/python" -m pip install --quiet tqdm || echo "warning: tqdm not installed: its test will skip"
fi
"$VENV/bin/python" -m pip install --quiet "$HERE"

echo "== pytest"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
unset SEQCORE_LIBRARY SEQCORE_HEADER PYTHONPATH
"$VENV/bin/python" -c "import seqcore, sys; print('seqcore', seqcore.__version__, 'from', seqcore.__file__)"
"$VENV/bin/python" -m pytest "$HERE/tests" -p no:cacheprovider "$@"
