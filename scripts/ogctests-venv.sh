#!/usr/bin/env bash
# Make (or refresh) the venv of the OGC API - Features conformance suite: .venv-ogctests/ beside
# this script's checkout (or $OGCTESTS_VENV), with the exact versions of
# scripts/ogctests-constraints.txt. A venv already holding those versions is left as it is.
# Prints the venv's python. tests/test_ogc_conformance.py calls it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${OGCTESTS_VENV:-$here/../.venv-ogctests}"
constraints="$here/ogctests-constraints.txt"
python="${PYTHON:-python3}"
if ! cmp -s "$constraints" "$venv/.constraints" 2>/dev/null; then
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -c "$constraints" -r <(grep -E '^[A-Za-z]' "$constraints") >&2
  cp "$constraints" "$venv/.constraints"
fi
echo "$venv/bin/python"
