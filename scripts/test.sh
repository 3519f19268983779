#!/usr/bin/env bash
# The whole test suite: dependencies, typecheck, lint, module layering, then every vitest suite against the real
# stack (brought up by test/global-setup.ts and stopped afterwards), then, when vitest passed and was given
# no arguments, the short soak on a stack of its own; its report is the last thing printed.
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
# With arguments (a folder, a file, -t …), vitest alone, its exit code the script's.
if [ "$#" -gt 0 ]; then
  exec npx vitest run "$@"
fi
npx vitest run # set -e: a failing vitest stops here with its exit code, before the soak
if [ "${SKIP_SOAK:-0}" = "1" ]; then
  echo "[test] short soak skipped (SKIP_SOAK=1)"
  exit 0
fi
# The short soak (docs/testing.md#soak): 100 purchases on a stack of its own, two worker kills, one
# Postgres restart, the emulator's chaos on; its exit code is the script's.
echo "[test] short soak (npm run soak: 100 purchases, 2 worker kills, 1 Postgres restart)"
exec npx tsx scripts/soak/main.ts --purchases 100 --concurrency 20 --max-kills 2 --temporal-restarts 0 \
  --postgres-restarts 1 --timeout-ms 300000
