/** The native BLAS addon's functions (see src/blas.c). Float32Arrays may be views of the wasm heap. */
export interface NativeBlas {
  gemmBias(a: Float32Array, b: Float32Array, c: Float32Array, batch: number, m: number, n: number, k: number,
    transA: boolean, transB: boolean, strideA: number, strideB: number,
    bias: Float32Array | null, activation: number, alpha: number): void;
  dgemm(a: Float64Array, b: Float64Array, c: Float64Array, m: number, n: number, k: number, transA: boolean, transB: boolean): void;
  /** a ← a⁻¹ in place (row-major n x n); false if singular or unsupported (macOS build). */
  inverse64(a: Float64Array, n: number): boolean;
  /**
   * dL/dA = Vᵀ − V, V = invᵀ G (D + Uᵀ) of a Cayley-orthogonal recurrence (row-major n x n; d: D's diagonal;
   * g = dL/dU; out gets the skew gradient rounded to its type; w1..w3: work buffers of n*n).
   */
  cayleyGradient(inv: Float64Array, u: Float64Array, d: Float64Array, g: Float32Array | Float64Array, out: Float32Array | Float64Array,
    w1: Float64Array, w2: Float64Array, w3: Float64Array, n: number): void;
  /**
   * Δ = delta − after (after: the float32 A after its optimizer step, delta: before) or Δ = delta (after null);
   * inv ← Neumann series of the given order (or, exact, the LU inverse of I + A − Δ); A ← A − Δ;
   * U ← inv (I − A) D; u32 (or null) ← U in float32. False only when the exact inverse fails (A is updated,
   * inv and U are not). w1..w4: work buffers of n*n.
   */
  cayleyUpdate(inv: Float64Array, a: Float64Array, u: Float64Array, d: Float64Array, delta: Float32Array | Float64Array,
    after: Float32Array | null, u32: Float32Array | null, order: number, exact: boolean,
    w1: Float64Array, w2: Float64Array, w3: Float64Array, w4: Float64Array, n: number): boolean;
  /** ‖UᵀU − I‖_F of row-major n x n U, through dsyrk; w: a work buffer of n*n. */
  orthogonalityError64(u: Float64Array, n: number, w: Float64Array): number;
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
  /** `resetAfter` (default false): p = x_c + r ⊙ (h·U_c) ("resetAfterProduct"); `saved` is then [T,B,5H] (r, z, p, c, h·U_c). */
  ncgruForward(proj: Float32Array, urz: Float32Array, uc: Float32Array, bmod: Float32Array, h0: Float32Array, ys: Float32Array,
    saved: Float32Array, T: number, B: number, H: number, resetAfter?: boolean): void;
  ncgruBackward(dy: Float32Array, saved: Float32Array, h0: Float32Array, ys: Float32Array, urz: Float32Array, uc: Float32Array,
    dx: Float32Array, dh0: Float32Array, dbmod: Float32Array, T: number, B: number, H: number, resetAfter?: boolean): void;
  /** scoRNN: p = x + h·U, h' = sign(p)·relu(|p| + b); `saved` [T,B,H] keeps p; backward writes dx = dp, dh0, dbmod. */
  scornnForward(proj: Float32Array, u: Float32Array, bmod: Float32Array, h0: Float32Array, ys: Float32Array, saved: Float32Array,
    T: number, B: number, H: number): void;
  scornnBackward(dy: Float32Array, saved: Float32Array, ys: Float32Array, u: Float32Array, dx: Float32Array, dh0: Float32Array,
    dbmod: Float32Array, T: number, B: number, H: number): void;
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
