/**
 * The fast-path tests again with wasm's own matrix products (RNNLAB_MATMUL=wasm): without the native
 * BLAS the recurrence runs as TF.js ops (lstm-sequence.ts's own loop), not through the native kernels,
 * and both must hold the same equalities. (Each test file runs in its own process.)
 */
process.env.RNNLAB_MATMUL = "wasm";
// eslint-disable-next-line @typescript-eslint/no-require-imports
require("./fast-lstm.test");
