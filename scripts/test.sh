#!/usr/bin/env bash
# The whole test suite: typecheck every package (turbo), then one node:test run over the unit tests of
# every package and the integration tests in test/ (CLI end to end, notebooks through Jupyter).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
# Fail fast when the requested backend cannot load (e.g. RNNLAB_BACKEND=tensorflow without tfjs-node).
# webgpu without a GPU needs the software Vulkan driver first (setup installs it, as root on Debian/Ubuntu).
[ "${RNNLAB_BACKEND:-}" = webgpu ] && bash scripts/setup-vulkan.sh
node --import tsx -e '
require("@rnnlab/core").selectBackend().then(
  (c) => console.error("rnnlab test: " + require("@rnnlab/core").describeBackend(c)),
  (e) => { console.error("rnnlab test: " + e.message); process.exit(1); })'
bash scripts/setup.sh
npx turbo run typecheck --log-prefix=none --output-logs=errors-only
# Tests make temporary folders (os.tmpdir()); they all go under one that is removed at the end, also when a
# test fails or forgets to clean up.
test_tmp="$(mktemp -d "${TMPDIR:-/tmp}/rnnlab-test-XXXXXX")"
trap 'rm -rf "$test_tmp"' EXIT
export TMPDIR="$test_tmp"
shopt -s nullglob
files=(packages/*/test/*.test.ts test/*.test.ts)
node --import tsx --test --test-concurrency="${RNNLAB_TEST_CONCURRENCY:-1}" "$@" "${files[@]}"
