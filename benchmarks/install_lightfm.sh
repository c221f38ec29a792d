#!/usr/bin/env bash
# Install LightFM 1.17 (the last release) into the current Python environment,
# for the peer rows of benchmarks/cold_start.py.
#
# A plain `pip install lightfm` fails on current pip: its setup.py sets an
# attribute on `__builtins__`, which is a dict when setuptools' PEP 517
# backend runs it. The legacy build (`--no-use-pep517`, no build isolation)
# runs setup.py as a script, where it works; it compiles LightFM's C
# extension (with OpenMP where gcc has it) against the numpy and scipy
# already installed. pip >= 25.3 dropped the legacy build: the script then
# builds the wheel with an older pip in a throwaway virtual environment.
#
# Usage: bash benchmarks/install_lightfm.sh [PYTHON]   (default: python3)
set -euo pipefail
PYTHON="${1:-${PYTHON:-python3}}"
VERSION="1.17"

if "$PYTHON" -c "import lightfm, sys; sys.exit(lightfm.__version__ != '$VERSION')" 2>/dev/null; then
    echo "lightfm $VERSION is already installed for $PYTHON"
    exit 0
fi
"$PYTHON" -m pip install -q "setuptools" "wheel" "numpy" "scipy"
if "$PYTHON" -m pip install -q --no-use-pep517 --no-build-isolation "lightfm==$VERSION"; then
    :
else
    echo "the legacy build failed with this pip; building the wheel with pip<25.3 in a temporary environment" >&2
    build="$(mktemp -d)"
    trap 'rm -rf "$build"' EXIT
    "$PYTHON" -m venv "$build/venv"
    "$build/venv/bin/python" -m pip install -q "pip<25.3" setuptools wheel numpy scipy
    "$build/venv/bin/python" -m pip wheel -q --no-deps --no-use-pep517 --no-build-isolation \
        -w "$build/wheels" "lightfm==$VERSION"
    "$PYTHON" -m pip install -q "$build"/wheels/lightfm-*.whl
fi
"$PYTHON" -c "import lightfm; print('installed lightfm', lightfm.__version__)"
