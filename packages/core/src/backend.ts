/**
 * Backend selection for entry points (CLI, a notebook's first cell, a benchmark, a test runner).
 *
 * RNNLAB_BACKEND = auto | tensorflow | webgpu | wasm | cpu   (default auto)
 *   auto       @tensorflow/tfjs-node-gpu, then @tensorflow/tfjs-node, then webgpu on a real GPU, then wasm, then cpu
 *   tensorflow the native TensorFlow backend (GPU build first, then CPU build); an error if neither loads
 *   webgpu     @tensorflow/tfjs-backend-webgpu on Dawn's Node bindings (`webgpu` npm package) over Vulkan;
 *              forced, it accepts a software adapter (Mesa lavapipe: the CI tests); `auto` takes only a GPU,
 *              because on a CPU wasm (+blas) is far faster. No synchronous reads on it: `await t.data()`.
 *   wasm       @tensorflow/tfjs-backend-wasm (with rnnlab's corrected kernels installed)
 *   cpu        the pure-JS reference backend (slow: for numerical checks only)
 *
 * RNNLAB_MATMUL = auto | blas | wasm   (default auto; wasm backend only)
 *   auto       native BLAS matrix products (@rnnlab/native-blas) when the addon loads, else wasm's own
 *   blas       the native products; an error naming the fix if the addon is unavailable
 *   wasm       tfjs-backend-wasm's own products (with rnnlab's transpose fix)
 * RNNLAB_BLAS_THREADS = BLAS threads per process (default 1)
 *
 * Libraries never call this; they take `tf` from ./tf and run on whatever was selected.
 */
import * as path from "node:path";
import { repoRoot } from "./atomic";
import { tf } from "./tf";
import { installWasmKernelFixes } from "./wasm-kernels";
import { type BlasInfo, type MatmulRequest, installBlasKernels, loadNativeBlas, parseBlasThreads, parseMatmulRequest } from "./blas-kernels";
import { type GpuAdapterFacts, describeAdapter, diagnoseNoAdapter, gpuDeviceNodes, loadDawn, requestAdapterFacts } from "./webgpu";

export type BackendName = "tensorflow" | "webgpu" | "wasm" | "cpu";
export type BackendRequest = "auto" | BackendName;
export const BACKEND_REQUESTS: readonly BackendRequest[] = ["auto", "tensorflow", "webgpu", "wasm", "cpu"];

export interface BackendChoice {
  /** The backend now active in the TF.js engine. */
  backend: BackendName;
  /** What was asked for (argument or RNNLAB_BACKEND). */
  requested: BackendRequest;
  /** The npm package that provides it. */
  packageName: string;
  /** Each candidate that was skipped, and why. */
  skipped: { candidate: string; reason: string }[];
  /** Kernel fixes registered for this backend (wasm only). */
  kernelFixes: string[];
  tfjsVersion: string;
  /** Who computes the matrix products: native BLAS under wasm, wasm's own, or the backend itself. */
  matmul: "blas" | "wasm" | BackendName;
  /** What was asked for (RNNLAB_MATMUL). */
  matmulRequested: MatmulRequest;
  /** The BLAS library, when matmul is "blas". */
  blas?: BlasInfo;
  /** "wasm+blas" when the native products run under wasm, else the backend's name. */
  label: string;
  /** The GPU adapter, on webgpu (vendor, architecture, description; software for lavapipe). */
  adapter?: GpuAdapterFacts;
}

export class BackendUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BackendUnavailableError";
  }
}

let current: Promise<BackendChoice> | undefined;
let currentRequest: BackendRequest | undefined;

/** The first line of an error, with absolute paths into this checkout made relative (reasons end up in notebooks). */
function firstLine(e: unknown): string {
  const line = String(e instanceof Error ? e.message : e).split("\n")[0];
  let root: string;
  try {
    root = repoRoot() + path.sep;
  } catch {
    return line; // used outside the repository: nothing to shorten
  }
  return line.split(root).join("");
}

export function parseBackendRequest(value: string | undefined): BackendRequest {
  const v = (value ?? "auto").trim().toLowerCase() || "auto";
  if ((BACKEND_REQUESTS as readonly string[]).includes(v)) return v as BackendRequest;
  throw new BackendUnavailableError(
    `RNNLAB_BACKEND="${value}" is not a backend. Use one of: ${BACKEND_REQUESTS.join(", ")}.`,
  );
}

async function tryNative(skipped: BackendChoice["skipped"]): Promise<string | undefined> {
  for (const pkg of ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"]) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require(pkg);
      if (await tf.setBackend("tensorflow")) {
        await tf.ready();
        return pkg;
      }
      skipped.push({ candidate: pkg, reason: "loaded, but the 'tensorflow' backend did not initialise" });
    } catch (e) {
      skipped.push({ candidate: pkg, reason: firstLine(e) });
    }
  }
  return undefined;
}

async function tryWasm(skipped: BackendChoice["skipped"]): Promise<boolean> {
  try {
    require("@tensorflow/tfjs-backend-wasm");
    if (await tf.setBackend("wasm")) {
      await tf.ready();
      return true;
    }
    skipped.push({ candidate: "@tensorflow/tfjs-backend-wasm", reason: "setBackend('wasm') returned false" });
  } catch (e) {
    skipped.push({ candidate: "@tensorflow/tfjs-backend-wasm", reason: firstLine(e) });
  }
  return false;
}

/**
 * WebGPU through Dawn. In `auto` only a real GPU is taken (no GPU device node: Dawn is not even loaded);
 * forced, a software adapter is accepted. Returns the adapter, or undefined with the reason in `skipped`.
 */
async function tryWebgpu(skipped: BackendChoice["skipped"], forced: boolean): Promise<GpuAdapterFacts | undefined> {
  const candidate = "webgpu";
  const skip = (reason: string) => {
    skipped.push({ candidate, reason });
    return undefined;
  };
  if (!forced && process.platform === "linux" && !gpuDeviceNodes().length)
    return skip("no GPU device (/dev/nvidia*, /dev/dri/renderD*)");
  let gpu;
  try {
    gpu = await loadDawn();
  } catch (e) {
    return skip(`the \`webgpu\` npm package (Dawn) did not load: ${firstLine(e)}; install it: \`npm install webgpu@0.6.2\``);
  }
  let adapter: GpuAdapterFacts | null;
  try {
    adapter = await requestAdapterFacts(gpu);
  } catch (e) {
    return skip(`Dawn's requestAdapter failed: ${firstLine(e)}. ${diagnoseNoAdapter()}`);
  }
  if (!adapter) return skip(`no WebGPU adapter: ${diagnoseNoAdapter()}`);
  if (adapter.software && !forced)
    return skip(`the only adapter is a software one (${describeAdapter(adapter)}); wasm is faster on a CPU (RNNLAB_BACKEND=webgpu forces it)`);
  try {
    require("@tensorflow/tfjs-backend-webgpu");
    if (await tf.setBackend("webgpu")) {
      await tf.ready();
      return adapter;
    }
    return skip(`adapter ${describeAdapter(adapter)} found, but setBackend('webgpu') returned false`);
  } catch (e) {
    return skip(`adapter ${describeAdapter(adapter)} found, but the TF.js webgpu backend failed: ${firstLine(e)}`);
  }
}

/** Native BLAS products on the wasm backend, as RNNLAB_MATMUL asks; a forced one that cannot load throws. */
function chooseMatmul(
  backend: BackendName,
  request: MatmulRequest,
  skipped: BackendChoice["skipped"],
): Pick<BackendChoice, "matmul" | "blas"> {
  if (backend !== "wasm") {
    if (request === "blas")
      throw new BackendUnavailableError(
        `RNNLAB_MATMUL=blas applies to the wasm backend only, but the ${backend} backend was chosen. ` +
          `Use RNNLAB_BACKEND=wasm with it, or unset RNNLAB_MATMUL.`,
      );
    return { matmul: backend };
  }
  if (request === "wasm") return { matmul: "wasm" };
  const threads = parseBlasThreads(process.env.RNNLAB_BLAS_THREADS);
  const { binding, error } = loadNativeBlas();
  if (!binding) {
    if (request === "blas")
      throw new BackendUnavailableError(
        `RNNLAB_MATMUL=blas, but native matmul unavailable: ${error}\n` +
          `Fix: install OpenBLAS and a C compiler (Debian/Ubuntu as root: \`npm run setup\`, or ` +
          `\`apt-get install libopenblas-dev build-essential\`), then \`npm rebuild @rnnlab/native-blas\`; ` +
          `or use RNNLAB_MATMUL=wasm.`,
      );
    skipped.push({ candidate: "native matmul", reason: `native matmul unavailable: ${error}` });
    return { matmul: "wasm" };
  }
  return { matmul: "blas", blas: installBlasKernels(threads) };
}

async function choose(requested: BackendRequest): Promise<BackendChoice> {
  const skipped: BackendChoice["skipped"] = [];
  const matmulRequested = parseMatmulRequest(process.env.RNNLAB_MATMUL);
  const done = (backend: BackendName, packageName: string, adapter?: GpuAdapterFacts): BackendChoice => {
    const kernelFixes = backend === "wasm" ? installWasmKernelFixes() : [];
    const mm = chooseMatmul(backend, matmulRequested, skipped);
    return {
      backend,
      requested,
      packageName,
      skipped,
      kernelFixes,
      tfjsVersion: tf.version.tfjs,
      ...mm,
      matmulRequested,
      label: mm.matmul === "blas" ? "wasm+blas" : backend,
      ...(adapter ? { adapter } : {}),
    };
  };
  if (requested === "auto" || requested === "tensorflow") {
    const pkg = await tryNative(skipped);
    if (pkg) return done("tensorflow", pkg);
    if (requested === "tensorflow") {
      throw new BackendUnavailableError(
        `RNNLAB_BACKEND=tensorflow, but no native TensorFlow backend could be loaded:\n` +
          skipped.map((s) => `  - ${s.candidate}: ${s.reason}`).join("\n") +
          `\nInstall one: \`npm install @tensorflow/tfjs-node@4.22.0\` (CPU, needs network access to download ` +
          `libtensorflow) or \`npm install @tensorflow/tfjs-node-gpu@4.22.0\` (CUDA GPU), ` +
          `or choose another backend: RNNLAB_BACKEND=wasm.`,
      );
    }
  }
  if (requested === "auto" || requested === "webgpu") {
    const adapter = await tryWebgpu(skipped, requested === "webgpu");
    if (adapter) return done("webgpu", "@tensorflow/tfjs-backend-webgpu + webgpu (Dawn)", adapter);
    if (requested === "webgpu") {
      throw new BackendUnavailableError(
        `RNNLAB_BACKEND=webgpu, but the webgpu backend could not be started: ${skipped.at(-1)?.reason}\n` +
          `Or choose another backend: RNNLAB_BACKEND=wasm.`,
      );
    }
  }
  if (requested === "auto" || requested === "wasm") {
    if (await tryWasm(skipped)) return done("wasm", "@tensorflow/tfjs-backend-wasm");
    if (requested === "wasm") {
      throw new BackendUnavailableError(
        `RNNLAB_BACKEND=wasm, but the wasm backend could not be loaded: ${skipped.at(-1)?.reason}\n` +
          `Install it: \`npm install @tensorflow/tfjs-backend-wasm@4.22.0\`, or use RNNLAB_BACKEND=cpu.`,
      );
    }
  }
  await tf.setBackend("cpu");
  await tf.ready();
  return done("cpu", "@tensorflow/tfjs (cpu)");
}

/**
 * Select the TF.js backend once per process. Repeated calls with the same request return the same
 * choice; a different request in the same process is an error (the engine is global).
 */
export function selectBackend(request?: string): Promise<BackendChoice> {
  const requested = parseBackendRequest(request ?? process.env.RNNLAB_BACKEND);
  if (current) {
    if (currentRequest !== requested) {
      return Promise.reject(
        new BackendUnavailableError(
          `The backend was already selected with "${currentRequest}" in this process; ` +
            `it cannot be switched to "${requested}". Restart the process (or the notebook kernel).`,
        ),
      );
    }
    return current;
  }
  currentRequest = requested;
  current = choose(requested);
  current.catch(() => {
    current = undefined;
    currentRequest = undefined;
  });
  return current;
}

/** One line for logs and notebook headers. */
export function describeBackend(c: BackendChoice): string {
  const skipped = c.skipped.length ? `; skipped ${c.skipped.map((s) => `${s.candidate} (${s.reason})`).join(", ")}` : "";
  const blas = c.blas ? ` (${describeBlas(c.blas)})` : c.adapter ? ` (adapter: ${describeAdapter(c.adapter)})` : "";
  return `backend=${c.label}${blas} via ${c.packageName}, tfjs ${c.tfjsVersion}${skipped}`;
}

/** "OpenBLAS 0.3.21 (Haswell kernels), 1 thread". */
export function describeBlas(b: BlasInfo): string {
  const version = b.config.match(/^OpenBLAS\s+(\S+)/)?.[1];
  const name = version ? `${b.library} ${version}` : b.library;
  const core = b.corename ? ` (${b.corename} kernels)` : "";
  return `${name}${core}, ${b.threads} thread${b.threads === 1 ? "" : "s"}`;
}
