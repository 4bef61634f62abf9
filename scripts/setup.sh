#!/usr/bin/env bash
# Installs what notebook execution and figure rendering need beyond `npm ci`, idempotently:
#   - Jupyter's execution parts (nbconvert, nbclient, jupyter_client, the classic notebook server)
#   - a Chromium for rendering Plotly figures to PNG/SVG
#   - the tslab kernel in tools/tslab (its own lockfile, outside the npm workspaces)
#   - OpenBLAS headers for the native matrix products (@rnnlab/native-blas), then rebuilds that addon
#   - Mesa's software Vulkan driver for the webgpu tests (scripts/setup-vulkan.sh: bookworm-backports on Debian 12)
# On Debian/Ubuntu as root it uses apt-get; elsewhere it prints the exact commands and stops.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
t0=$(date +%s)

have_jupyter() { "$PY" -c "import nbconvert, nbclient, jupyter_client, nbformat" >/dev/null 2>&1; }
have_notebook() { "$PY" -c "import notebook" >/dev/null 2>&1; }
chromium_path() {
  if [ -n "${RNNLAB_CHROMIUM:-}" ] && [ -x "$RNNLAB_CHROMIUM" ]; then echo "$RNNLAB_CHROMIUM"; return 0; fi
  for c in /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome /usr/bin/google-chrome-stable; do
    [ -x "$c" ] && { echo "$c"; return 0; }
  done
  return 1
}

have_blas_headers() { [ "$(uname)" = Darwin ] || [ -n "$(node packages/native-blas/find-blas.cjs include)" ]; }
have_blas_addon() { node -e 'process.exit(require("@rnnlab/native-blas").load().binding ? 0 : 1)' >/dev/null 2>&1; }

missing=()
have_blas_headers || missing+=(blas)
have_jupyter || missing+=(jupyter)
have_notebook || missing+=(notebook)
chromium_path >/dev/null || missing+=(chromium)

if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "rnnlab setup: installing ${missing[*]} with apt-get" >&2
    pkgs=()
    for m in "${missing[@]}"; do
      case $m in
        jupyter) pkgs+=(jupyter-nbconvert python3-nbclient jupyter-client python3-nbformat jupyter-core) ;;
        notebook) pkgs+=(jupyter-notebook) ;;
        chromium) pkgs+=(chromium) ;;
        blas) pkgs+=(libopenblas-dev) ;;
      esac
    done
    export DEBIAN_FRONTEND=noninteractive
    : >/tmp/rnnlab-apt.log
    apt_wait update -qq || { echo "rnnlab setup: apt-get update failed; see /tmp/rnnlab-apt.log" >&2; tail -5 /tmp/rnnlab-apt.log >&2; exit 1; }
    apt_wait install -y -q --no-install-recommends "${pkgs[@]}" || {
      echo "rnnlab setup: apt-get install ${pkgs[*]} failed; see /tmp/rnnlab-apt.log" >&2; tail -5 /tmp/rnnlab-apt.log >&2; exit 1; }
    PY=/usr/bin/python3
  else
    cat >&2 <<MSG
rnnlab setup: missing ${missing[*]}, and this is not a Debian/Ubuntu machine where I may run apt-get as root.
Install them yourself, then run \`npm run setup\` again:
  python3 -m venv .venv && .venv/bin/pip install jupyterlab notebook nbclient nbconvert   # Jupyter, found in .venv/
  #   (Debian/Ubuntu without root: \`sudo apt-get install python3-venv\` first; see README.md, "JupyterLab")
  # OpenBLAS for the native matrix products: \`sudo apt-get install libopenblas-dev\` (Fedora: openblas-devel)
  # a Chromium for figures: your OS package (e.g. \`sudo apt-get install chromium\`, \`brew install --cask chromium\`),
  # or point RNNLAB_CHROMIUM at any Chrome/Chromium binary.
Set RNNLAB_PYTHON to the python that has Jupyter if it is neither .venv/bin/python nor /usr/bin/python3 (now: $PY).
MSG
    exit 1
  fi
fi
have_jupyter || { echo "rnnlab setup: $PY still cannot import nbconvert/nbclient/jupyter_client; set RNNLAB_PYTHON" >&2; exit 1; }
chromium_path >/dev/null || { echo "rnnlab setup: still no Chromium; set RNNLAB_CHROMIUM" >&2; exit 1; }

# The native BLAS addon: `npm ci` builds it when OpenBLAS is present; build it now if it was missing then.
if ! have_blas_addon && have_blas_headers; then
  echo "rnnlab setup: building the native BLAS addon (@rnnlab/native-blas)" >&2
  RNNLAB_REBUILD_NATIVE_BLAS=1 npm rebuild @rnnlab/native-blas --foreground-scripts >/dev/null 2>&1 || true
fi
if have_blas_addon; then
  echo "rnnlab setup: native matrix products ready ($(node -e 'const i=require("@rnnlab/native-blas").load().binding.info(); console.log(i.config.split(" ").slice(0,2).join(" ") || i.library)'))" >&2
else
  echo "rnnlab setup: native matrix products unavailable ($(cat packages/native-blas/build/unavailable.txt 2>/dev/null || echo 'addon not built')); training uses wasm's own" >&2
fi

# A software Vulkan driver (Mesa lavapipe) for the webgpu backend's tests; without it they are skipped.
bash scripts/setup-vulkan.sh || echo "rnnlab setup: no software Vulkan driver installed; the webgpu tests will be skipped" >&2

# The tslab kernel: reinstall when its lockfile changed since the last install.
stamp=tools/tslab/node_modules/.rnnlab-lock
if [ ! -f "$stamp" ] || ! cmp -s tools/tslab/package-lock.json "$stamp"; then
  echo "rnnlab setup: installing the tslab kernel (tools/tslab)" >&2
  (cd tools/tslab && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  cp tools/tslab/package-lock.json "$stamp"
fi
# The kernelspec is committed (jupyter/kernels/tslab) and found through JUPYTER_PATH.
"$PY" -c "
import sys
from jupyter_client.kernelspec import KernelSpecManager
spec = KernelSpecManager().get_kernel_spec('tslab')
sys.stderr.write('rnnlab setup: kernel tslab at ' + spec.resource_dir + '\n')
" || { echo "rnnlab setup: Jupyter cannot find the tslab kernelspec (JUPYTER_PATH=$JUPYTER_PATH)" >&2; exit 1; }
echo "rnnlab setup: ready in $(( $(date +%s) - t0 )) s (python: $PY, chromium: $(chromium_path))" >&2
