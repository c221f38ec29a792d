#!/usr/bin/env bash
# Install LightFM 1.17 from its source release, patched to build with current pip.
#
# `pip install lightfm` fails: setup.py sets `__builtins__.__LIGHTFM_SETUP__ = True`,
# and under pip's isolated build `__builtins__` is a dict, not the builtins module
# ("AttributeError: 'dict' object has no attribute '__LIGHTFM_SETUP__'"). The patch
# sets the flag on the builtins module instead and lets setup.py import its own
# package for the version number. Nothing else changes.
#
# Usage: benchmarks/install_lightfm.sh [lightfm-1.17.tar.gz or its unpacked folder]
# Without an argument the source release is downloaded from PyPI.
set -euo pipefail
source_path="${1:-}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [[ -z "$source_path" ]]; then
    curl -fsSL -o "$work/lightfm-1.17.tar.gz" \
        https://files.pythonhosted.org/packages/source/l/lightfm/lightfm-1.17.tar.gz
    source_path="$work/lightfm-1.17.tar.gz"
fi
if [[ -f "$source_path" ]]; then
    tar -xzf "$source_path" -C "$work"
    folder="$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'lightfm*' | head -n 1)"
else
    cp -r "$source_path" "$work/lightfm"
    folder="$work/lightfm"
fi
python - "$folder/setup.py" <<'PATCH'
import sys
path = sys.argv[1]
text = open(path).read()
old = "__builtins__.__LIGHTFM_SETUP__ = True\n"
if old in text:
    text = text.replace(old, "import builtins\nbuiltins.__LIGHTFM_SETUP__ = True\n"
                             "sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))\n")
    open(path, "w").write(text)
PATCH
python -m pip install "$folder"
python -c "import lightfm; from lightfm import LightFM; print('lightfm', lightfm.__version__, 'installed')"
