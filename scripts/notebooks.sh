#!/usr/bin/env bash
# Open the notebooks in a Jupyter server with the rnnlab tslab kernel: JupyterLab when the Python that
# runs Jupyter has it (RNNLAB_PYTHON, else ./.venv/bin/python, else /usr/bin/python3), else the classic
# notebook server. The server is rooted at the repository, so notebooks/ and the figures under results/
# that the notebooks link to are both reachable, and it prints the URL to open.
#   npm run notebooks [-- SERVER-ARGS]      RNNLAB_NOTEBOOK_IP=0.0.0.0 npm run notebooks: reachable from other machines
# Environment: RNNLAB_NOTEBOOK_PORT (default: the first free port from 8888), RNNLAB_NOTEBOOK_IP
# (default 127.0.0.1), RNNLAB_NOTEBOOK_TOKEN (default: a random token), RNNLAB_NOTEBOOK_BROWSER=0|1
# (default: open a browser only where there is a display).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
bash scripts/setup.sh

ip="${RNNLAB_NOTEBOOK_IP:-127.0.0.1}"
port="${RNNLAB_NOTEBOOK_PORT:-$("$PY" -c "
import socket
for p in range(8888, 8988):
    s = socket.socket()
    try:
        s.bind(('$ip', p)); print(p); break
    except OSError: pass
    finally: s.close()
")}"
token="${RNNLAB_NOTEBOOK_TOKEN-$("$PY" -c "import secrets; print(secrets.token_hex(24))")}"

args=(--ip="$ip" --port="$port" --port-retries=0 --MappingKernelManager.default_kernel_name=tslab)
# Jupyter refuses to start as root unless told; root is what the apt-based set-up expects on a fresh machine.
[ "$(id -u)" = 0 ] && args+=(--allow-root)
browser="${RNNLAB_NOTEBOOK_BROWSER:-}"
if [ -z "$browser" ]; then
  if [ "$(uname)" = Darwin ] || [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then browser=1; else browser=0; fi
fi
[ "$browser" = 1 ] || args+=(--no-browser)

host="$ip"; [ "$ip" = 0.0.0.0 ] && host="$(hostname)"
if "$PY" -c "import jupyterlab" >/dev/null 2>&1; then
  app=(-m jupyterlab --ServerApp.root_dir="$ROOT" --ServerApp.token="$token")
  url="http://$host:$port/lab/tree/notebooks/00-environment.ipynb"
else
  echo "rnnlab notebooks: JupyterLab is not installed for $PY; starting the classic notebook server (same kernel)." >&2
  echo "  For JupyterLab see README.md, \"Opening the notebooks in JupyterLab\"." >&2
  app=(-m notebook --NotebookApp.notebook_dir="$ROOT" --NotebookApp.token="$token" --NotebookApp.default_url=/tree/notebooks)
  url="http://$host:$port/tree/notebooks"
fi
[ -n "$token" ] && url="$url?token=$token"
cat >&2 <<MSG

rnnlab notebooks: open $url
  (kernel "TypeScript (rnnlab, tslab)"; start with 00-environment.ipynb; Ctrl-C stops the server)

MSG
exec "$PY" "${app[@]}" "${args[@]}" "$@"
