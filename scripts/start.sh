#!/usr/bin/env bash
# Runs the product in the foreground: stack, migrations, demo data, worker, portal. Ctrl-C stops it all.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
exec node --import tsx scripts/run-product.ts "$@"
