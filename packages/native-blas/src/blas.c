/*
 * rnnlab native BLAS: single-precision matrix products for TF.js's wasm backend, through Node-API only
 * (ABI-stable across Node versions). The wasm backend keeps every tensor in one WebAssembly.Memory; the
 * kernels in @rnnlab/core pass Float32Array views of that heap, so the products read and write it in
 * place (no copies). Linked against OpenBLAS (Linux) or Accelerate (macOS).
 *
 *   gemmBias(a, b, c, batch, m, n, k, transA, transB, strideA, strideB, bias, activation, alpha)
 *       c[i] = op(a[i]) . op(b[i]) (+ a row bias of length n or 1, or null) for i < batch, row-major, op =
 *       transpose when the flag is set; strideA / strideB are the element distances between batch items
 *       (0 = broadcast one matrix); then an activation in place: 0 linear, 1 relu, 2 relu6, 3 sigmoid,
 *       4 elu, 5 leakyrelu (alpha).
 *   dgemm(a, b, c, m, n, k, transA, transB)
 *       c = op(a) . op(b) in float64 (Float64Arrays, row-major): the host-side linear algebra of the
 *       orthogonal (Cayley) recurrences, which is kept in double precision.
 *   inverse64(a, n) -> boolean
 *       a ← a⁻¹ in place (row-major float64 n x n) by LAPACK's LU (dgetrf + dgetri, OpenBLAS's own LAPACK);
 *       false when the matrix is singular. Not on macOS builds (the caller falls back).
 *   cayleyGradient(inv, u, d, g, out, w1, w2, w3, n)
 *   cayleyUpdate(inv, a, u, d, delta, after, u32, order, exact, w1, w2, w3, w4, n) -> boolean
 *   orthogonalityError64(u, n, w) -> number
 *       The per-step float64 algebra of a Cayley-orthogonal recurrence U = (I + A)⁻¹(I − A)D (cells'
 *       OrthogonalRecurrence) in one call each, on caller-owned work buffers: dL/dA from dL/dU, the
 *       Neumann (or exact) update of (I + A)⁻¹ with A and U, and ‖UᵀU − I‖_F (dsyrk). Same dgemm calls
 *       as the JavaScript path, so the same numbers to the bit (see the functions below).
 *   lstmForward(proj, whh, h0, c0, mask, hs, ys, gates, cells, tanhCells, T, B, H)
 *   lstmBackward(dy, gates, cells, tanhCells, c0, whh, mask, dz, dh0, dc0, T, B, H)
 *       The LSTM recurrence of cells' fast path (packages/cells/src/fast/lstm-sequence.ts) as one call per
 *       window: per step one sgemm plus the gate arithmetic in C, instead of ~12 TF.js ops forward and ~25
 *       backward. Same conventions: `proj` [T,B,4H] and `whh` [H,4H] are already column-scaled (the i/f
 *       temperatures, the g block by 2), every gate is σ of its scaled pre-activation and g = 2σ − 1;
 *       `gates` saves those σ values, `cells` c_t, `tanhCells` tanh(c_t), `hs` the state h_t. An optional
 *       `mask` [T,B] (length 0 = none) freezes a row's state where it is 0 (past the sequence's length) and
 *       zeroes its output `ys` (pass a length-0 `ys` without a mask: the outputs are then `hs`). Backward
 *       takes dy [T+2,B,H] (the T outputs' gradients, then the final h's and c's) and writes dz [T,B,4H]
 *       with respect to the scaled pre-activations, dh0 and dc0.
 *   gruForward(proj, u, brec, h0, ys, saved, T, B, H)
 *   gruBackward(dy, saved, h0, ys, u, dx, drec, dh0, T, B, H)
 *       The GRU recurrence (PyTorch's form, packages/cells/src/gru.ts): rec = h·U + b_rec [B,3H];
 *       r = σ(x_r + rec_r), z = σ(x_z + rec_z), n = tanh(x_n + r ⊙ rec_n), h' = n + z ⊙ (h − n).
 *       `saved` [T,B,4H] keeps r, z, n, rec_n per step. Backward takes dy [T,B,H] (the final state's
 *       gradient already added to dy[T-1]) and writes dx [T,B,3H] (w.r.t. the projected input),
 *       drec [T,B,3H] (w.r.t. rec, for dU = Σ h_{t-1}ᵀ drec and db_rec) and dh0.
 *   ncgruForward(proj, urz, uc, bmod, h0, ys, saved, T, B, H[, resetAfter])
 *   ncgruBackward(dy, saved, h0, ys, urz, uc, dx, dh0, dbmod, T, B, H[, resetAfter])
 *       NC-GRU (packages/cells/src/ncgru.ts): [r z] = σ(x_rz + h·U_rz), p = x_c + (r ⊙ h)·U_c,
 *       c = sign(p)·relu(|p| + b), h' = c + z ⊙ (h − c). `saved` [T,B,4H] keeps r, z, p, c. Backward
 *       writes dx [T,B,3H] (= the pre-activation gradients [dr̂ dẑ dp], which also give dU_rz and dU_c
 *       as products outside), dh0 and dbmod [H] (summed over time and batch). With `resetAfter` true
 *       (the "resetAfterProduct" candidate) p = x_c + r ⊙ (h·U_c) instead, and `saved` is [T,B,5H]:
 *       r, z, p, c, q = h·U_c (dU_c = Σ h_{t-1}ᵀ (r ⊙ dp) outside).
 *   scornnForward(proj, u, bmod, h0, ys, saved, T, B, H)
 *   scornnBackward(dy, saved, ys, u, dx, dh0, dbmod, T, B, H)
 *       scoRNN (packages/cells/src/scornn.ts): p = x + h·U, h' = sign(p)·relu(|p| + b) (modReLU).
 *       `saved` [T,B,H] keeps p. Backward takes dy [T,B,H] (the final state's gradient already added to
 *       dy[T-1]) and writes dx [T,B,H] (= dp, which also gives dU = Σ h_{t-1}ᵀ dp outside), dh0 and dbmod.
 *   atnForward(a, gain, bias, wsum, wsq, count, out, newSum, newSq, xhat, stats, B, F, P, epsilon)
 *   atnBackward(dout, dnewSum, dnewSq, a, xhat, stats, gain, wsum, count, da, dgain, dbias, dwsum, dwsq, B, F, P)
 *       Assorted-time normalisation of one step (packages/cells/src/norms.ts assortedTimeNorm): the mean and
 *       mean square over a_t and the valid part of a window of the last P = k−1 steps' per-example sums,
 *       n = F·(min(count, P) + 1); var = relu(m2 − μ²); out = (a − μ)/√(var + ε) ⊙ gain + bias; the window
 *       shifts by one with a_t's sums appended. `stats` [B,3] saves μ, 1/√(var+ε) and whether var > 0.
 *       Backward gives the gradients w.r.t. a, gain, bias and both windows (through the means).
 *   normLstmForward(...), normLstmBackward(...)
 *       The LSTM with layer norm (P = 0) or assorted-time norm (window k = P + 1) at its three sites, as one
 *       call per window (see the functions below for the argument lists): a = N_R(h U) + N_X(x W) + b,
 *       gates σ/tanh, c = f c + i g, h = o tanh(N_C(c)). The windows' final sums carry no gradient (they
 *       only feed the next, detached, BPTT window); their initial sums do receive one.
 *   layerNormForward(a, gain, bias, out, xhat, inv, rows, cols, epsilon)
 *   layerNormBackward(dy, xhat, inv, gain, da, dgain, dbias, rows, cols)
 *       Layer norm over each row (biased variance, as tf.moments): x̂ = (a − μ)·inv, inv = 1/√(σ² + ε),
 *       out = x̂ ⊙ gain + bias; backward da = inv ⊙ (g − mean(g) − x̂ ⊙ mean(g ⊙ x̂)), g = dy ⊙ gain,
 *       dgain = Σ_rows dy ⊙ x̂, dbias = Σ_rows dy. One call instead of ~8 TF.js ops forward, ~25 backward.
 *   setThreads(n), info() -> { library, config, corename, threads }
 */
#include <node_api.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __APPLE__
#include <Accelerate/Accelerate.h>
#define RNNLAB_BLAS_LIBRARY "Accelerate"
#else
#include <cblas.h>
#define RNNLAB_BLAS_LIBRARY "OpenBLAS"
#endif

#define CHECK(call)                                                                      \
  do {                                                                                   \
    if ((call) != napi_ok) {                                                             \
      napi_throw_error(env, "RNNLAB_BLAS", "Node-API call failed: " #call);              \
      return NULL;                                                                       \
    }                                                                                    \
  } while (0)

#define FAIL(msg)                                 \
  do {                                            \
    napi_throw_type_error(env, "RNNLAB_BLAS", msg); \
    return NULL;                                  \
  } while (0)

/* A Float32Array argument: its data pointer (byteOffset included) and its length in elements. */
static bool float32_arg(napi_env env, napi_value v, float** data, size_t* length) {
  bool is_typed = false;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed) return false;
  napi_typedarray_type type;
  void* ptr = NULL;
  if (napi_get_typedarray_info(env, v, &type, length, &ptr, NULL, NULL) != napi_ok) return false;
  if (type != napi_float32_array) return false;
  *data = (float*)ptr;
  return true;
}

static bool int_arg(napi_env env, napi_value v, int64_t* out) {
  return napi_get_value_int64(env, v, out) == napi_ok;
}

static bool bool_arg(napi_env env, napi_value v, bool* out) {
  return napi_get_value_bool(env, v, out) == napi_ok;
}

static inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

static void norm_row(const float* a, int64_t F, const float* ws, const float* wq, int64_t P, float count, const float* gain,
                     const float* bias, double eps, float* xhat, float* out, float* stats, double* S, double* Q);
static void norm_row_backward(const float* dout, const float* a, const float* xhat, const float* stats, int64_t F, int64_t P,
                              float count, const float* gain, const float* dnewS, const float* dnewQ, float* da, float* dgain,
                              float* dbias, float* dws, float* dwq);
static void shift_window(const float* w, int64_t P, double now, float* out);


static void activate(float* c, size_t count, int activation, float alpha) {
  switch (activation) {
    case 1: for (size_t i = 0; i < count; i++) c[i] = c[i] > 0 ? c[i] : 0; break;
    case 2: for (size_t i = 0; i < count; i++) c[i] = c[i] < 0 ? 0 : (c[i] > 6 ? 6 : c[i]); break;
    case 3: for (size_t i = 0; i < count; i++) c[i] = sigmoidf(c[i]); break;
    case 4: for (size_t i = 0; i < count; i++) c[i] = c[i] >= 0 ? c[i] : expm1f(c[i]); break;
    case 5: for (size_t i = 0; i < count; i++) c[i] = c[i] >= 0 ? c[i] : alpha * c[i]; break;
    default: break;
  }
}

static napi_value gemm_bias(napi_env env, napi_callback_info info) {
  size_t argc = 14;
  napi_value argv[14];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 14u) FAIL("gemmBias: expected (a, b, c, batch, m, n, k, transA, transB, strideA, strideB, bias, activation, alpha)");
  float *a, *b, *c, *bias = NULL;
  size_t la, lb, lc, lbias = 0;
  if (!float32_arg(env, argv[0], &a, &la)) FAIL("gemm: a must be a Float32Array");
  if (!float32_arg(env, argv[1], &b, &lb)) FAIL("gemm: b must be a Float32Array");
  if (!float32_arg(env, argv[2], &c, &lc)) FAIL("gemm: c must be a Float32Array");
  int64_t batch, m, n, k, sa, sb, activation = 0;
  bool ta, tb;
  if (!int_arg(env, argv[3], &batch) || !int_arg(env, argv[4], &m) || !int_arg(env, argv[5], &n) ||
      !int_arg(env, argv[6], &k) || !bool_arg(env, argv[7], &ta) || !bool_arg(env, argv[8], &tb) ||
      !int_arg(env, argv[9], &sa) || !int_arg(env, argv[10], &sb))
    FAIL("gemm: batch, m, n, k, strideA, strideB must be numbers and transA, transB booleans");
  double alpha = 0;
  {
    napi_valuetype t;
    CHECK(napi_typeof(env, argv[11], &t));
    if (t != napi_null && t != napi_undefined && !float32_arg(env, argv[11], &bias, &lbias))
      FAIL("gemmBias: bias must be a Float32Array or null");
    if (!int_arg(env, argv[12], &activation) || napi_get_value_double(env, argv[13], &alpha) != napi_ok)
      FAIL("gemmBias: activation and alpha must be numbers");
    if (activation < 0 || activation > 5) FAIL("gemmBias: activation code must be 0..5");
    if (bias && lbias != (size_t)n && lbias != 1) FAIL("gemmBias: bias length must be n or 1");
  }
  if (batch < 0 || m < 0 || n < 0 || k < 0 || sa < 0 || sb < 0) FAIL("gemm: negative size or stride");
  if (batch == 0 || m == 0 || n == 0) return NULL;
  /* Every index the product touches must lie inside the views: the heap is shared with wasm. */
  if ((size_t)((batch - 1) * sa + m * k) > la) FAIL("gemm: a is too short for batch x m x k");
  if ((size_t)((batch - 1) * sb + k * n) > lb) FAIL("gemm: b is too short for batch x k x n");
  if ((size_t)(batch * m * n) > lc) FAIL("gemm: c is too short for batch x m x n");
  const int lda = ta ? (int)m : (int)k, ldb = tb ? (int)k : (int)n, ldc = (int)n;
  const size_t mn = (size_t)(m * n);
  for (int64_t i = 0; i < batch; i++) {
    float* ci = c + i * mn;
    float beta = 0.0f;
    if (bias) {
      if (lbias == 1) for (size_t j = 0; j < mn; j++) ci[j] = bias[0];
      else for (int64_t r = 0; r < m; r++) memcpy(ci + r * n, bias, (size_t)n * sizeof(float));
      beta = 1.0f;
    }
    if (k == 0) {
      if (!bias) memset(ci, 0, mn * sizeof(float));
      continue;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n,
                (int)k, 1.0f, a + i * sa, lda > 0 ? lda : 1, b + i * sb, ldb > 0 ? ldb : 1, beta, ci, ldc);
  }
  if (activation) activate(c, (size_t)batch * mn, (int)activation, (float)alpha);
  return NULL;
}


static bool float64_arg(napi_env env, napi_value v, double** data, size_t* length) {
  bool is_typed = false;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed) return false;
  napi_typedarray_type type;
  void* ptr = NULL;
  if (napi_get_typedarray_info(env, v, &type, length, &ptr, NULL, NULL) != napi_ok) return false;
  if (type != napi_float64_array) return false;
  *data = (double*)ptr;
  return true;
}

static napi_value dgemm(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 8) FAIL("dgemm: expected (a, b, c, m, n, k, transA, transB)");
  double *a, *b, *c;
  size_t la, lb, lc;
  if (!float64_arg(env, argv[0], &a, &la) || !float64_arg(env, argv[1], &b, &lb) || !float64_arg(env, argv[2], &c, &lc))
    FAIL("dgemm: a, b and c must be Float64Arrays");
  int64_t m, n, k;
  bool ta, tb;
  if (!int_arg(env, argv[3], &m) || !int_arg(env, argv[4], &n) || !int_arg(env, argv[5], &k) ||
      !bool_arg(env, argv[6], &ta) || !bool_arg(env, argv[7], &tb))
    FAIL("dgemm: m, n, k must be numbers and transA, transB booleans");
  if (m < 0 || n < 0 || k < 0) FAIL("dgemm: negative size");
  if ((size_t)(m * k) > la || (size_t)(k * n) > lb || (size_t)(m * n) > lc) FAIL("dgemm: an operand is too short for m, n, k");
  if (m == 0 || n == 0) return NULL;
  if (k == 0) {
    memset(c, 0, (size_t)(m * n) * sizeof(double));
    return NULL;
  }
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, 1.0,
              a, ta ? (int)m : (int)k, b, tb ? (int)k : (int)n, 0.0, c, (int)n);
  return NULL;
}
#ifndef __APPLE__
/* LAPACK (Fortran ABI), exported by OpenBLAS. Row-major A is column-major Aᵀ, and inv(Aᵀ) = inv(A)ᵀ. */
extern void dgetrf_(const int* m, const int* n, double* a, const int* lda, int* ipiv, int* info);
extern void dgetri_(const int* n, double* a, const int* lda, const int* ipiv, double* work, const int* lwork, int* info);
#endif

static napi_value inverse64(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  double* a;
  size_t la;
  int64_t n64;
  if (argc < 2 || !float64_arg(env, argv[0], &a, &la) || !int_arg(env, argv[1], &n64) || n64 < 1)
    FAIL("inverse64: expected (a: Float64Array, n >= 1)");
  if ((size_t)(n64 * n64) > la) FAIL("inverse64: a is too short for n x n");
  napi_value result;
#ifdef __APPLE__
  CHECK(napi_get_boolean(env, false, &result));
  return result;
#else
  const int n = (int)n64;
  int status = 0;
  int* ipiv = (int*)malloc(sizeof(int) * (size_t)n);
  const int lwork = 64 * n;
  double* work = (double*)malloc(sizeof(double) * (size_t)lwork);
  if (!ipiv || !work) {
    free(ipiv);
    free(work);
    FAIL("inverse64: out of memory");
  }
  dgetrf_(&n, &n, a, &n, ipiv, &status);
  if (status == 0) dgetri_(&n, a, &n, ipiv, work, &lwork, &status);
  free(ipiv);
  free(work);
  CHECK(napi_get_boolean(env, status == 0, &result));
  return result;
#endif
}

/* ---- Cayley-orthogonal recurrence (NC-GRU, scoRNN): the per-step float64 algebra in one call each ----
 * packages/cells/src/orthogonal.ts; every array is row-major n x n unless noted, and every product goes
 * through cblas_dgemm exactly as the JavaScript path does (same operands, beta = 0), so the results are the
 * same to the bit. Work buffers are the caller's (preallocated Float64Arrays of at least n*n), nothing is
 * allocated per call except LAPACK's workspace on an exact recompute. */

/* A Float32Array or Float64Array argument. */
static bool real_arg(napi_env env, napi_value v, void** data, size_t* length, bool* is64) {
  bool is_typed = false;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed) return false;
  napi_typedarray_type type;
  void* ptr = NULL;
  if (napi_get_typedarray_info(env, v, &type, length, &ptr, NULL, NULL) != napi_ok) return false;
  if (type != napi_float64_array && type != napi_float32_array) return false;
  *data = ptr;
  *is64 = type == napi_float64_array;
  return true;
}

static void dgemm_nn(int n, const double* a, bool ta, const double* b, bool tb, double* c) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, n, n, n, 1.0, a, n, b, n, 0.0, c, n);
}

/* a <- a^-1 in place by LAPACK's LU (the same calls as inverse64); false when singular or unsupported. */
static bool lu_inverse(double* a, int n) {
#ifdef __APPLE__
  (void)a;
  (void)n;
  return false;
#else
  int status = 0;
  int* ipiv = (int*)malloc(sizeof(int) * (size_t)n);
  const int lwork = 64 * n;
  double* work = (double*)malloc(sizeof(double) * (size_t)lwork);
  if (!ipiv || !work) {
    free(ipiv);
    free(work);
    return false;
  }
  dgetrf_(&n, &n, a, &n, ipiv, &status);
  if (status == 0) dgetri_(&n, a, &n, ipiv, work, &lwork, &status);
  free(ipiv);
  free(work);
  return status == 0;
#endif
}

/*
 * cayleyGradient(inv, u, d, g, out, w1, w2, w3, n)
 *   dL/dA = Vᵀ − V,  V = invᵀ G (D + Uᵀ): G = g (Float32Array or Float64Array, n*n), D = diag(d) (d: n),
 *   out (Float32Array or Float64Array, n*n) receives the skew gradient, rounded once to its type.
 */
static napi_value cayley_gradient(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 9) FAIL("cayleyGradient: expected (inv, u, d, g, out, w1, w2, w3, n)");
  double *inv, *u, *d, *w1, *w2, *w3;
  size_t linv, lu, ld, lw1, lw2, lw3, lg, lout;
  void *g, *out;
  bool g64, out64;
  int64_t n64;
  if (!float64_arg(env, argv[0], &inv, &linv) || !float64_arg(env, argv[1], &u, &lu) || !float64_arg(env, argv[2], &d, &ld) ||
      !float64_arg(env, argv[5], &w1, &lw1) || !float64_arg(env, argv[6], &w2, &lw2) || !float64_arg(env, argv[7], &w3, &lw3))
    FAIL("cayleyGradient: inv, u, d and the work buffers w1, w2, w3 must be Float64Arrays");
  if (!real_arg(env, argv[3], &g, &lg, &g64) || !real_arg(env, argv[4], &out, &lout, &out64))
    FAIL("cayleyGradient: g and out must be Float32Arrays or Float64Arrays");
  if (!int_arg(env, argv[8], &n64) || n64 < 1 || n64 > 46340) FAIL("cayleyGradient: n must be an integer in [1, 46340]");
  const size_t nn = (size_t)(n64 * n64);
  if (linv < nn || lu < nn || ld < (size_t)n64 || lg < nn || lout < nn || lw1 < nn || lw2 < nn || lw3 < nn)
    FAIL("cayleyGradient: an array is too short for n (matrices n*n, d n)");
  const int n = (int)n64;
  /* w1 = G (float64) */
  if (g64) memcpy(w1, g, nn * sizeof(double));
  else for (size_t i = 0; i < nn; i++) w1[i] = (double)((const float*)g)[i];
  dgemm_nn(n, inv, true, w1, false, w2); /* w2 = invᵀ G */
  /* w1 = D + Uᵀ (blocked transpose) */
  const int blk = 32;
  for (int ib = 0; ib < n; ib += blk)
    for (int jb = 0; jb < n; jb += blk)
      for (int i = ib; i < ib + blk && i < n; i++)
        for (int j = jb; j < jb + blk && j < n; j++) w1[(size_t)i * n + j] = u[(size_t)j * n + i];
  for (int i = 0; i < n; i++) w1[(size_t)i * n + i] += d[i];
  dgemm_nn(n, w2, false, w1, false, w3); /* V */
  for (int ib = 0; ib < n; ib += blk)
    for (int jb = 0; jb < n; jb += blk)
      for (int i = ib; i < ib + blk && i < n; i++)
        for (int j = jb; j < jb + blk && j < n; j++) {
          const double v = w3[(size_t)j * n + i] - w3[(size_t)i * n + j];
          if (out64) ((double*)out)[(size_t)i * n + j] = v;
          else ((float*)out)[(size_t)i * n + j] = (float)v;
        }
  return NULL;
}

/*
 * cayleyUpdate(inv, a, u, d, delta, after, u32, order, exact, w1, w2, w3, w4, n) -> boolean
 *   One step of the recurrence after A's optimizer step: Δ = delta − after when `after` is a Float32Array (the
 *   float32 A before and after the step), else Δ = delta (Float32Array or Float64Array); then
 *     exact false: X = inv Δ, inv ← (I + X + … + X^order) inv (powers X·X, X²·X as in the JavaScript path)
 *     A ← A − Δ (in place)
 *     exact true:  inv ← (I + A)⁻¹ by LU (the Neumann series is skipped: the exact inverse replaces it)
 *     U ← inv (I − A) D, and u32 (Float32Array or null) ← U rounded to float32.
 *   Returns false only when the exact inverse fails (I + A singular, or no LAPACK): A is then updated and
 *   inv and U are not; the caller falls back to its own inverse.
 */
static napi_value cayley_update(napi_env env, napi_callback_info info) {
  size_t argc = 14;
  napi_value argv[14];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 14) FAIL("cayleyUpdate: expected (inv, a, u, d, delta, after, u32, order, exact, w1, w2, w3, w4, n)");
  double *inv, *a, *u, *d, *w1, *w2, *w3, *w4;
  size_t linv, la, lu, ld, lw1, lw2, lw3, lw4, ldelta, lafter = 0, lu32 = 0;
  if (!float64_arg(env, argv[0], &inv, &linv) || !float64_arg(env, argv[1], &a, &la) || !float64_arg(env, argv[2], &u, &lu) ||
      !float64_arg(env, argv[3], &d, &ld) || !float64_arg(env, argv[9], &w1, &lw1) || !float64_arg(env, argv[10], &w2, &lw2) ||
      !float64_arg(env, argv[11], &w3, &lw3) || !float64_arg(env, argv[12], &w4, &lw4))
    FAIL("cayleyUpdate: inv, a, u, d and the work buffers w1..w4 must be Float64Arrays");
  void* delta;
  bool delta64;
  if (!real_arg(env, argv[4], &delta, &ldelta, &delta64)) FAIL("cayleyUpdate: delta must be a Float32Array or Float64Array");
  float *after = NULL, *u32 = NULL;
  napi_valuetype t;
  CHECK(napi_typeof(env, argv[5], &t));
  if (t != napi_null && t != napi_undefined) {
    if (delta64 || !float32_arg(env, argv[5], &after, &lafter))
      FAIL("cayleyUpdate: after must be null or a Float32Array (then delta is the Float32Array before the step)");
  }
  CHECK(napi_typeof(env, argv[6], &t));
  if (t != napi_null && t != napi_undefined && !float32_arg(env, argv[6], &u32, &lu32))
    FAIL("cayleyUpdate: u32 must be a Float32Array or null");
  int64_t order, n64;
  bool exact;
  if (!int_arg(env, argv[7], &order) || order < 1 || order > 3) FAIL("cayleyUpdate: order must be 1, 2 or 3");
  if (!bool_arg(env, argv[8], &exact)) FAIL("cayleyUpdate: exact must be a boolean");
  if (!int_arg(env, argv[13], &n64) || n64 < 1 || n64 > 46340) FAIL("cayleyUpdate: n must be an integer in [1, 46340]");
  const size_t nn = (size_t)(n64 * n64);
  if (linv < nn || la < nn || lu < nn || ld < (size_t)n64 || ldelta < nn || (after && lafter < nn) || (u32 && lu32 < nn) ||
      lw1 < nn || lw2 < nn || lw3 < nn || lw4 < nn)
    FAIL("cayleyUpdate: an array is too short for n (matrices n*n, d n)");
  const int n = (int)n64;
  /* w1 = Δ */
  if (after) for (size_t i = 0; i < nn; i++) w1[i] = (double)((const float*)delta)[i] - (double)after[i];
  else if (delta64) memcpy(w1, delta, nn * sizeof(double));
  else for (size_t i = 0; i < nn; i++) w1[i] = (double)((const float*)delta)[i];
  bool ok = true;
  if (!exact) {
    dgemm_nn(n, inv, false, w1, false, w2); /* X */
    for (size_t i = 0; i < nn; i++) a[i] -= w1[i];
    memcpy(w3, w2, nn * sizeof(double)); /* series = I + X */
    for (int i = 0; i < n; i++) w3[(size_t)i * n + i] += 1.0;
    double* power = w2;
    double* next = w1;
    for (int64_t k = 2; k <= order; k++) {
      dgemm_nn(n, power, false, w2, false, next); /* X^k = X^(k-1) X */
      for (size_t i = 0; i < nn; i++) w3[i] += next[i];
      power = next;
      next = next == w1 ? w4 : w1;
    }
    dgemm_nn(n, w3, false, inv, false, next); /* (I + X + …) inv */
    memcpy(inv, next, nn * sizeof(double));
  } else {
    for (size_t i = 0; i < nn; i++) a[i] -= w1[i];
    memcpy(w2, a, nn * sizeof(double));
    for (int i = 0; i < n; i++) w2[(size_t)i * n + i] += 1.0;
    ok = lu_inverse(w2, n);
    if (ok) memcpy(inv, w2, nn * sizeof(double));
  }
  if (ok) {
    for (size_t i = 0; i < nn; i++) w1[i] = -a[i]; /* I − A */
    for (int i = 0; i < n; i++) w1[(size_t)i * n + i] += 1.0;
    dgemm_nn(n, inv, false, w1, false, u);
    for (int i = 0; i < n; i++) {
      double* row = u + (size_t)i * n;
      for (int j = 0; j < n; j++)
        if (d[j] < 0) row[j] = -row[j]; /* · D scales columns */
    }
    if (u32) for (size_t i = 0; i < nn; i++) u32[i] = (float)u[i];
  }
  napi_value result;
  CHECK(napi_get_boolean(env, ok, &result));
  return result;
}

/*
 * orthogonalityError64(u, n, w) -> ‖UᵀU − I‖_F, with UᵀU from dsyrk (its upper triangle only: half a dgemm).
 */
static napi_value orthogonality_error64(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  double *u, *w;
  size_t lu, lw;
  int64_t n64;
  if (argc < 3 || !float64_arg(env, argv[0], &u, &lu) || !float64_arg(env, argv[2], &w, &lw))
    FAIL("orthogonalityError64: expected (u: Float64Array, n, w: Float64Array)");
  if (!int_arg(env, argv[1], &n64) || n64 < 1 || n64 > 46340) FAIL("orthogonalityError64: n must be an integer in [1, 46340]");
  const size_t nn = (size_t)(n64 * n64);
  if (lu < nn || lw < nn) FAIL("orthogonalityError64: u and w must hold n*n values");
  const int n = (int)n64;
  cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, n, n, 1.0, u, n, 0.0, w, n);
  double diag = 0.0, off = 0.0;
  for (int i = 0; i < n; i++) {
    const double* row = w + (size_t)i * n;
    diag += (row[i] - 1.0) * (row[i] - 1.0);
    for (int j = i + 1; j < n; j++) off += row[j] * row[j];
  }
  napi_value result;
  CHECK(napi_create_double(env, sqrt(diag + 2.0 * off), &result));
  return result;
}

typedef struct {
  float* p;
  size_t n;
} fview;

/* Reads `count` Float32Array arguments starting at argv[first]. */
static bool float32_args(napi_env env, napi_value* argv, size_t first, size_t count, fview* out) {
  for (size_t i = 0; i < count; i++)
    if (!float32_arg(env, argv[first + i], &out[i].p, &out[i].n)) return false;
  return true;
}

static bool sizes3(napi_env env, napi_value* argv, size_t first, int64_t* T, int64_t* B, int64_t* H) {
  return int_arg(env, argv[first], T) && int_arg(env, argv[first + 1], B) && int_arg(env, argv[first + 2], H) && *T >= 1 && *B >= 1 && *H >= 1;
}

static napi_value lstm_forward(napi_env env, napi_callback_info info) {
  size_t argc = 13;
  napi_value argv[13];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  fview v[10];
  int64_t T, B, H;
  if (argc < 13 || !float32_args(env, argv, 0, 10, v) || !sizes3(env, argv, 10, &T, &B, &H))
    FAIL("lstmForward: expected (proj, whh, h0, c0, mask, hs, ys, gates, cells, tanhCells: Float32Array, T, B, H >= 1)");
  const size_t bh = (size_t)(B * H), g4 = 4 * bh;
  const bool masked = v[4].n > 0, separate = v[6].n > 0;
  const size_t need[10] = {(size_t)T * g4, (size_t)(H * 4 * H), bh, bh, masked ? (size_t)(T * B) : 0, (size_t)T * bh,
                           separate ? (size_t)T * bh : 0, (size_t)T * g4, (size_t)T * bh, (size_t)T * bh};
  for (int i = 0; i < 10; i++)
    if (v[i].n < need[i]) FAIL("lstmForward: an array is too short for T, B, H");
  if (masked && !separate) FAIL("lstmForward: with a mask, ys must be its own array (hs keeps the frozen states)");
  const float *proj = v[0].p, *whh = v[1].p, *h0 = v[2].p, *c0 = v[3].p, *mask = v[4].p;
  float *hs = v[5].p, *ys = separate ? v[6].p : v[5].p, *gates = v[7].p, *cells = v[8].p, *tcs = v[9].p;
  const int64_t h4 = 4 * H;
  for (int64_t t = 0; t < T; t++) {
    float* a = gates + t * g4;
    const float* hp = t == 0 ? h0 : hs + (t - 1) * bh;
    const float* cp = t == 0 ? c0 : cells + (t - 1) * bh;
    memcpy(a, proj + t * g4, g4 * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)h4, (int)H, 1.0f, hp, (int)H, whh, (int)h4, 1.0f, a, (int)h4);
    for (size_t k = 0; k < g4; k++) a[k] = sigmoidf(a[k]);
    float *c = cells + t * bh, *tc = tcs + t * bh, *h = hs + t * bh, *y = ys + t * bh;
    for (int64_t b = 0; b < B; b++) {
      const float* ab = a + b * h4;
      const bool on = !masked || mask[t * B + b] != 0.0f;
      for (int64_t j = 0; j < H; j++) {
        const size_t k = (size_t)(b * H + j);
        if (!on) { /* past this sequence's length: the state stays, the output is 0 */
          c[k] = cp[k];
          tc[k] = 0.0f;
          h[k] = hp[k];
          y[k] = 0.0f;
          continue;
        }
        const float i = ab[j], f = ab[H + j], g = 2.0f * ab[2 * H + j] - 1.0f, o = ab[3 * H + j];
        c[k] = f * cp[k] + i * g;
        tc[k] = tanhf(c[k]);
        h[k] = o * tc[k];
        if (separate) y[k] = h[k];
      }
    }
  }
  return NULL;
}

static napi_value lstm_backward(napi_env env, napi_callback_info info) {
  size_t argc = 13;
  napi_value argv[13];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  fview v[10];
  int64_t T, B, H;
  if (argc < 13 || !float32_args(env, argv, 0, 10, v) || !sizes3(env, argv, 10, &T, &B, &H))
    FAIL("lstmBackward: expected (dy, gates, cells, tanhCells, c0, whh, mask, dz, dh0, dc0: Float32Array, T, B, H >= 1)");
  const size_t bh = (size_t)(B * H), g4 = 4 * bh;
  const bool masked = v[6].n > 0;
  const size_t need[10] = {(size_t)(T + 2) * bh, (size_t)T * g4, (size_t)T * bh, (size_t)T * bh, bh, (size_t)(H * 4 * H),
                           masked ? (size_t)(T * B) : 0, (size_t)T * g4, bh, bh};
  for (int i = 0; i < 10; i++)
    if (v[i].n < need[i]) FAIL("lstmBackward: an array is too short for T, B, H");
  const float *dy = v[0].p, *gates = v[1].p, *cells = v[2].p, *tcs = v[3].p, *c0 = v[4].p, *whh = v[5].p, *mask = v[6].p;
  float *dz = v[7].p, *dh = v[8].p, *dc = v[9].p;
  const int64_t h4 = 4 * H;
  float* carry = masked ? (float*)calloc(bh, sizeof(float)) : NULL;
  if (masked && !carry) FAIL("lstmBackward: out of memory");
  /* dy holds the T outputs' gradients, then the final h's, then the final c's. dh: the state gradient
     carried into h_t from step t+1; dc: into c_t. */
  memcpy(dh, dy + T * bh, bh * sizeof(float));
  memcpy(dc, dy + (T + 1) * bh, bh * sizeof(float));
  for (int64_t t = T - 1; t >= 0; t--) {
    const float *a = gates + t * g4, *tc = tcs + t * bh, *cp = t == 0 ? c0 : cells + (t - 1) * bh, *dyt = dy + t * bh;
    float* dzt = dz + t * g4;
    for (int64_t b = 0; b < B; b++) {
      const float* ab = a + b * h4;
      float* db = dzt + b * h4;
      const bool on = !masked || mask[t * B + b] != 0.0f;
      for (int64_t j = 0; j < H; j++) {
        const size_t k = (size_t)(b * H + j);
        if (!on) { /* frozen: h_t = h_{t-1}, c_t = c_{t-1}, y_t = 0 */
          db[j] = db[H + j] = db[2 * H + j] = db[3 * H + j] = 0.0f;
          carry[k] = dh[k];
          continue;
        }
        if (masked) carry[k] = 0.0f;
        const float i = ab[j], f = ab[H + j], sg = ab[2 * H + j], o = ab[3 * H + j];
        const float g = 2.0f * sg - 1.0f;
        const float dht = dyt[k] + dh[k];
        const float dOut = dht * tc[k];
        const float dcTotal = dc[k] + dht * o * (1.0f - tc[k] * tc[k]);
        db[j] = dcTotal * g * i * (1.0f - i);
        db[H + j] = dcTotal * cp[k] * f * (1.0f - f);
        db[2 * H + j] = dcTotal * i * 2.0f * sg * (1.0f - sg);
        db[3 * H + j] = dOut * o * (1.0f - o);
        dc[k] = dcTotal * f;
      }
    }
    /* dh_{t-1} = dz_t · W_hhᵀ (+ the frozen rows' carried gradient) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)H, (int)h4, 1.0f, dzt, (int)h4, whh, (int)h4, 0.0f, dh, (int)H);
    if (masked)
      for (size_t k = 0; k < bh; k++) dh[k] += carry[k];
  }
  free(carry);
  return NULL;
}

static napi_value gru_forward(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  fview v[6];
  int64_t T, B, H;
  if (argc < 9 || !float32_args(env, argv, 0, 6, v) || !sizes3(env, argv, 6, &T, &B, &H))
    FAIL("gruForward: expected (proj, u, brec, h0, ys, saved: Float32Array, T, B, H >= 1)");
  const size_t bh = (size_t)(B * H), h3 = (size_t)(3 * H), h4 = (size_t)(4 * H);
  const size_t need[6] = {(size_t)T * B * h3, (size_t)H * h3, h3, bh, (size_t)T * bh, (size_t)T * B * h4};
  for (int i = 0; i < 6; i++)
    if (v[i].n < need[i]) FAIL("gruForward: an array is too short for T, B, H");
  const float *proj = v[0].p, *u = v[1].p, *brec = v[2].p, *h0 = v[3].p;
  float *ys = v[4].p, *saved = v[5].p;
  float* rec = (float*)malloc(sizeof(float) * (size_t)B * h3);
  if (!rec) FAIL("gruForward: out of memory");
  for (int64_t t = 0; t < T; t++) {
    const float* hp = t == 0 ? h0 : ys + (t - 1) * bh;
    for (int64_t b = 0; b < B; b++) memcpy(rec + b * h3, brec, h3 * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)h3, (int)H, 1.0f, hp, (int)H, u, (int)h3, 1.0f, rec, (int)h3);
    const float* x = proj + t * B * h3;
    float* s = saved + t * B * h4;
    float* h = ys + t * bh;
    /* Row by row, in contiguous loops over restrict-qualified blocks, so the compiler vectorises them. */
    for (int64_t b = 0; b < B; b++) {
      const float* restrict xb = x + b * h3;
      const float* restrict rb = rec + b * h3;
      const float* restrict hpb = hp + b * H;
      float* restrict sb = s + b * h4;
      float* restrict hb = h + b * H;
      for (int64_t j = 0; j < 2 * H; j++) sb[j] = sigmoidf(xb[j] + rb[j]); /* r, z */
      for (int64_t j = 0; j < H; j++) {
        const float n = tanhf(xb[2 * H + j] + sb[j] * rb[2 * H + j]);
        sb[2 * H + j] = n;
        sb[3 * H + j] = rb[2 * H + j];
        hb[j] = n + sb[H + j] * (hpb[j] - n);
      }
    }
  }
  free(rec);
  return NULL;
}

static napi_value gru_backward(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  fview v[8];
  int64_t T, B, H;
  if (argc < 11 || !float32_args(env, argv, 0, 8, v) || !sizes3(env, argv, 8, &T, &B, &H))
    FAIL("gruBackward: expected (dy, saved, h0, ys, u, dx, drec, dh0: Float32Array, T, B, H >= 1)");
  const size_t bh = (size_t)(B * H), h3 = (size_t)(3 * H), h4 = (size_t)(4 * H);
  const size_t need[8] = {(size_t)T * bh, (size_t)T * B * h4, bh, (size_t)T * bh, (size_t)H * h3, (size_t)T * B * h3, (size_t)T * B * h3, bh};
  for (int i = 0; i < 8; i++)
    if (v[i].n < need[i]) FAIL("gruBackward: an array is too short for T, B, H");
  const float *dy = v[0].p, *saved = v[1].p, *h0 = v[2].p, *ys = v[3].p, *u = v[4].p;
  float *dx = v[5].p, *drec = v[6].p, *dh = v[7].p;
  memset(dh, 0, bh * sizeof(float)); /* dh: the gradient carried into h_t from step t+1 */
  for (int64_t t = T - 1; t >= 0; t--) {
    const float *s = saved + t * B * h4, *hp = t == 0 ? h0 : ys + (t - 1) * bh, *dyt = dy + t * bh;
    float *dxt = dx + t * B * h3, *drt = drec + t * B * h3;
    for (int64_t b = 0; b < B; b++)
      for (int64_t j = 0; j < H; j++) {
        const size_t k = (size_t)(b * H + j);
        const float* sb = s + b * h4;
        const float r = sb[j], z = sb[H + j], n = sb[2 * H + j], recn = sb[3 * H + j];
        const float dht = dyt[k] + dh[k];
        const float dnPre = dht * (1.0f - z) * (1.0f - n * n);
        const float dzPre = dht * (hp[k] - n) * z * (1.0f - z);
        const float drPre = dnPre * recn * r * (1.0f - r);
        float* dxb = dxt + b * h3;
        float* drb = drt + b * h3;
        dxb[j] = drPre;
        dxb[H + j] = dzPre;
        dxb[2 * H + j] = dnPre;
        drb[j] = drPre;
        drb[H + j] = dzPre;
        drb[2 * H + j] = dnPre * r;
        dh[k] = dht * z; /* the direct path; the recurrent product is added below */
      }
    /* dh_{t-1} = dht ⊙ z + drec_t · Uᵀ: [B,3H] x [H,3H]ᵀ */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)H, (int)h3, 1.0f, drt, (int)h3, u, (int)h3, 1.0f, dh, (int)H);
  }
  return NULL;
}

static inline float signf(float x) { return (float)((x > 0) - (x < 0)); }

/* An optional trailing boolean: absent or undefined = false. */
static bool optional_bool_arg(napi_env env, napi_value* argv, size_t argc, size_t index, bool* out) {
  *out = false;
  if (argc <= index) return true;
  napi_valuetype type;
  if (napi_typeof(env, argv[index], &type) != napi_ok) return false;
  if (type == napi_undefined) return true;
  return bool_arg(env, argv[index], out);
}

static napi_value ncgru_forward(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  fview v[7];
  int64_t T, B, H;
  bool after = false;
  if (argc < 10 || !float32_args(env, argv, 0, 7, v) || !sizes3(env, argv, 7, &T, &B, &H) || !optional_bool_arg(env, argv, argc, 10, &after))
    FAIL("ncgruForward: expected (proj, urz, uc, bmod, h0, ys, saved: Float32Array, T, B, H >= 1[, resetAfter: boolean])");
  const size_t bh = (size_t)(B * H), h2 = (size_t)(2 * H), h3 = (size_t)(3 * H), hs = (size_t)((after ? 5 : 4) * H);
  const size_t need[7] = {(size_t)T * B * h3, (size_t)H * h2, (size_t)(H * H), (size_t)H, bh, (size_t)T * bh, (size_t)T * B * hs};
  for (int i = 0; i < 7; i++)
    if (v[i].n < need[i]) FAIL("ncgruForward: an array is too short for T, B, H (saved is [T,B,4H], or [T,B,5H] with resetAfter)");
  const float *proj = v[0].p, *urz = v[1].p, *uc = v[2].p, *bmod = v[3].p, *h0 = v[4].p;
  float *ys = v[5].p, *saved = v[6].p;
  float* rz = (float*)malloc(sizeof(float) * (size_t)B * h2);
  float* rh = (float*)malloc(sizeof(float) * bh);
  float* pc = (float*)malloc(sizeof(float) * bh);
  if (!rz || !rh || !pc) {
    free(rz); free(rh); free(pc);
    FAIL("ncgruForward: out of memory");
  }
  for (int64_t t = 0; t < T; t++) {
    const float* hp = t == 0 ? h0 : ys + (t - 1) * bh;
    const float* x = proj + t * B * h3;
    float* s = saved + t * B * hs;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)h2, (int)H, 1.0f, hp, (int)H, urz, (int)h2, 0.0f, rz, (int)h2);
    /* resetAfter: q = h·U_c does not need r */
    if (after) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)H, (int)H, 1.0f, hp, (int)H, uc, (int)H, 0.0f, pc, (int)H);
    for (int64_t b = 0; b < B; b++)
      for (int64_t j = 0; j < H; j++) {
        const float r = sigmoidf(x[b * h3 + j] + rz[b * h2 + j]);
        s[b * hs + j] = r;
        s[b * hs + H + j] = sigmoidf(x[b * h3 + H + j] + rz[b * h2 + H + j]);
        if (!after) rh[b * H + j] = r * hp[b * H + j];
      }
    /* (r ⊙ h)·U_c */
    if (!after) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)H, (int)H, 1.0f, rh, (int)H, uc, (int)H, 0.0f, pc, (int)H);
    float* h = ys + t * bh;
    for (int64_t b = 0; b < B; b++)
      for (int64_t j = 0; j < H; j++) {
        float* sb = s + b * hs;
        const float q = pc[b * H + j];
        const float p = x[b * h3 + 2 * H + j] + (after ? sb[j] * q : q);
        const float m = fabsf(p) + bmod[j];
        const float c = m > 0 ? signf(p) * m : 0.0f;
        const float z = sb[H + j];
        sb[2 * H + j] = p;
        sb[3 * H + j] = c;
        if (after) sb[4 * H + j] = q;
        h[b * H + j] = c + z * (hp[b * H + j] - c);
      }
  }
  free(rz); free(rh); free(pc);
  return NULL;
}

static napi_value ncgru_backward(napi_env env, napi_callback_info info) {
  size_t argc = 13;
  napi_value argv[13];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  fview v[9];
  int64_t T, B, H;
  bool after = false;
  if (argc < 12 || !float32_args(env, argv, 0, 9, v) || !sizes3(env, argv, 9, &T, &B, &H) || !optional_bool_arg(env, argv, argc, 12, &after))
    FAIL("ncgruBackward: expected (dy, saved, h0, ys, urz, uc, dx, dh0, dbmod: Float32Array, T, B, H >= 1[, resetAfter: boolean])");
  const size_t bh = (size_t)(B * H), h2 = (size_t)(2 * H), h3 = (size_t)(3 * H), hs = (size_t)((after ? 5 : 4) * H);
  const size_t need[9] = {(size_t)T * bh, (size_t)T * B * hs, bh, (size_t)T * bh, (size_t)H * h2, (size_t)(H * H), (size_t)T * B * h3, bh, (size_t)H};
  for (int i = 0; i < 9; i++)
    if (v[i].n < need[i]) FAIL("ncgruBackward: an array is too short for T, B, H (saved is [T,B,4H], or [T,B,5H] with resetAfter)");
  const float *dy = v[0].p, *saved = v[1].p, *h0 = v[2].p, *ys = v[3].p, *urz = v[4].p, *uc = v[5].p;
  float *dx = v[6].p, *dh = v[7].p, *dbmod = v[8].p;
  float* drh = (float*)malloc(sizeof(float) * bh);
  float* dp = (float*)malloc(sizeof(float) * bh);
  float* drz = (float*)malloc(sizeof(float) * (size_t)B * h2);
  if (!drh || !dp || !drz) {
    free(drh); free(dp); free(drz);
    FAIL("ncgruBackward: out of memory");
  }
  memset(dh, 0, bh * sizeof(float));
  memset(dbmod, 0, (size_t)H * sizeof(float));
  for (int64_t t = T - 1; t >= 0; t--) {
    const float *s = saved + t * B * hs, *hp = t == 0 ? h0 : ys + (t - 1) * bh, *dyt = dy + t * bh;
    float* dxt = dx + t * B * h3;
    /* candidate and update gate */
    for (int64_t b = 0; b < B; b++)
      for (int64_t j = 0; j < H; j++) {
        const size_t k = (size_t)(b * H + j);
        const float* sb = s + b * hs;
        const float z = sb[H + j], p = sb[2 * H + j], c = sb[3 * H + j];
        const float dht = dyt[k] + dh[k];
        const float dc = dht * (1.0f - z);
        const float active = c != 0.0f ? 1.0f : 0.0f; /* relu'(|p| + b): c ≠ 0 exactly when |p| + b > 0 and p ≠ 0 */
        const float sp = signf(p);
        dp[k] = dc * active * sp * sp;
        dbmod[j] += dc * active * sp;
        dxt[b * h3 + 2 * H + j] = dp[k];
        dxt[b * h3 + H + j] = dht * (hp[k] - c) * z * (1.0f - z);
        dh[k] = dht * z;
      }
    if (after) {
      /* p = x_c + r ⊙ q, q = h·U_c: dr = dp ⊙ q, dq = dp ⊙ r, dh_{t-1} += dq · U_cᵀ */
      for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < H; j++) {
          const size_t k = (size_t)(b * H + j);
          const float r = s[b * hs + j], q = s[b * hs + 4 * H + j];
          const float drPre = dp[k] * q * r * (1.0f - r);
          dxt[b * h3 + j] = drPre;
          drh[k] = dp[k] * r;
          drz[b * h2 + j] = drPre;
          drz[b * h2 + H + j] = dxt[b * h3 + H + j];
        }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)H, (int)H, 1.0f, drh, (int)H, uc, (int)H, 1.0f, dh, (int)H);
    } else {
      /* d(r ⊙ h) = dp · U_cᵀ */
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)H, (int)H, 1.0f, dp, (int)H, uc, (int)H, 0.0f, drh, (int)H);
      for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < H; j++) {
          const size_t k = (size_t)(b * H + j);
          const float r = s[b * hs + j];
          const float drPre = drh[k] * hp[k] * r * (1.0f - r);
          dxt[b * h3 + j] = drPre;
          dh[k] += drh[k] * r;
          drz[b * h2 + j] = drPre;
          drz[b * h2 + H + j] = dxt[b * h3 + H + j];
        }
    }
    /* dh_{t-1} += [dr̂ dẑ] · U_rzᵀ */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)H, (int)h2, 1.0f, drz, (int)h2, urz, (int)h2, 1.0f, dh, (int)H);
  }
  free(drh); free(dp); free(drz);
  return NULL;
}

/* scoRNN: p = x + h·U (x already projected), h' = sign(p)·relu(|p| + b); `saved` keeps p. */
static napi_value scornn_forward(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  fview v[6];
  int64_t T, B, H;
  if (argc < 9 || !float32_args(env, argv, 0, 6, v) || !sizes3(env, argv, 6, &T, &B, &H))
    FAIL("scornnForward: expected (proj, u, bmod, h0, ys, saved: Float32Array, T, B, H >= 1)");
  const size_t bh = (size_t)(B * H);
  const size_t need[6] = {(size_t)T * bh, (size_t)(H * H), (size_t)H, bh, (size_t)T * bh, (size_t)T * bh};
  for (int i = 0; i < 6; i++)
    if (v[i].n < need[i]) FAIL("scornnForward: an array is too short for T, B, H");
  const float *proj = v[0].p, *u = v[1].p, *bmod = v[2].p, *h0 = v[3].p;
  float *ys = v[4].p, *saved = v[5].p;
  for (int64_t t = 0; t < T; t++) {
    const float* hp = t == 0 ? h0 : ys + (t - 1) * bh;
    float* restrict p = saved + t * bh;
    memcpy(p, proj + t * bh, bh * sizeof(float));
    /* p = x + h·U */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)H, (int)H, 1.0f, hp, (int)H, u, (int)H, 1.0f, p, (int)H);
    float* restrict h = ys + t * bh;
    for (int64_t b = 0; b < B; b++)
      for (int64_t j = 0; j < H; j++) {
        const float pv = p[b * H + j];
        const float m = fabsf(pv) + bmod[j];
        h[b * H + j] = m > 0 ? signf(pv) * m : 0.0f;
      }
  }
  return NULL;
}

static napi_value scornn_backward(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  fview v[7];
  int64_t T, B, H;
  if (argc < 10 || !float32_args(env, argv, 0, 7, v) || !sizes3(env, argv, 7, &T, &B, &H))
    FAIL("scornnBackward: expected (dy, saved, ys, u, dx, dh0, dbmod: Float32Array, T, B, H >= 1)");
  const size_t bh = (size_t)(B * H);
  const size_t need[7] = {(size_t)T * bh, (size_t)T * bh, (size_t)T * bh, (size_t)(H * H), (size_t)T * bh, bh, (size_t)H};
  for (int i = 0; i < 7; i++)
    if (v[i].n < need[i]) FAIL("scornnBackward: an array is too short for T, B, H");
  const float *dy = v[0].p, *saved = v[1].p, *ys = v[2].p, *u = v[3].p;
  float *dx = v[4].p, *dh = v[5].p, *dbmod = v[6].p;
  memset(dh, 0, bh * sizeof(float)); /* dh: the gradient carried into h_t from step t+1 */
  memset(dbmod, 0, (size_t)H * sizeof(float));
  for (int64_t t = T - 1; t >= 0; t--) {
    const float *p = saved + t * bh, *h = ys + t * bh, *dyt = dy + t * bh;
    float* dp = dx + t * bh;
    for (int64_t b = 0; b < B; b++)
      for (int64_t j = 0; j < H; j++) {
        const size_t k = (size_t)(b * H + j);
        const float dht = dyt[k] + dh[k];
        const float active = h[k] != 0.0f ? 1.0f : 0.0f; /* h ≠ 0 exactly when |p| + b > 0 and p ≠ 0 */
        const float sp = signf(p[k]);
        dp[k] = dht * active * sp * sp;
        dbmod[j] += dht * active * sp;
      }
    /* dh_{t-1} = dp · Uᵀ */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)H, (int)H, 1.0f, dp, (int)H, u, (int)H, 0.0f, dh, (int)H);
  }
  return NULL;
}

static napi_value atn_forward(napi_env env, napi_callback_info info) {
  size_t argc = 15;
  napi_value argv[15];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  fview v[11];
  int64_t B, F, P;
  double eps;
  if (argc < 15 || !float32_args(env, argv, 0, 11, v) || !sizes3(env, argv, 11, &B, &F, &P) || napi_get_value_double(env, argv[14], &eps) != napi_ok)
    FAIL("atnForward: expected (a, gain, bias, wsum, wsq, count, out, newSum, newSq, xhat, stats: Float32Array, B, F, P >= 1, epsilon)");
  const size_t bf = (size_t)(B * F), bp = (size_t)(B * P);
  const size_t need[11] = {bf, (size_t)F, (size_t)F, bp, bp, (size_t)B, bf, bp, bp, bf, (size_t)(3 * B)};
  for (int i = 0; i < 11; i++)
    if (v[i].n < need[i]) FAIL("atnForward: an array is too short for B, F, P");
  const float *A = v[0].p, *gain = v[1].p, *bias = v[2].p, *wsum = v[3].p, *wsq = v[4].p, *count = v[5].p;
  float *out = v[6].p, *nsum = v[7].p, *nsq = v[8].p, *xhat = v[9].p, *stats = v[10].p;
  for (int64_t b = 0; b < B; b++) {
    double s, q;
    norm_row(A + b * F, F, wsum + b * P, wsq + b * P, P, count[b], gain, bias, eps, xhat + b * F, out + b * F, stats + 3 * b, &s, &q);
    shift_window(wsum + b * P, P, s, nsum + b * P);
    shift_window(wsq + b * P, P, q, nsq + b * P);
  }
  return NULL;
}

static napi_value atn_backward(napi_env env, napi_callback_info info) {
  size_t argc = 17;
  napi_value argv[17];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  fview v[14];
  int64_t B, F, P;
  if (argc < 17 || !float32_args(env, argv, 0, 14, v) || !sizes3(env, argv, 14, &B, &F, &P))
    FAIL("atnBackward: expected (dout, dnewSum, dnewSq, a, xhat, stats, gain, wsum, count, da, dgain, dbias, dwsum, dwsq: Float32Array, B, F, P >= 1)");
  const size_t bf = (size_t)(B * F), bp = (size_t)(B * P);
  const size_t need[14] = {bf, bp, bp, bf, bf, (size_t)(3 * B), (size_t)F, bp, (size_t)B, bf, (size_t)F, (size_t)F, bp, bp};
  for (int i = 0; i < 14; i++)
    if (v[i].n < need[i]) FAIL("atnBackward: an array is too short for B, F, P");
  const float *dout = v[0].p, *dns = v[1].p, *dnq = v[2].p, *A = v[3].p, *xhat = v[4].p, *stats = v[5].p, *gain = v[6].p, *count = v[8].p;
  float *da = v[9].p, *dgain = v[10].p, *dbias = v[11].p, *dws = v[12].p, *dwq = v[13].p;
  memset(dgain, 0, (size_t)F * sizeof(float));
  memset(dbias, 0, (size_t)F * sizeof(float));
  for (int64_t b = 0; b < B; b++)
    norm_row_backward(dout + b * F, A + b * F, xhat + b * F, stats + 3 * b, F, P, count[b], gain, dns + b * P, dnq + b * P, da + b * F,
                      dgain, dbias, dws + b * P, dwq + b * P);
  return NULL;
}

/* One norm site for one row: statistics over a (F values) and the valid part of the window (P sums).
   Writes xhat (F) and out (F) and stats[3] = {mean, inv, positive}; returns the row's S and Q. */
static void norm_row(const float* a, int64_t F, const float* ws, const float* wq, int64_t P, float count, const float* gain,
                     const float* bias, double eps, float* xhat, float* out, float* stats, double* S, double* Q) {
  double s = 0, q = 0;
  for (int64_t j = 0; j < F; j++) {
    s += a[j];
    q += (double)a[j] * a[j];
  }
  const float seen = P > 0 ? fminf(count, (float)P) : 0.0f;
  double wsum = 0, wsq = 0;
  for (int64_t k = 0; k < P; k++)
    if ((float)k >= (float)P - seen) {
      wsum += ws[k];
      wsq += wq[k];
    }
  const double n = ((double)seen + 1.0) * (double)F;
  const double mean = (s + wsum) / n, m2 = (q + wsq) / n;
  double raw = m2 - mean * mean;
  if (P == 0) { /* layer norm: the variance as tf.moments computes it, from the centred values */
    raw = 0;
    for (int64_t j = 0; j < F; j++) raw += (a[j] - mean) * (a[j] - mean);
    raw /= (double)F;
  }
  const double var = raw > 0 ? raw : 0;
  const float inv = (float)(1.0 / sqrt(var + eps));
  stats[0] = (float)mean;
  stats[1] = inv;
  stats[2] = (P == 0 || raw > 0) ? 1.0f : 0.0f;
  for (int64_t j = 0; j < F; j++) {
    xhat[j] = (float)(a[j] - mean) * inv;
    out[j] = xhat[j] * gain[j] + bias[j];
  }
  *S = s;
  *Q = q;
}

/* Backward of norm_row: dout (F) -> da (F, written), dgain/dbias (F, accumulated); the window carries:
   dnewS/dnewQ (P, the gradient w.r.t. the window after this step, i.e. for the next step) in, and
   dws/dwq (P, w.r.t. the window before this step) out. */
static void norm_row_backward(const float* dout, const float* a, const float* xhat, const float* stats, int64_t F, int64_t P,
                              float count, const float* gain, const float* dnewS, const float* dnewQ, float* da, float* dgain,
                              float* dbias, float* dws, float* dwq) {
  const double mean = stats[0], inv = stats[1], positive = stats[2];
  double sg = 0, sgx = 0;
  for (int64_t j = 0; j < F; j++) {
    const double g = (double)dout[j] * gain[j];
    sg += g;
    sgx += g * xhat[j];
    dgain[j] += dout[j] * xhat[j];
    dbias[j] += dout[j];
  }
  const float seen = P > 0 ? fminf(count, (float)P) : 0.0f;
  const double n = ((double)seen + 1.0) * (double)F;
  if (P == 0) { /* layer norm: da = inv (g − mean(g) − x̂ mean(g x̂)) */
    for (int64_t j = 0; j < F; j++) da[j] = (float)(inv * ((double)dout[j] * gain[j] - sg / F - xhat[j] * (sgx / F)));
    return;
  }
  /* sgx above is Σ g x̂ = inv Σ g (a − μ) */
  const double dvar = positive * (-0.5 * inv * inv * sgx);
  const double dmean = -inv * sg - 2.0 * mean * dvar;
  const double dm2 = dvar;
  const double dS = dmean / n + dnewS[P - 1];
  const double dQ = dm2 / n + dnewQ[P - 1];
  for (int64_t j = 0; j < F; j++) da[j] = (float)((double)dout[j] * gain[j] * inv + dS + 2.0 * a[j] * dQ);
  for (int64_t k = 0; k < P; k++) {
    const double valid = (float)k >= (float)P - seen ? 1.0 : 0.0;
    dws[k] = (float)(valid * dmean / n + (k >= 1 ? dnewS[k - 1] : 0.0));
    dwq[k] = (float)(valid * dm2 / n + (k >= 1 ? dnewQ[k - 1] : 0.0));
  }
}

static void shift_window(const float* w, int64_t P, double now, float* out) {
  for (int64_t k = 0; k + 1 < P; k++) out[k] = w[k + 1];
  if (P > 0) out[P - 1] = (float)now;
}

/* Offsets of the norm parameters packed as [gR bR gX bX b (4H each) gC bC (H each)]. */
#define NL_GR(H) 0
#define NL_BR(H) (4 * (H))
#define NL_GX(H) (8 * (H))
#define NL_BX(H) (12 * (H))
#define NL_B(H) (16 * (H))
#define NL_GC(H) (20 * (H))
#define NL_BC(H) (21 * (H))
#define NL_PARAMS(H) (22 * (H))

/* normLstmForward(proj [T,B,4H] = x W, u [H,4H], params [22H], h0, c0 [B,H], win0 [6,B,P] (RS RQ XS XQ CS CQ; length 0 if P = 0),
   count0 [B] (length 0 if P = 0), hs [T,B,H], gates [T,B,4H] (σ i f, tanh g, σ o), recs [T,B,4H] (h U), xhats [T,B,9H]
   (x̂ of R, X, C), cells [T,B,H], tanhCells [T,B,H], stats [T,B,9], winOut [6,B,P], T, B, H, P, epsilon) */
static napi_value norm_lstm_forward(napi_env env, napi_callback_info info) {
  size_t argc = 20;
  napi_value argv[20];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  fview v[15];
  int64_t T, B, H, P;
  double eps;
  if (argc < 20 || !float32_args(env, argv, 0, 15, v) || !sizes3(env, argv, 15, &T, &B, &H) || !int_arg(env, argv[18], &P) || P < 0 ||
      napi_get_value_double(env, argv[19], &eps) != napi_ok)
    FAIL("normLstmForward: expected (proj, u, params, h0, c0, win0, count0, hs, gates, recs, xhats, cells, tanhCells, stats, winOut: Float32Array, T, B, H, P >= 0, epsilon)");
  const size_t bh = (size_t)(B * H), g4 = 4 * bh, bp = (size_t)(B * P), h4 = (size_t)(4 * H);
  const size_t need[15] = {(size_t)T * g4, (size_t)(H * h4), (size_t)NL_PARAMS(H), bh, bh, 6 * bp, P > 0 ? (size_t)B : 0, (size_t)T * bh,
                           (size_t)T * g4, (size_t)T * g4, (size_t)T * B * 9 * H, (size_t)T * bh, (size_t)T * bh, (size_t)T * B * 9, 6 * bp};
  for (int i = 0; i < 15; i++)
    if (v[i].n < need[i]) FAIL("normLstmForward: an array is too short for T, B, H, P");
  const float *proj = v[0].p, *u = v[1].p, *prm = v[2].p, *h0 = v[3].p, *c0 = v[4].p, *count0 = v[6].p;
  float *hs = v[7].p, *gates = v[8].p, *recs = v[9].p, *xhats = v[10].p, *cells = v[11].p, *tcs = v[12].p, *stats = v[13].p, *winOut = v[14].p;
  float* win = (float*)malloc(sizeof(float) * (6 * bp + 1));
  float* next = (float*)malloc(sizeof(float) * (6 * bp + 1));
  float* tmp = (float*)malloc(sizeof(float) * (9 * (size_t)H));
  if (!win || !next || !tmp) {
    free(win); free(next); free(tmp);
    FAIL("normLstmForward: out of memory");
  }
  if (P > 0) memcpy(win, v[5].p, 6 * bp * sizeof(float));
  for (int64_t t = 0; t < T; t++) {
    const float* hp = t == 0 ? h0 : hs + (t - 1) * bh;
    const float* cp = t == 0 ? c0 : cells + (t - 1) * bh;
    float* rec = recs + t * g4;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)h4, (int)H, 1.0f, hp, (int)H, u, (int)h4, 0.0f, rec, (int)h4);
    for (int64_t b = 0; b < B; b++) {
      const float count = P > 0 ? count0[b] + (float)t : 0.0f;
      const size_t r = (size_t)(t * B + b);
      float* xh = xhats + r * 9 * H;
      float* st = stats + r * 9;
      float *nR = tmp, *nX = tmp + 4 * H, *nC = tmp + 8 * H;
      double S, Q;
      const float* w = win + b * P;
      float* nw = next + b * P;
      norm_row(rec + b * h4, 4 * H, w, w + bp, P, count, prm + NL_GR(H), prm + NL_BR(H), eps, xh, nR, st, &S, &Q);
      shift_window(w, P, S, nw);
      shift_window(w + bp, P, Q, nw + bp);
      norm_row(proj + t * g4 + b * h4, 4 * H, w + 2 * bp, w + 3 * bp, P, count, prm + NL_GX(H), prm + NL_BX(H), eps, xh + 4 * H, nX, st + 3, &S, &Q);
      shift_window(w + 2 * bp, P, S, nw + 2 * bp);
      shift_window(w + 3 * bp, P, Q, nw + 3 * bp);
      float* gt = gates + t * g4 + b * h4;
      const float* bias = prm + NL_B(H);
      for (int64_t j = 0; j < 4 * H; j++) {
        const float pre = nR[j] + nX[j] + bias[j];
        gt[j] = (j >= 2 * H && j < 3 * H) ? tanhf(pre) : sigmoidf(pre);
      }
      float* c = cells + t * bh + b * H;
      for (int64_t j = 0; j < H; j++) c[j] = gt[H + j] * cp[b * H + j] + gt[j] * gt[2 * H + j];
      norm_row(c, H, w + 4 * bp, w + 5 * bp, P, count, prm + NL_GC(H), prm + NL_BC(H), eps, xh + 8 * H, nC, st + 6, &S, &Q);
      shift_window(w + 4 * bp, P, S, nw + 4 * bp);
      shift_window(w + 5 * bp, P, Q, nw + 5 * bp);
      float *tc = tcs + t * bh + b * H, *h = hs + t * bh + b * H;
      for (int64_t j = 0; j < H; j++) {
        tc[j] = tanhf(nC[j]);
        h[j] = gt[3 * H + j] * tc[j];
      }
    }
    float* swap = win;
    win = next;
    next = swap;
  }
  if (P > 0) memcpy(winOut, win, 6 * bp * sizeof(float));
  free(win); free(next); free(tmp);
  return NULL;
}

/* normLstmBackward(dy [T+2,B,H], proj, u, params, c0, count0, gates, recs, xhats, cells, tanhCells, stats,
   dproj [T,B,4H], drec [T,B,4H], dh0, dc0 [B,H], dparams [22H], dwin0 [6,B,P], T, B, H, P) */
static napi_value norm_lstm_backward(napi_env env, napi_callback_info info) {
  size_t argc = 22;
  napi_value argv[22];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  fview v[18];
  int64_t T, B, H, P;
  if (argc < 22 || !float32_args(env, argv, 0, 18, v) || !sizes3(env, argv, 18, &T, &B, &H) || !int_arg(env, argv[21], &P) || P < 0)
    FAIL("normLstmBackward: expected (dy, proj, u, params, c0, count0, gates, recs, xhats, cells, tanhCells, stats, dproj, drec, dh0, dc0, dparams, dwin0: Float32Array, T, B, H, P >= 0)");
  const size_t bh = (size_t)(B * H), g4 = 4 * bh, bp = (size_t)(B * P), h4 = (size_t)(4 * H);
  const size_t need[18] = {(size_t)(T + 2) * bh, (size_t)T * g4, (size_t)(H * h4), (size_t)NL_PARAMS(H), bh, P > 0 ? (size_t)B : 0,
                           (size_t)T * g4, (size_t)T * g4, (size_t)T * B * 9 * H, (size_t)T * bh, (size_t)T * bh, (size_t)T * B * 9,
                           (size_t)T * g4, (size_t)T * g4, bh, bh, (size_t)NL_PARAMS(H), 6 * bp};
  for (int i = 0; i < 18; i++)
    if (v[i].n < need[i]) FAIL("normLstmBackward: an array is too short for T, B, H, P");
  const float *dy = v[0].p, *proj = v[1].p, *u = v[2].p, *prm = v[3].p, *c0 = v[4].p, *count0 = v[5].p, *gates = v[6].p, *recs = v[7].p;
  const float *xhats = v[8].p, *cells = v[9].p, *tcs = v[10].p, *stats = v[11].p;
  float *dproj = v[12].p, *drec = v[13].p, *dh = v[14].p, *dc = v[15].p, *dprm = v[16].p, *dwin0 = v[17].p;
  float* carry = (float*)calloc(6 * bp + 1, sizeof(float));
  float* nextCarry = (float*)calloc(6 * bp + 1, sizeof(float));
  float* tmp = (float*)malloc(sizeof(float) * (6 * (size_t)H));
  if (!carry || !nextCarry || !tmp) {
    free(carry); free(nextCarry); free(tmp);
    FAIL("normLstmBackward: out of memory");
  }
  memset(dprm, 0, (size_t)NL_PARAMS(H) * sizeof(float));
  memcpy(dh, dy + T * bh, bh * sizeof(float));
  memcpy(dc, dy + (T + 1) * bh, bh * sizeof(float));
  for (int64_t t = T - 1; t >= 0; t--) {
    const float* cp = t == 0 ? c0 : cells + (t - 1) * bh;
    for (int64_t b = 0; b < B; b++) {
      const float count = P > 0 ? count0[b] + (float)t : 0.0f;
      const size_t r = (size_t)(t * B + b);
      const float *gt = gates + t * g4 + b * h4, *xh = xhats + r * 9 * H, *st = stats + r * 9;
      const float *tc = tcs + t * bh + b * H, *c = cells + t * bh + b * H, *dyt = dy + t * bh + b * H;
      float *dnC = tmp, *dcn = tmp + H, *dpre = tmp + 2 * H; /* dpre: 4H */
      float *dhb = dh + b * H, *dcb = dc + b * H;
      const float* cr = carry + b * P;
      float* nc = nextCarry + b * P;
      for (int64_t j = 0; j < H; j++) {
        const float dht = dyt[j] + dhb[j];
        const float o = gt[3 * H + j];
        dpre[3 * H + j] = dht * tc[j] * o * (1.0f - o);
        dnC[j] = dht * o * (1.0f - tc[j] * tc[j]);
      }
      norm_row_backward(dnC, c, xh + 8 * H, st + 6, H, P, count, prm + NL_GC(H), cr + 4 * bp, cr + 5 * bp, dcn, dprm + NL_GC(H),
                        dprm + NL_BC(H), nc + 4 * bp, nc + 5 * bp);
      for (int64_t j = 0; j < H; j++) {
        const float i = gt[j], f = gt[H + j], g = gt[2 * H + j];
        const float dcTotal = dcb[j] + dcn[j];
        dpre[j] = dcTotal * g * i * (1.0f - i);
        dpre[H + j] = dcTotal * cp[b * H + j] * f * (1.0f - f);
        dpre[2 * H + j] = dcTotal * i * (1.0f - g * g);
        dcb[j] = dcTotal * f;
      }
      for (int64_t j = 0; j < 4 * H; j++) dprm[NL_B(H) + j] += dpre[j];
      norm_row_backward(dpre, recs + t * g4 + b * h4, xh, st, 4 * H, P, count, prm + NL_GR(H), cr, cr + bp, drec + t * g4 + b * h4,
                        dprm + NL_GR(H), dprm + NL_BR(H), nc, nc + bp);
      norm_row_backward(dpre, proj + t * g4 + b * h4, xh + 4 * H, st + 3, 4 * H, P, count, prm + NL_GX(H), cr + 2 * bp, cr + 3 * bp,
                        dproj + t * g4 + b * h4, dprm + NL_GX(H), dprm + NL_BX(H), nc + 2 * bp, nc + 3 * bp);
    }
    /* dh_{t-1} = drec_t · Uᵀ */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)H, (int)h4, 1.0f, drec + t * g4, (int)h4, u, (int)h4, 0.0f, dh, (int)H);
    float* swap = carry;
    carry = nextCarry;
    nextCarry = swap;
  }
  if (P > 0) memcpy(dwin0, carry, 6 * bp * sizeof(float));
  free(carry); free(nextCarry); free(tmp);
  return NULL;
}

static napi_value layer_norm_forward(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  fview v[6];
  int64_t rows, cols;
  double eps;
  if (argc < 9 || !float32_args(env, argv, 0, 6, v) || !int_arg(env, argv[6], &rows) || !int_arg(env, argv[7], &cols) ||
      napi_get_value_double(env, argv[8], &eps) != napi_ok || rows < 1 || cols < 1)
    FAIL("layerNormForward: expected (a, gain, bias, out, xhat, inv: Float32Array, rows, cols >= 1, epsilon)");
  const size_t n = (size_t)(rows * cols);
  if (v[0].n < n || v[1].n < (size_t)cols || v[2].n < (size_t)cols || v[3].n < n || v[4].n < n || v[5].n < (size_t)rows)
    FAIL("layerNormForward: an array is too short for rows x cols");
  for (int64_t r = 0; r < rows; r++) {
    const float* a = v[0].p + r * cols;
    float *out = v[3].p + r * cols, *xh = v[4].p + r * cols;
    double mean = 0, var = 0;
    for (int64_t j = 0; j < cols; j++) mean += a[j];
    mean /= (double)cols;
    for (int64_t j = 0; j < cols; j++) var += (a[j] - mean) * (a[j] - mean);
    var /= (double)cols;
    const float inv = (float)(1.0 / sqrt(var + eps));
    v[5].p[r] = inv;
    for (int64_t j = 0; j < cols; j++) {
      xh[j] = (float)(a[j] - mean) * inv;
      out[j] = xh[j] * v[1].p[j] + v[2].p[j];
    }
  }
  return NULL;
}

static napi_value layer_norm_backward(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  fview v[7];
  int64_t rows, cols;
  if (argc < 9 || !float32_args(env, argv, 0, 7, v) || !int_arg(env, argv[7], &rows) || !int_arg(env, argv[8], &cols) || rows < 1 || cols < 1)
    FAIL("layerNormBackward: expected (dy, xhat, inv, gain, da, dgain, dbias: Float32Array, rows, cols >= 1)");
  const size_t n = (size_t)(rows * cols);
  if (v[0].n < n || v[1].n < n || v[2].n < (size_t)rows || v[3].n < (size_t)cols || v[4].n < n || v[5].n < (size_t)cols || v[6].n < (size_t)cols)
    FAIL("layerNormBackward: an array is too short for rows x cols");
  const float *gain = v[3].p;
  float *dgain = v[5].p, *dbias = v[6].p;
  memset(dgain, 0, (size_t)cols * sizeof(float));
  memset(dbias, 0, (size_t)cols * sizeof(float));
  for (int64_t r = 0; r < rows; r++) {
    const float *dy = v[0].p + r * cols, *xh = v[1].p + r * cols;
    float* da = v[4].p + r * cols;
    const float inv = v[2].p[r];
    double m1 = 0, m2 = 0;
    for (int64_t j = 0; j < cols; j++) {
      const float g = dy[j] * gain[j];
      m1 += g;
      m2 += g * xh[j];
      dgain[j] += dy[j] * xh[j];
      dbias[j] += dy[j];
    }
    m1 /= (double)cols;
    m2 /= (double)cols;
    for (int64_t j = 0; j < cols; j++) da[j] = inv * (float)(dy[j] * gain[j] - m1 - xh[j] * m2);
  }
  return NULL;
}


static napi_value set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t n;
  if (argc < 1 || !int_arg(env, argv[0], &n) || n < 1) FAIL("setThreads: expected a positive integer");
#ifndef __APPLE__
  openblas_set_num_threads((int)n);
#endif
  return NULL;
}

static napi_value put_string(napi_env env, napi_value obj, const char* key, const char* value) {
  napi_value v;
  CHECK(napi_create_string_utf8(env, value ? value : "", NAPI_AUTO_LENGTH, &v));
  CHECK(napi_set_named_property(env, obj, key, v));
  return obj;
}

static napi_value blas_info(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value obj, threads;
  CHECK(napi_create_object(env, &obj));
  if (!put_string(env, obj, "library", RNNLAB_BLAS_LIBRARY)) return NULL;
#ifdef __APPLE__
  if (!put_string(env, obj, "config", "Accelerate") || !put_string(env, obj, "corename", "")) return NULL;
  CHECK(napi_create_int32(env, 0, &threads));
#else
  if (!put_string(env, obj, "config", openblas_get_config()) ||
      !put_string(env, obj, "corename", openblas_get_corename()))
    return NULL;
  CHECK(napi_create_int32(env, openblas_get_num_threads(), &threads));
#endif
  CHECK(napi_set_named_property(env, obj, "threads", threads));
  return obj;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"gemmBias", NULL, gemm_bias, NULL, NULL, NULL, napi_default, NULL},
      {"dgemm", NULL, dgemm, NULL, NULL, NULL, napi_default, NULL},
      {"inverse64", NULL, inverse64, NULL, NULL, NULL, napi_default, NULL},
      {"cayleyGradient", NULL, cayley_gradient, NULL, NULL, NULL, napi_default, NULL},
      {"cayleyUpdate", NULL, cayley_update, NULL, NULL, NULL, napi_default, NULL},
      {"orthogonalityError64", NULL, orthogonality_error64, NULL, NULL, NULL, napi_default, NULL},
      {"lstmForward", NULL, lstm_forward, NULL, NULL, NULL, napi_default, NULL},
      {"lstmBackward", NULL, lstm_backward, NULL, NULL, NULL, napi_default, NULL},
      {"gruForward", NULL, gru_forward, NULL, NULL, NULL, napi_default, NULL},
      {"layerNormForward", NULL, layer_norm_forward, NULL, NULL, NULL, napi_default, NULL},
      {"atnForward", NULL, atn_forward, NULL, NULL, NULL, napi_default, NULL},
      {"normLstmForward", NULL, norm_lstm_forward, NULL, NULL, NULL, napi_default, NULL},
      {"normLstmBackward", NULL, norm_lstm_backward, NULL, NULL, NULL, napi_default, NULL},
      {"atnBackward", NULL, atn_backward, NULL, NULL, NULL, napi_default, NULL},
      {"ncgruForward", NULL, ncgru_forward, NULL, NULL, NULL, napi_default, NULL},
      {"ncgruBackward", NULL, ncgru_backward, NULL, NULL, NULL, napi_default, NULL},
      {"scornnForward", NULL, scornn_forward, NULL, NULL, NULL, napi_default, NULL},
      {"scornnBackward", NULL, scornn_backward, NULL, NULL, NULL, napi_default, NULL},
      {"layerNormBackward", NULL, layer_norm_backward, NULL, NULL, NULL, napi_default, NULL},
      {"gruBackward", NULL, gru_backward, NULL, NULL, NULL, napi_default, NULL},
      {"setThreads", NULL, set_threads, NULL, NULL, NULL, napi_default, NULL},
      {"info", NULL, blas_info, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
