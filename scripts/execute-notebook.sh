#!/usr/bin/env bash
# Execute one notebook headless through Jupyter with the rnnlab tslab kernel.
#   scripts/execute-notebook.sh NOTEBOOK [--inplace | --output-dir DIR]
# Exit status is non-zero when any cell fails (nbconvert reports the failing cell).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
nb="$1"; shift
timeout="${RNNLAB_CELL_TIMEOUT:-1800}"
exec "$PY" -m nbconvert --to notebook --execute \
  --ExecutePreprocessor.kernel_name=tslab \
  --ExecutePreprocessor.timeout="$timeout" \
  --ExecutePreprocessor.record_timing=False \
  "$@" "$nb"
