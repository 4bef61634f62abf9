#!/usr/bin/env bash
# The whole test suite: typecheck every package (turbo), then one node:test run over the unit tests of
# every package and the integration tests in test/ (CLI end to end, notebooks through Jupyter).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
bash scripts/setup.sh
npx turbo run typecheck --log-prefix=none --output-logs=errors-only
shopt -s nullglob
files=(packages/*/test/*.test.ts test/*.test.ts)
exec node --import tsx --test --test-concurrency="${RNNLAB_TEST_CONCURRENCY:-1}" "$@" "${files[@]}"
