#!/usr/bin/env bash
# Headless Chromium for the browser tests (test/browser): Debian's `chromium` package at /usr/bin/chromium,
# driven by playwright-core with executablePath. Never a browser download by Playwright.
# Installs it with apt-get when missing (needs root); otherwise says what to do.
set -euo pipefail
BROWSER="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ -x "$BROWSER" ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "[browser] $BROWSER is missing and this is not root: install it with" >&2
  echo "[browser]   sudo apt-get update && sudo apt-get install -y chromium" >&2
  echo "[browser] (or set CHROMIUM_PATH to an existing Chromium binary)" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "[browser] $BROWSER is missing and apt-get is not available; install Chromium and set CHROMIUM_PATH" >&2
  exit 1
fi
echo "[browser] installing Debian's chromium (apt-get) for the browser tests"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
if [ ! -x "$BROWSER" ]; then
  echo "[browser] apt-get finished but $BROWSER is still missing" >&2
  exit 1
fi
echo "[browser] $("$BROWSER" --version 2>/dev/null || echo chromium) installed"
