/**
 * Native matrix products for the wasm backend: BatchMatMul and _FusedMatMul through the
 * @rnnlab/native-blas addon (OpenBLAS `cblas_sgemm` on Linux, Accelerate on macOS).
 *
 * Why: tfjs-backend-wasm's GEMM is XNNPACK on 128-bit wasm SIMD without FMA or threads in Node
 * (~25-40 GFLOP/s on one core here), and transposed operands fall to a scalar loop (1-2 GFLOP/s).
 * GEMM is 80-94% of a language-model step, so it caps every trainer. OpenBLAS runs the same products
 * at ~85-110 GFLOP/s on one thread (docs/performance.md), transposes included.
 *
 * How: the wasm backend keeps every tensor in one WebAssembly.Memory; `typedArrayFromHeap` gives a
 * Float32Array view of a tensor's bytes, and the addon reads/writes those views in place, so no data is
 * copied. Views are taken after the output is allocated (an allocation may grow, and detach, the heap).
 * Anything the native path does not cover (non-float32 operands, batch shapes that broadcast in more
 * than one operand, a bias that is not a row vector, PReLU) goes to the kernel registered before.
 *
 * Selection (selectBackend): RNNLAB_MATMUL = auto (default: blas when the addon loads) | blas | wasm;
 * RNNLAB_BLAS_THREADS = BLAS threads per process (default 1: experiments run one process per core).
 */
import { tf } from "./tf";
import type { NativeBlas } from "@rnnlab/native-blas";
import { NATIVE_KERNEL_NAMES, nativeKernels, type WasmHeapBackend } from "./native-kernels";

type KernelFunc = tf.KernelConfig["kernelFunc"];
type TensorInfo = tf.TensorInfo;


export type MatmulRequest = "auto" | "blas" | "wasm";
export const MATMUL_REQUESTS: readonly MatmulRequest[] = ["auto", "blas", "wasm"];

export interface BlasInfo {
  /** "OpenBLAS" or "Accelerate". */
  library: string;
  /** The library's build description, e.g. "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ... Haswell". */
  config: string;
  /** The kernel family OpenBLAS chose (honours OPENBLAS_CORETYPE). */
  corename: string;
  threads: number;
}

/** The addon, or why it is unavailable. Loaded once per process. */
let loaded: { binding?: NativeBlas; error?: string } | undefined;

export function loadNativeBlas(): { binding?: NativeBlas; error?: string } {
  if (loaded) return loaded;
  if (process.env.RNNLAB_NATIVE_BLAS_SIMULATE_FAILURE === "1") {
    loaded = { error: "load failed: simulated by RNNLAB_NATIVE_BLAS_SIMULATE_FAILURE=1" };
    return loaded;
  }
  // OpenBLAS starts its thread pool when it loads: size it now (installBlasKernels sets it again).
  process.env.OPENBLAS_NUM_THREADS ??= String(parseBlasThreads(process.env.RNNLAB_BLAS_THREADS));
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require("@rnnlab/native-blas") as typeof import("@rnnlab/native-blas");
    const r = mod.load();
    loaded = r.binding ? { binding: r.binding } : { error: r.error };
  } catch (e) {
    loaded = { error: `load failed: ${String(e instanceof Error ? e.message : e).split("\n")[0]}` };
  }
  return loaded;
}

export function parseMatmulRequest(value: string | undefined): MatmulRequest {
  const v = (value ?? "auto").trim().toLowerCase() || "auto";
  if ((MATMUL_REQUESTS as readonly string[]).includes(v)) return v as MatmulRequest;
  throw new Error(`RNNLAB_MATMUL="${value}" is not a matmul choice. Use one of: ${MATMUL_REQUESTS.join(", ")}.`);
}

export function parseBlasThreads(value: string | undefined): number {
  if (value === undefined || value.trim() === "") return 1;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 256)
    throw new Error(`RNNLAB_BLAS_THREADS="${value}" must be a whole number from 1 to 256 (BLAS threads per process).`);
  return n;
}

function size(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * The batched product's geometry, or undefined when the native path does not cover it (the batch
 * shapes broadcast in a way that is not "equal" or "one side is a single matrix").
 */
function geometry(a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean) {
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra < 2 || rb < 2) return undefined;
  const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (k !== kb) {
    throw new Error(
      `Error in matMul: inner shapes (${k}) and (${kb}) of Tensors with shapes ${a.shape} and ${b.shape} ` +
        `and transposeA=${transposeA} and transposeB=${transposeB} must match.`,
    );
  }
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
  const batch = size(outer);
  const batchA = size(outerA);
  const batchB = size(outerB);
  let strideA = m * k;
  let strideB = k * n;
  if (batchA === 1 && batch > 1) strideA = 0;
  else if (batchA !== batch) return undefined;
  if (batchB === 1 && batch > 1) strideB = 0;
  else if (batchB !== batch) return undefined;
  return { m, n, k, batch, strideA, strideB, outShape: [...outer, m, n] };
}

/** Activation codes of the addon's gemmBias (src/blas.c). */
const ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1, relu6: 2, sigmoid: 3, elu: 4, leakyrelu: 5 };

/** op(a)·op(b) (+ a row bias, then an activation) into a new wasm tensor, on heap views of the operands. */
function product(
  blas: NativeBlas, backend: unknown, a: TensorInfo, b: TensorInfo, g: NonNullable<ReturnType<typeof geometry>>,
  transposeA: boolean, transposeB: boolean, bias: TensorInfo | undefined, activation: number, alpha: number,
): TensorInfo {
  const wasm = backend as WasmHeapBackend;
  const out = wasm.makeOutput(g.outShape, "float32");
  if (size(g.outShape) === 0) return out;
  // Views are taken after makeOutput: allocating may grow (and detach) the heap.
  const view = (t: TensorInfo) => wasm.typedArrayFromHeap(t) as Float32Array;
  blas.gemmBias(view(a), view(b), view(out), g.batch, g.m, g.n, g.k, transposeA, transposeB, g.strideA, g.strideB,
    bias ? view(bias) : null, activation, alpha);
  return out;
}

function blasBatchMatMul(blas: NativeBlas, fallback: () => KernelFunc): KernelFunc {
  return (args) => {
    const { inputs, attrs, backend } = args;
    const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean }; // tfjs-core's BatchMatMulAttrs
    const g = a.dtype === "float32" && b.dtype === "float32" ? geometry(a, b, transposeA, transposeB) : undefined;
    if (!g) return fallback()(args);
    return product(blas, backend, a, b, g, transposeA, transposeB, undefined, ACTIVATIONS.linear, 0);
  };
}

function blasFusedMatMul(blas: NativeBlas, fallback: () => KernelFunc): KernelFunc {
  return (args) => {
    const { inputs, attrs, backend } = args;
    const { a, b, bias, preluActivationWeights } = inputs as Record<string, TensorInfo | undefined> as {
      a: TensorInfo; b: TensorInfo; bias?: TensorInfo; preluActivationWeights?: TensorInfo;
    };
    const { transposeA, transposeB, activation, leakyreluAlpha } = attrs as { // tfjs-core's _FusedMatMulAttrs
      transposeA: boolean; transposeB: boolean; activation: string; leakyreluAlpha?: number;
    };
    const prelu = activation === "prelu";
    const code = prelu ? ACTIVATIONS.linear : ACTIVATIONS[activation ?? "linear"];
    const g = a.dtype === "float32" && b.dtype === "float32" ? geometry(a, b, transposeA, transposeB) : undefined;
    const rowVector = (v: TensorInfo | undefined) =>
      !v || (v.dtype === "float32" && v.shape.length === 1 && (v.shape[0] === g?.n || v.shape[0] === 1));
    if (!g || code === undefined || !rowVector(bias) || (prelu && (!preluActivationWeights || !rowVector(preluActivationWeights))))
      return fallback()(args);
    const out = product(blas, backend, a, b, g, transposeA, transposeB, bias, code, leakyreluAlpha ?? 0.2);
    const wasm = backend as WasmHeapBackend;
    if (prelu) {
      // PReLU with one slope per column (or one for all): x < 0 -> slope * x, in place.
      const o = wasm.typedArrayFromHeap(out) as Float32Array;
      const w = wasm.typedArrayFromHeap(preluActivationWeights!) as Float32Array;
      const period = w.length;
      for (let i = 0; i < o.length; i++) if (o[i] < 0) o[i] *= w[period === 1 ? 0 : i % period];
    }
    return out;
  };
}

const KERNELS = ["BatchMatMul", "_FusedMatMul"] as const;
/** The kernels registered before ours (stock or rnnlab's tfix), to fall back to and to restore. */
const previous = new Map<string, tf.KernelConfig>();
let active = false;

/**
 * Register the native products on the wasm backend (after installWasmKernelFixes), with `threads` BLAS
 * threads. Returns the library's facts. Throws if the addon is unavailable.
 */
export function installBlasKernels(threads: number): BlasInfo {
  const { binding, error } = loadNativeBlas();
  if (!binding) throw new Error(`native matmul unavailable: ${error}`);
  binding.setThreads(threads);
  if (!active) {
    for (const name of KERNELS) {
      const existing = tf.getKernel(name, "wasm");
      if (!existing) throw new Error(`wasm kernel ${name} is not registered; is @tensorflow/tfjs-backend-wasm loaded?`);
      previous.set(name, existing);
      const fallback = () => previous.get(name)!.kernelFunc;
      tf.unregisterKernel(name, "wasm");
      tf.registerKernel({
        kernelName: name,
        backendName: "wasm",
        kernelFunc: name === "BatchMatMul" ? blasBatchMatMul(binding, fallback) : blasFusedMatMul(binding, fallback),
      });
    }
    for (const k of nativeKernels(binding)) tf.registerKernel(k);
    active = true;
  }
  return binding.info();
}

/**
 * Switch between the native products and the ones registered before them, in this process (for
 * benchmarks and tests that compare both). Returns whether the native products are now active.
 */
export function setNativeMatmul(enabled: boolean, threads = 1): boolean {
  if (enabled) {
    installBlasKernels(threads);
    return true;
  }
  if (active) {
    for (const name of KERNELS) {
      tf.unregisterKernel(name, "wasm");
      tf.registerKernel(previous.get(name)!);
    }
    for (const name of NATIVE_KERNEL_NAMES) tf.unregisterKernel(name, "wasm");
    active = false;
  }
  return false;
}

export function nativeMatmulActive(): boolean {
  return active;
}

/**
 * Float64 row-major product op(a)·op(b) [m, n] on the host through the native BLAS (dgemm), or
 * undefined when the addon is unavailable or RNNLAB_MATMUL=wasm: callers then use their own (ml-matrix).
 * For host-side linear algebra kept in double precision (the Cayley-orthogonal recurrences).
 */
export function hostMatMul64(
  a: Float64Array, b: Float64Array, m: number, n: number, k: number, transA = false, transB = false,
): Float64Array | undefined {
  if (process.env.RNNLAB_MATMUL?.trim().toLowerCase() === "wasm") return undefined;
  const { binding } = loadNativeBlas();
  if (!binding) return undefined;
  const c = new Float64Array(m * n);
  binding.dgemm(a, b, c, m, n, k, transA, transB);
  return c;
}

/**
 * The inverse of a row-major float64 n x n matrix through LAPACK (OpenBLAS's dgetrf + dgetri), or
 * undefined when the addon is unavailable, RNNLAB_MATMUL=wasm, or the matrix is singular.
 */
export function hostInverse64(a: Float64Array, n: number): Float64Array | undefined {
  if (process.env.RNNLAB_MATMUL?.trim().toLowerCase() === "wasm") return undefined;
  const { binding } = loadNativeBlas();
  if (!binding) return undefined;
  const out = a.slice(0, n * n);
  return binding.inverse64(out, n) ? out : undefined;
}

/**
 * The native float64 kernels of the Cayley-orthogonal recurrences (cayleyGradient, cayleyUpdate,
 * orthogonalityError64), or undefined when the addon is unavailable, is an older build without them, or
 * RNNLAB_MATMUL=wasm: callers then run their JavaScript path (hostMatMul64 or ml-matrix).
 */
export function hostCayleyKernels(): Pick<NativeBlas, "cayleyGradient" | "cayleyUpdate" | "orthogonalityError64"> | undefined {
  if (process.env.RNNLAB_MATMUL?.trim().toLowerCase() === "wasm") return undefined;
  const { binding } = loadNativeBlas();
  if (!binding || typeof binding.cayleyUpdate !== "function" || typeof binding.cayleyGradient !== "function" ||
    typeof binding.orthogonalityError64 !== "function") return undefined;
  return binding;
}

/**
 * Whether matMul's transpose flags cost nothing on the active backend (native BLAS under wasm, or a
 * native TensorFlow/GPU backend). Stock tfjs-backend-wasm runs a transposed operand through an explicit
 * transpose (rnnlab's tfix) and packs the right-hand operand per call, so the fast paths reshape their
 * products for it; with this true they pass the flags and let the library do the rest.
 */
export function transposeFlagsAreFree(): boolean {
  const backend = tf.getBackend();
  return backend === "wasm" ? active : backend !== "cpu";
}
