"""Execute one notebook headless with the rnnlab tslab kernel and save it (called by execute-notebook.sh).

    python3 scripts/execute-notebook.py NOTEBOOK (--inplace | --output-dir DIR) [--timeout S]

nbclient's NotebookClient numbers the executed cells itself (tslab sends no execute_input message, so
`nbconvert --execute` left every prompt at "In [ ]"), records no timings, and the saved notebook is
signed so that Jupyter trusts its HTML outputs. The kernel runs in the notebook's folder. A failing
cell exits 1 with the cell's error; no file is written then.
"""
import argparse
import os
import sys

import nbformat
import nbformat.sign
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

parser = argparse.ArgumentParser()
parser.add_argument("notebook")
group = parser.add_mutually_exclusive_group(required=True)
group.add_argument("--inplace", action="store_true")
group.add_argument("--output-dir")
parser.add_argument("--timeout", type=int, default=1800)
args = parser.parse_args()

nb = nbformat.read(args.notebook, as_version=4)
client = NotebookClient(
    nb,
    timeout=args.timeout,
    kernel_name="tslab",
    record_timing=False,
    resources={"metadata": {"path": os.path.dirname(os.path.abspath(args.notebook))}},
)
try:
    client.execute()
except CellExecutionError as e:
    # tslab reports the error on the cell's stderr stream, not as an error output: show that stream.
    stderr = [
        "".join(o.get("text", ""))
        for c in nb.cells
        for o in c.get("outputs", [])
        if o.get("output_type") == "stream" and o.get("name") == "stderr"
    ]
    sys.stderr.write(f"{args.notebook}: a cell failed\n{e}\n" + "".join(stderr[-3:]) + "\n")
    sys.exit(1)

out = args.notebook if args.inplace else os.path.join(args.output_dir, os.path.basename(args.notebook))
if args.output_dir:
    os.makedirs(args.output_dir, exist_ok=True)
nbformat.write(nb, out)
try:
    nbformat.sign.NotebookNotary().sign(nb)
except Exception as e:  # a read-only Jupyter data dir: the notebook is still written, only untrusted
    sys.stderr.write(f"{out}: not signed ({e})\n")
