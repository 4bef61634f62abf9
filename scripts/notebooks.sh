#!/usr/bin/env bash
# Open the notebooks in a Jupyter server with the rnnlab tslab kernel: JupyterLab when installed,
# else the classic notebook server. Extra arguments go to the server (e.g. --port 8890 --no-browser).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
bash scripts/setup.sh
if "$PY" -c "import jupyterlab" >/dev/null 2>&1; then
  exec "$PY" -m jupyterlab --notebook-dir="$ROOT/notebooks" "$@"
fi
echo "JupyterLab is not installed for $PY; starting the classic notebook server (same kernel)." >&2
echo "  (for JupyterLab: $PY -m pip install jupyterlab)" >&2
exec "$PY" -m notebook --notebook-dir="$ROOT/notebooks" "$@"
