#!/usr/bin/env bash
# Execute one notebook headless through Jupyter (nbclient) with the rnnlab tslab kernel.
#   scripts/execute-notebook.sh NOTEBOOK [--inplace | --output-dir DIR]
# Exit status is non-zero when any cell fails (the failing cell's error is printed). Cells are numbered,
# no timings are recorded and the notebook is signed (see execute-notebook.py).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
nb="$1"; shift
exec "$PY" "$ROOT/scripts/execute-notebook.py" "$nb" --timeout "${RNNLAB_CELL_TIMEOUT:-1800}" "$@"
