/**
 * Corrected kernels for @tensorflow/tfjs-backend-wasm 4.22 (see docs/performance.md §6, "Pitfalls").
 * Registered by selectBackend() when the wasm backend is chosen; each fix is checked numerically
 * against the cpu backend in test/wasm-kernels.test.ts.
 *
 * - tfix:   BatchMatMul with transposeA/transposeB runs a scalar loop in the stock kernel (~1.5 GFLOP/s,
 *           batch_mat_mul_impl.cc only uses XNNPACK when both flags are false). We transpose the operand
 *           explicitly and call the stock kernel with both flags false (~17-22 GFLOP/s).
 * - fcopy:  Slice / SplitV / Unpack call backend.readSync(x), which copies the WHOLE source tensor out of
 *           the wasm heap on every call (slicing 20 rows of a [700,2600] tensor costs ~5 ms), and GatherV2
 *           moves one element at a time. These versions copy only the selected rows through views of the
 *           heap (memory is allocated first, then views are taken, because a heap growth detaches views).
 * - segsum: wasm has no UnsortedSegmentSum, so tf.gather (embeddings) has no gradient. Delegate to
 *           ScatterNd, which sums duplicate indices.
 * - oneHot: the stock kernel writes int32 bit patterns even for dtype float32 ("1" reads back as
 *           1.4e-45). This version fills the output through a typed view of the requested dtype.
 */
import { tf } from "./tf";
import { setNativeMatmul } from "./blas-kernels";

type KernelFunc = tf.KernelConfig["kernelFunc"];
type KernelArgs = Parameters<KernelFunc>[0];
type TensorInfo = tf.TensorInfo;
type NamedAttrMap = tf.NamedAttrMap;

/** The parts of tfjs-backend-wasm's BackendWasm the fixes use (it exports no types we can import here). */
interface WasmBackend {
  dataIdMap: { get(dataId: object): { id: number; memoryOffset: number; shape: number[]; dtype: string } };
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object): boolean;
}

/** The stock kernels, captured before we replace any, so a fix can delegate to the original. */
const stock = new Map<string, KernelFunc>();
/** Their full configs, to put them back (setWasmKernelFixes). */
const stockConfigs = new Map<string, tf.KernelConfig>();

function kernel(name: string): KernelFunc {
  const saved = stock.get(name);
  if (saved) return saved;
  const k = tf.getKernel(name, "wasm");
  if (!k) throw new Error(`wasm kernel ${name} is not registered; is @tensorflow/tfjs-backend-wasm loaded?`);
  return k.kernelFunc;
}

function size(shape: number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * The one place where the fixes meet tfjs's untyped kernel registry. tfjs calls every kernel with
 * `attrs` as a NamedAttrMap (name -> attribute, whatever the kernel) and `backend` as `{}`; the fix
 * declares the attributes its kernel takes (`A`, from the op's definition in tfjs-core, e.g.
 * BatchMatMulAttrs) and receives the wasm backend through the interface above. Nothing checks either at
 * run time: registration for backendName "wasm" is what guarantees the backend, and the op's own
 * wrapper in tfjs-core what guarantees the attributes. `args` is the call as tfjs made it, for handing
 * on to a stock kernel unchanged.
 */
function wasmKernel<A extends NamedAttrMap>(
  kernelName: string,
  fix: (inputs: KernelArgs["inputs"], attrs: A, backend: WasmBackend, args: KernelArgs) => TensorInfo | TensorInfo[],
): tf.KernelConfig {
  return {
    kernelName,
    backendName: "wasm",
    kernelFunc: (args) => fix(args.inputs, args.attrs as A, args.backend as WasmBackend, args),
  };
}

function reshape(x: TensorInfo, shape: number[], backend: WasmBackend): TensorInfo {
  return kernel("Reshape")({ inputs: { x }, attrs: { shape }, backend }) as TensorInfo;
}

// ---------------------------------------------------------------------------------------------- segsum
const segsum = wasmKernel<{ numSegments: number }>("UnsortedSegmentSum", (inputs, { numSegments }, backend) => {
  const { x, segmentIds } = inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const n = size(segmentIds.shape);
  const indices = reshape(segmentIds, [n, 1], backend); // [n, 1]
  const rest = x.shape.slice(segmentIds.shape.length);
  const updates = reshape(x, [n, ...rest], backend); // [n, ...rest]
  const out = kernel("ScatterNd")({
    inputs: { indices, updates },
    attrs: { shape: [numSegments, ...rest] },
    backend,
  });
  backend.disposeData(indices.dataId);
  backend.disposeData(updates.dataId);
  return out;
});

// ------------------------------------------------------------------------------------------------ tfix
function transposeLastTwo(x: TensorInfo, backend: WasmBackend): TensorInfo {
  const rank = x.shape.length;
  const perm = [...Array(rank).keys()];
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return kernel("Transpose")({ inputs: { x }, attrs: { perm }, backend }) as TensorInfo;
}

const tfix = wasmKernel<{ transposeA: boolean; transposeB: boolean }>("BatchMatMul", (inputs, { transposeA, transposeB }, backend, args) => {
  const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
  const matMul = kernel("BatchMatMul");
  if (!transposeA && !transposeB) return matMul(args);
  const a2 = transposeA ? transposeLastTwo(a, backend) : a;
  const b2 = transposeB ? transposeLastTwo(b, backend) : b;
  const out = matMul({ inputs: { a: a2, b: b2 }, attrs: { transposeA: false, transposeB: false }, backend });
  if (a2 !== a) backend.disposeData(a2.dataId);
  if (b2 !== b) backend.disposeData(b2.dataId);
  return out;
});

// ----------------------------------------------------------------------------------------------- fcopy
/**
 * Copy the box `begin .. begin+outShape` of x into a new tensor. Rows along the last axis are contiguous,
 * so the loop runs over all but the last axis and copies each row with one TypedArray.set.
 */
function sliceThroughHeap(x: TensorInfo, begin: number[], outShape: number[], backend: WasmBackend): TensorInfo {
  const out = backend.makeOutput(outShape, x.dtype);
  const n = size(outShape);
  if (n === 0) return out;
  // Views are taken after makeOutput: allocating may grow (and detach) the heap buffer.
  const xv = backend.typedArrayFromHeap(x);
  const ov = backend.typedArrayFromHeap(out);
  const rank = x.shape.length;
  const strides = new Array<number>(rank);
  let s = 1;
  for (let d = rank - 1; d >= 0; d--) {
    strides[d] = s;
    s *= x.shape[d];
  }
  // Merge trailing axes that are taken whole: the copied row is then as long as possible.
  let inner = rank - 1;
  while (inner > 0 && begin[inner] === 0 && outShape[inner] === x.shape[inner]) inner--;
  let rowLength = 1;
  for (let d = inner; d < rank; d++) rowLength *= outShape[d];
  const outer = outShape.slice(0, inner);
  const rows = size(outer);
  const index = new Array<number>(inner).fill(0);
  let base = 0;
  for (let d = 0; d < rank; d++) base += begin[d] * strides[d];
  for (let r = 0; r < rows; r++) {
    let offset = base;
    for (let d = 0; d < inner; d++) offset += index[d] * strides[d];
    ov.set(xv.subarray(offset, offset + rowLength), r * rowLength);
    for (let d = inner - 1; d >= 0; d--) {
      if (++index[d] < outer[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

const fcopySlice = wasmKernel<{ begin: number | number[]; size: number | number[] }>("Slice", (inputs, attrs, backend, args) => {
  const { x } = inputs as { x: TensorInfo };
  if (x.dtype === "string") return kernel("Slice")(args);
  const [begin_, size_] = tf.slice_util.parseSliceParams(x as tf.Tensor, attrs.begin, attrs.size);
  return sliceThroughHeap(x, begin_, size_, backend);
});

const fcopySplitV = wasmKernel<{ numOrSizeSplits: number | number[]; axis: number }>("SplitV", (inputs, attrs, backend, args) => {
  const { x } = inputs as { x: TensorInfo };
  if (x.dtype === "string") return kernel("SplitV")(args);
  const { numOrSizeSplits, axis } = attrs;
  const ax = tf.util.parseAxisParam(axis, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, ax);
  const begin = new Array<number>(x.shape.length).fill(0);
  return sizes.map((s) => {
    const shape = x.shape.slice();
    shape[ax] = s;
    const piece = sliceThroughHeap(x, begin, shape, backend);
    begin[ax] += s;
    return piece;
  });
});

const fcopyUnpack = wasmKernel<{ axis: number }>("Unpack", (inputs, attrs, backend, args) => {
  const { value } = inputs as { value: TensorInfo };
  if (value.dtype === "string") return kernel("Unpack")(args);
  let { axis } = attrs;
  const rank = value.shape.length;
  if (axis < 0) axis += rank;
  const outShape = value.shape.filter((_, d) => d !== axis);
  const shape = value.shape.slice();
  shape[axis] = 1;
  const begin = new Array<number>(rank).fill(0);
  const outs: TensorInfo[] = [];
  for (let i = 0; i < value.shape[axis]; i++) {
    begin[axis] = i;
    const piece = sliceThroughHeap(value, begin, shape, backend);
    outs.push({ dataId: piece.dataId, dtype: piece.dtype, shape: outShape });
  }
  return outs;
});

const fcopyGather = wasmKernel<{ axis: number; batchDims: number }>("GatherV2", (inputs, { axis, batchDims }, wasm, args) => {
  const { x, indices } = inputs as { x: TensorInfo; indices: TensorInfo };
  if (x.dtype === "string") return kernel("GatherV2")(args);
  const ax = tf.util.parseAxisParam(axis, x.shape)[0];
  const info = tf.backend_util.segment_util.collectGatherOpShapeInfo(
    x as tf.Tensor,
    indices as tf.Tensor,
    ax,
    batchDims,
  );
  const { batchSize, outerSize, dimSize, sliceSize } = info;
  const nIndices = size(indices.shape);
  const perBatch = batchSize > 0 ? nIndices / batchSize : 0;
  const out = wasm.makeOutput(info.outputShape, x.dtype);
  if (size(info.outputShape) === 0 || size(x.shape) === 0) return out;
  const xv = wasm.typedArrayFromHeap(x);
  const iv = wasm.typedArrayFromHeap(indices);
  const ov = wasm.typedArrayFromHeap(out);
  for (let i = 0; i < nIndices; i++) {
    const k = iv[i];
    if (!(k >= 0 && k <= dimSize - 1)) {
      wasm.disposeData(out.dataId);
      throw new Error(`GatherV2: the index value ${k} is not in [0, ${dimSize - 1}]`);
    }
  }
  // x viewed as [batch, outer, dim, slice]; out as [batch, outer, perBatch, slice].
  let o = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let r = 0; r < outerSize; r++) {
      const xBase = (b * outerSize + r) * dimSize * sliceSize;
      const iBase = b * perBatch;
      if (sliceSize === 1) {
        for (let j = 0; j < perBatch; j++) ov[o++] = xv[xBase + iv[iBase + j]];
      } else {
        for (let j = 0; j < perBatch; j++) {
          const from = xBase + iv[iBase + j] * sliceSize;
          ov.set(xv.subarray(from, from + sliceSize), o);
          o += sliceSize;
        }
      }
    }
  }
  return out;
});

// ---------------------------------------------------------------------------------------------- oneHot
type OneHotAttrs = { dtype: tf.DataType; depth: number; onValue: number; offValue: number };

const oneHot = wasmKernel<OneHotAttrs>("OneHot", (inputs, { dtype, depth, onValue, offValue }, wasm) => {
  const { indices } = inputs as { indices: TensorInfo };
  const out = wasm.makeOutput([...indices.shape, depth], dtype);
  const n = size(indices.shape);
  if (n * depth === 0) return out;
  const iv = wasm.typedArrayFromHeap(indices);
  const ov = wasm.typedArrayFromHeap(out);
  ov.fill(offValue);
  // Out-of-range indices give an all-off row, as in TensorFlow.
  for (let r = 0; r < n; r++) {
    const k = iv[r];
    if (k >= 0 && k < depth) ov[r * depth + k] = onValue;
  }
  return out;
});

const FIXES: { name: string; configs: tf.KernelConfig[]; replaces: boolean }[] = [
  { name: "tfix", configs: [tfix], replaces: true },
  { name: "fcopy", configs: [fcopySlice, fcopySplitV, fcopyUnpack, fcopyGather], replaces: true },
  { name: "segsum", configs: [segsum], replaces: false },
  { name: "oneHot", configs: [oneHot], replaces: true },
];

/** Names of the fixes, in installation order. */
export const WASM_KERNEL_FIXES: readonly string[] = FIXES.map((f) => f.name);

let installed: string[] | undefined;

/**
 * Register the fixes once per process; returns the names of those installed. A fix with
 * `replaces: false` is skipped when the kernel already exists (a future tfjs may ship it).
 */
export function installWasmKernelFixes(): string[] {
  if (installed) return installed;
  installed = [];
  for (const fix of FIXES) {
    let applied = false;
    for (const config of fix.configs) {
      const existing = tf.getKernel(config.kernelName, "wasm");
      if (existing && !fix.replaces) continue;
      if (existing) {
        if (!stock.has(config.kernelName)) {
          stock.set(config.kernelName, existing.kernelFunc);
          stockConfigs.set(config.kernelName, existing);
        }
        tf.unregisterKernel(config.kernelName, "wasm");
      }
      tf.registerKernel(config);
      applied = true;
    }
    if (applied) installed.push(fix.name);
  }
  return installed;
}

/**
 * Choose which fixes are active (after installWasmKernelFixes): the others revert to the stock kernels
 * (a fix without a stock kernel, segsum, is removed). For benchmarks that compare against stock tfjs-wasm,
 * e.g. `setWasmKernelFixes(["segsum"])` = stock kernels plus the shim tf.layers needs to train at all.
 * It turns the native BLAS products off first (they replace BatchMatMul, which tfix also owns); call
 * `setNativeMatmul(true)` afterwards to put them back.
 */
export function setWasmKernelFixes(enabled: readonly string[]): string[] {
  setNativeMatmul(false);
  for (const name of enabled)
    if (!WASM_KERNEL_FIXES.includes(name)) throw new Error(`setWasmKernelFixes: unknown fix "${name}"; known: ${WASM_KERNEL_FIXES.join(", ")}.`);
  const done = installWasmKernelFixes();
  const active: string[] = [];
  for (const fix of FIXES) {
    if (!done.includes(fix.name)) continue;
    const on = enabled.includes(fix.name);
    for (const config of fix.configs) {
      const current = tf.getKernel(config.kernelName, "wasm");
      const wanted = on ? config : stockConfigs.get(config.kernelName);
      if (current?.kernelFunc === wanted?.kernelFunc) continue;
      if (current) tf.unregisterKernel(config.kernelName, "wasm");
      if (wanted) tf.registerKernel(wanted);
    }
    if (on) active.push(fix.name);
  }
  return active;
}
