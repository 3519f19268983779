#!/usr/bin/env bash
# Installs schemathesis (the API fuzzer of test/fuzz) from PyPI into a project-local virtualenv under
# .stack/tools (git-ignored), once; later runs reuse it. Prints the path of its `st` command.
set -euo pipefail
cd "$(dirname "$0")/../.."
VERSION=4.32.5
VENV="${STACK_DIR:-.stack}/tools/schemathesis-$VERSION"
if [ ! -f "$VENV/.installed" ]; then
  command -v python3 >/dev/null || { echo "[fuzz] python3 is needed for schemathesis (apt-get install python3 python3-venv)" >&2; exit 1; }
  echo "[fuzz] installing schemathesis $VERSION into $VENV" >&2
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION" >&2
  touch "$VENV/.installed"
fi
echo "$PWD/$VENV/bin/st"
