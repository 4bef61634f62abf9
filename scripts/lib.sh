# Shared settings for rnnlab's shell entry points (sourced, not run).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export JUPYTER_PATH="$ROOT/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
export TURBO_TELEMETRY_DISABLED=1
# The Python that runs Jupyter: RNNLAB_PYTHON, else Debian's system Python (which apt's Jupyter
# packages use), else the first python3 on PATH.
if [ -n "${RNNLAB_PYTHON:-}" ]; then PY="$RNNLAB_PYTHON"
elif [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3
else PY="$(command -v python3 || echo python3)"; fi
export RNNLAB_PYTHON="$PY"
