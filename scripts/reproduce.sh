#!/usr/bin/env bash
# Set up, then re-execute every notebook headless, writing outputs back into the notebooks and
# figures into results/. Paper notebooks load the committed results (or train what is missing).
#   npm run reproduce [-- notebooks/x.ipynb ...]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
bash scripts/setup.sh
if [ $# -gt 0 ]; then notebooks=("$@"); else mapfile -t notebooks < <(ls notebooks/*.ipynb | sort); fi
failed=0
for nb in "${notebooks[@]}"; do
  t0=$(date +%s)
  echo "reproduce: executing $nb" >&2
  if bash scripts/execute-notebook.sh "$nb" --inplace; then
    echo "reproduce: $nb done in $(( $(date +%s) - t0 )) s" >&2
  else
    echo "reproduce: $nb FAILED" >&2
    failed=1
  fi
done
exit $failed
