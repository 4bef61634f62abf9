#!/usr/bin/env bash
# rnnlab on a real GPU through WebGPU (Dawn's Node bindings over Vulkan), within ~8 minutes:
#   1. the adapter (vendor, architecture, description) as selectBackend() reports it;
#   2. the correctness checks of test/webgpu-check.ts (golden cells, LSTM LM, synthetic trainer vs cpu, 1e-4);
#   3. LSTM LM training speed (scripts/gpu-bench.ts: the `npm run bench:lstm` model, small and medium);
#   4. PyTorch's rows of the same bench on the same GPU (CUDA), when python3 has torch with CUDA;
#   5. one epoch of the small PTB model (packages/train/bench/ptb-epoch.ts), when PTB is in RNNLAB_DATA_DIR;
# and writes results/bench/gpu-<adapter>.json (RNNLAB_RESULTS_DIR overrides results/).
#
#   bash scripts/gpu-check.sh            (after `npm ci`; no network needed)
#
# Needs: an NVIDIA (or other) GPU, its Vulkan driver (ICD) and the Vulkan loader libvulkan.so.1. On the
# machines we borrow the ICD is /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json (used when present and
# VK_DRIVER_FILES is unset). Without a system libvulkan.so.1, copy one (Debian: libvulkan1) into
# .cache/vulkan/ (or RNNLAB_VULKAN_LIB_DIR) and it is put on LD_LIBRARY_PATH.
# Time limits per stage (seconds): RNNLAB_GPU_CHECK_TIMEOUT (180), RNNLAB_GPU_BENCH_SECONDS (30 per size;
# sizes RNNLAB_GPU_BENCH_SIZES, default small,medium), PyTorch 60 per size,
# RNNLAB_GPU_PTB_TIMEOUT (150). Stages 3-5 are best effort: a failure is recorded in the JSON, not fatal.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
t0=$(date +%s)
say() { echo "gpu-check: $*" >&2; }
out_dir="${RNNLAB_RESULTS_DIR:-$ROOT/results}/bench"
work="$(mktemp -d "${TMPDIR:-/tmp}/rnnlab-gpu-check-XXXXXX")"
trap 'rm -rf "$work"' EXIT
export RNNLAB_BACKEND=webgpu

nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && [ -f "$nvidia_icd" ]; then export VK_DRIVER_FILES="$nvidia_icd"; fi
if ! PATH="$PATH:/sbin:/usr/sbin" ldconfig -p 2>/dev/null | grep 'libvulkan\.so\.1 ' >/dev/null; then
  lib_dir="${RNNLAB_VULKAN_LIB_DIR:-$ROOT/.cache/vulkan}"
  if [ -f "$lib_dir/libvulkan.so.1" ]; then
    export LD_LIBRARY_PATH="$lib_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    say "Vulkan loader: $lib_dir/libvulkan.so.1"
  else
    say "no Vulkan loader (libvulkan.so.1). Fix: apt-get install libvulkan1, or copy a libvulkan.so.1 into $lib_dir"
    exit 1
  fi
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >&2
say "VK_DRIVER_FILES=${VK_DRIVER_FILES:-${VK_ICD_FILENAMES:-<loader default>}}"

# 1. The adapter.
node --import tsx -e '
const core = require("@rnnlab/core");
core.selectBackend().then((c) => {
  console.error("gpu-check: " + core.describeBackend(c));
  require("node:fs").writeFileSync(process.argv[1], JSON.stringify({ adapter: c.adapter, environment: core.environmentInfo(c) }));
  if (c.adapter.software) console.error("gpu-check: WARNING: this is a software adapter, not a GPU (check VK_DRIVER_FILES)");
}, (e) => { console.error("gpu-check: " + e.message); process.exit(1); })' "$work/adapter.json" 2> >(grep -v "artificially reduced" >&2) || exit 1

# 2. Correctness against cpu (fatal on failure: speed numbers of a wrong backend mean nothing).
say "correctness checks (test/webgpu-check.ts)"
timeout "${RNNLAB_GPU_CHECK_TIMEOUT:-180}" node --import tsx test/webgpu-check.ts >"$work/check.out" 2>"$work/check.err"
check_rc=$?
grep '^{"webgpuCheck"' "$work/check.out" >"$work/check.json" || echo '{"webgpuCheck": null}' >"$work/check.json"
node -e '
const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).webgpuCheck;
if (!c) process.exit(0);
for (const r of c.checks) console.error(`gpu-check:   ${r.ok ? "ok  " : "FAIL"} ${r.name}: max |webgpu - cpu| ${r.vsCpu.toExponential(2)}, ${r.seconds.toFixed(2)} s (cpu ${r.cpuSeconds.toFixed(2)} s)`);' "$work/check.json"
if [ "$check_rc" != 0 ]; then say "correctness checks failed (rc $check_rc):"; tail -20 "$work/check.err" >&2; exit 1; fi

# 3. Speed on webgpu.
say "LSTM LM speed (scripts/gpu-bench.ts)"
timeout $(( 2 * ${RNNLAB_GPU_BENCH_SECONDS:-30} + 90 )) node --import tsx scripts/gpu-bench.ts --sizes "${RNNLAB_GPU_BENCH_SIZES:-small,medium}" \
  --seconds "${RNNLAB_GPU_BENCH_SECONDS:-30}" --out "$work/bench.json" \
  2> >(grep -v "artificially reduced" | tail -4 >&2) >/dev/null || say "bench failed or timed out"

# 4. PyTorch on the same GPU.
if /usr/bin/env python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' >/dev/null 2>&1; then
  for size in $(echo "${RNNLAB_GPU_BENCH_SIZES:-small,medium}" | tr , " "); do
    say "PyTorch CUDA $size"
    timeout 60 python3 packages/cells/bench/torch_lstm.py --device cuda --size "$size" --steps 20 --warmup 3 2>/dev/null | tail -1 >"$work/torch-$size.json" || say "PyTorch $size failed"
  done
else
  say "no PyTorch with CUDA in python3: no PyTorch rows"
fi

# 5. One epoch of the small PTB model (into a scratch results dir: the committed cpu figure stays untouched).
if node --import tsx -e 'require("@rnnlab/data").loadLanguageModelCorpus("ptb")' >/dev/null 2>&1; then
  say "one PTB epoch (packages/train/bench/ptb-epoch.ts)"
  RNNLAB_RESULTS_DIR="$work/ptb" timeout "${RNNLAB_GPU_PTB_TIMEOUT:-150}" node --import tsx packages/train/bench/ptb-epoch.ts >"$work/ptb.out" 2>"$work/ptb.err" \
    || { say "PTB epoch failed or timed out:"; grep -v "artificially reduced" "$work/ptb.err" | tail -3 >&2; }
else
  say "PTB not found in ${RNNLAB_DATA_DIR:-datasets/} (npm run data -- fetch ptb): no PTB epoch"
fi

# The result file.
node --import tsx -e '
const fs = require("node:fs"), path = require("node:path");
const [work, outDir, seconds] = process.argv.slice(1);
const read = (f) => { try { return JSON.parse(fs.readFileSync(path.join(work, f), "utf8")); } catch { return null; } };
const { adapter, environment } = read("adapter.json");
const bench = read("bench.json");
const torch = Object.fromEntries((bench?.rows ?? []).map((r) => r.size).map((s) => [s, read(`torch-${s}.json`)]).filter(([, v]) => v));
const rows = (bench?.rows ?? []).map((r) => {
  const t = torch[r.size];
  return { ...r, ...(t ? { pytorchCudaStepMs: Math.round(t.medianStepMs * 10) / 10, pytorchCudaTokensPerSecond: Math.round(t.tokensPerSecond), ratioVsPytorchCuda: Math.round((r.tokensPerSecond / t.tokensPerSecond) * 1000) / 1000, pytorchVersion: t.torchVersion, pytorchGpu: t.gpu } : {}) };
});
const ptbFile = path.join(work, "ptb", "bench", "ptb-one-epoch.json");
const ptb = fs.existsSync(ptbFile) ? JSON.parse(fs.readFileSync(ptbFile, "utf8")) : null;
const slug = [adapter.vendor, adapter.architecture, adapter.device || adapter.description].filter(Boolean).join("-").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 60) || "unknown";
const out = { schema: 1, kind: "gpu-check", date: new Date().toISOString(), adapter, environment, vkDriverFiles: process.env.VK_DRIVER_FILES ?? null, correctness: read("check.json")?.webgpuCheck ?? null,
  lstmLm: rows, ptbOneEpoch: ptb, seconds: Number(seconds), node: process.version };
fs.mkdirSync(outDir, { recursive: true });
const file = path.join(outDir, `gpu-${slug}.json`);
fs.writeFileSync(file + ".tmp", JSON.stringify(out, null, 2) + "\n");
fs.renameSync(file + ".tmp", file);
for (const r of rows) console.error(`gpu-check: ${r.size}: ${r.tokensPerSecond} tokens/s (${r.medianStepMs} ms/step)` + (r.pytorchCudaTokensPerSecond ? `, PyTorch CUDA ${r.pytorchCudaTokensPerSecond} tokens/s, ratio ${r.ratioVsPytorchCuda}` : ""));
console.error("gpu-check: wrote " + path.relative(process.cwd(), file));' "$work" "$out_dir" "$(( $(date +%s) - t0 ))"
say "done in $(( $(date +%s) - t0 )) s"
