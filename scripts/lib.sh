# Shared settings for rnnlab's shell entry points (sourced, not run).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export JUPYTER_PATH="$ROOT/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
export TURBO_TELEMETRY_DISABLED=1
# The Python that runs Jupyter: RNNLAB_PYTHON, else a virtual environment at .venv/ that has Jupyter (the
# README's JupyterLab recipe), else Debian's system Python (which apt's Jupyter packages use), else the
# first python3 on PATH.
if [ -n "${RNNLAB_PYTHON:-}" ]; then PY="$RNNLAB_PYTHON"
elif [ -x "$ROOT/.venv/bin/python" ] && "$ROOT/.venv/bin/python" -c "import jupyter_client" >/dev/null 2>&1; then PY="$ROOT/.venv/bin/python"
elif [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3
else PY="$(command -v python3 || echo python3)"; fi
export RNNLAB_PYTHON="$PY"

# apt-get that waits while another apt/dpkg process (often unattended-upgrades right after a machine boots)
# holds the package locks: up to RNNLAB_APT_LOCK_TIMEOUT seconds (default 600), saying so once. Output is
# appended to RNNLAB_APT_LOG (default /tmp/rnnlab-apt.log).
apt_wait() {
  local limit="${RNNLAB_APT_LOCK_TIMEOUT:-600}" start out said=0 log="${RNNLAB_APT_LOG:-/tmp/rnnlab-apt.log}"
  start=$(date +%s)
  while :; do
    if out=$(apt-get -o DPkg::Lock::Timeout=5 "$@" 2>&1); then printf '%s\n' "$out" >>"$log"; return 0; fi
    printf '%s\n' "$out" >>"$log"
    grep -qiE "could not get lock|unable to acquire|another process using it" <<<"$out" || return 1
    if [ $(( $(date +%s) - start )) -ge "$limit" ]; then
      echo "rnnlab setup: gave up after ${limit} s waiting for the apt/dpkg lock (see: ps -C apt-get,apt,dpkg,unattended-upgr -o pid,etime,args)." >&2
      echo "  Run \`npm run setup\` again once it is free, or wait longer with RNNLAB_APT_LOCK_TIMEOUT=<seconds>." >&2
      return 1
    fi
    [ "$said" = 1 ] || { echo "rnnlab setup: another apt/dpkg process holds the package lock; waiting for it (up to ${limit} s)..." >&2; said=1; }
    sleep "${RNNLAB_APT_LOCK_POLL:-3}"
  done
}
