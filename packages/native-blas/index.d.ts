/** The native BLAS addon's functions (see src/blas.c). Float32Arrays may be views of the wasm heap. */
export interface NativeBlas {
  gemmBias(a: Float32Array, b: Float32Array, c: Float32Array, batch: number, m: number, n: number, k: number,
    transA: boolean, transB: boolean, strideA: number, strideB: number,
    bias: Float32Array | null, activation: number, alpha: number): void;
  dgemm(a: Float64Array, b: Float64Array, c: Float64Array, m: number, n: number, k: number, transA: boolean, transB: boolean): void;
  /** a ← a⁻¹ in place (row-major n x n); false if singular or unsupported (macOS build). */
  inverse64(a: Float64Array, n: number): boolean;
  lstmForward(proj: Float32Array, whh: Float32Array, h0: Float32Array, c0: Float32Array, mask: Float32Array, hs: Float32Array,
    ys: Float32Array, gates: Float32Array, cells: Float32Array, tanhCells: Float32Array, T: number, B: number, H: number): void;
  lstmBackward(dy: Float32Array, gates: Float32Array, cells: Float32Array, tanhCells: Float32Array, c0: Float32Array, whh: Float32Array,
    mask: Float32Array, dz: Float32Array, dh0: Float32Array, dc0: Float32Array, T: number, B: number, H: number): void;
  gruForward(proj: Float32Array, u: Float32Array, brec: Float32Array, h0: Float32Array, ys: Float32Array, saved: Float32Array,
    T: number, B: number, H: number): void;
  gruBackward(dy: Float32Array, saved: Float32Array, h0: Float32Array, ys: Float32Array, u: Float32Array, dx: Float32Array,
    drec: Float32Array, dh0: Float32Array, T: number, B: number, H: number): void;
  layerNormForward(a: Float32Array, gain: Float32Array, bias: Float32Array, out: Float32Array, xhat: Float32Array, inv: Float32Array,
    rows: number, cols: number, epsilon: number): void;
  layerNormBackward(dy: Float32Array, xhat: Float32Array, inv: Float32Array, gain: Float32Array, da: Float32Array, dgain: Float32Array,
    dbias: Float32Array, rows: number, cols: number): void;
  ncgruForward(proj: Float32Array, urz: Float32Array, uc: Float32Array, bmod: Float32Array, h0: Float32Array, ys: Float32Array,
    saved: Float32Array, T: number, B: number, H: number): void;
  ncgruBackward(dy: Float32Array, saved: Float32Array, h0: Float32Array, ys: Float32Array, urz: Float32Array, uc: Float32Array,
    dx: Float32Array, dh0: Float32Array, dbmod: Float32Array, T: number, B: number, H: number): void;
  atnForward(a: Float32Array, gain: Float32Array, bias: Float32Array, wsum: Float32Array, wsq: Float32Array, count: Float32Array,
    out: Float32Array, newSum: Float32Array, newSq: Float32Array, xhat: Float32Array, stats: Float32Array, B: number, F: number, P: number, epsilon: number): void;
  atnBackward(dout: Float32Array, dnewSum: Float32Array, dnewSq: Float32Array, a: Float32Array, xhat: Float32Array, stats: Float32Array,
    gain: Float32Array, wsum: Float32Array, count: Float32Array, da: Float32Array, dgain: Float32Array, dbias: Float32Array,
    dwsum: Float32Array, dwsq: Float32Array, B: number, F: number, P: number): void;
  normLstmForward(proj: Float32Array, u: Float32Array, params: Float32Array, h0: Float32Array, c0: Float32Array, win0: Float32Array,
    count0: Float32Array, hs: Float32Array, gates: Float32Array, recs: Float32Array, xhats: Float32Array, cells: Float32Array,
    tanhCells: Float32Array, stats: Float32Array, winOut: Float32Array, T: number, B: number, H: number, P: number, epsilon: number): void;
  normLstmBackward(dy: Float32Array, proj: Float32Array, u: Float32Array, params: Float32Array, c0: Float32Array, count0: Float32Array,
    gates: Float32Array, recs: Float32Array, xhats: Float32Array, cells: Float32Array, tanhCells: Float32Array, stats: Float32Array,
    dproj: Float32Array, drec: Float32Array, dh0: Float32Array, dc0: Float32Array, dparams: Float32Array, dwin0: Float32Array,
    T: number, B: number, H: number, P: number): void;
  setThreads(n: number): void;
  info(): { library: string; config: string; corename: string; threads: number };
}
export function load(): { binding: NativeBlas; file: string; error?: undefined } | { error: string; binding?: undefined };
