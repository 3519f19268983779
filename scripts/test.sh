#!/usr/bin/env bash
# The whole test suite: dependencies, typecheck, lint, module layering, then every vitest suite against the real
# stack (brought up by test/global-setup.ts and stopped afterwards). Vitest's summary is the last line.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
echo "[test] typecheck (tsc --noEmit)"
npx tsc --noEmit
echo "[test] lint (biome ci)"
npx biome ci --reporter=summary .
echo "[test] module layering (dependency-cruiser: no import circles, inner layers never import outer ones)"
npx depcruise src --config .dependency-cruiser.cjs
echo "[test] vitest"
bash scripts/ensure-browser.sh
bash scripts/fuzz/ensure-schemathesis.sh >/dev/null # the API fuzzer of test/fuzz (PyPI, into .stack/tools)
exec npx vitest run "$@"
