/**
 * The native BLAS products (src/blas-kernels.ts, addon @rnnlab/native-blas) against the cpu backend:
 * every transpose combination, batched and broadcast operands, the fused bias/activation kernel, odd
 * shapes, the gradients of an LSTM step; no leaks; and the selection rules (RNNLAB_MATMUL, a missing
 * addon) in child processes, since the backend is chosen once per process.
 * The addon-dependent tests skip when the addon did not build here (the fallback tests still run).
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { Rng, selectBackend, tf } from "../src";
import { hostInverse64, hostMatMul64, loadNativeBlas, nativeMatmulActive, setNativeMatmul } from "../src/blas-kernels";

let ready = false;
let why = "";
before(async () => {
  const choice = await selectBackend();
  const native = loadNativeBlas();
  ready = choice.backend === "wasm" && choice.matmul === "blas";
  why = choice.backend !== "wasm" ? `backend is ${choice.backend}` : native.error ?? `RNNLAB_MATMUL=${choice.matmulRequested}`;
});

type Case = () => tf.Tensor | tf.Tensor[];
type Out = { shape: number[]; values: number[] }[];

async function onBoth(f: Case): Promise<{ blas: Out; cpu: Out }> {
  const run = () =>
    tf.tidy(() => {
      const r = f();
      return (Array.isArray(r) ? r : [r]).map((t) => ({ shape: t.shape.slice(), values: Array.from(t.dataSync()) }));
    });
  const blas = run();
  await tf.setBackend("cpu");
  try {
    return { blas, cpu: run() };
  } finally {
    await tf.setBackend("wasm");
  }
}

async function assertSame(label: string, f: Case, tol = 1e-5): Promise<number> {
  const { blas, cpu } = await onBoth(f);
  assert.equal(blas.length, cpu.length, `${label}: number of outputs`);
  let worst = 0;
  for (let k = 0; k < blas.length; k++) {
    assert.deepEqual(blas[k].shape, cpu[k].shape, `${label}[${k}]: shape`);
    for (let i = 0; i < cpu[k].values.length; i++) {
      const d = Math.abs(blas[k].values[i] - cpu[k].values[i]) / Math.max(1, Math.abs(cpu[k].values[i]));
      worst = Number.isNaN(d) ? Infinity : Math.max(worst, d);
    }
  }
  assert.ok(worst <= tol, `${label}: max relative difference ${worst} > ${tol}`);
  return worst;
}

function randomArray(rng: Rng, n: number): number[] {
  return Array.from({ length: n }, () => rng.normal());
}

function numDataIds(): number {
  return (tf.engine().backend as unknown as { numDataIds(): number }).numDataIds();
}

test("native matmul is active on wasm when the addon loads", (t) => {
  if (!ready) return t.skip(why);
  assert.equal(nativeMatmulActive(), true);
});

test("every transpose combination, rank 2 and 3, equal cpu", async (t) => {
  if (!ready) return t.skip(why);
  const rng = new Rng(1);
  const [m, k, n] = [13, 17, 11];
  const a = randomArray(rng, 3 * m * k);
  const b = randomArray(rng, 3 * k * n);
  for (const ta of [false, true]) {
    for (const tb of [false, true]) {
      const aShape = ta ? [k, m] : [m, k];
      const bShape = tb ? [n, k] : [k, n];
      await assertSame(`rank2 tA=${ta} tB=${tb}`, () =>
        tf.matMul(tf.tensor(a.slice(0, m * k), aShape), tf.tensor(b.slice(0, k * n), bShape), ta, tb),
      );
      await assertSame(`rank3 tA=${ta} tB=${tb}`, () => tf.matMul(tf.tensor(a, [3, ...aShape]), tf.tensor(b, [3, ...bShape]), ta, tb));
      // One side a single matrix, broadcast over the other's batch (rank 3 x rank 2 and batch 1).
      await assertSame(`broadcast b tA=${ta} tB=${tb}`, () =>
        tf.matMul(tf.tensor(a, [3, ...aShape]), tf.tensor(b.slice(0, k * n), [1, ...bShape]), ta, tb),
      );
      await assertSame(`broadcast a tA=${ta} tB=${tb}`, () =>
        tf.matMul(tf.tensor(a.slice(0, m * k), aShape), tf.tensor(b, [3, ...bShape]), ta, tb),
      );
    }
  }
  // Rank 4 with equal batches, and a batch shape that broadcasts in both operands (falls back).
  await assertSame("rank4", () => tf.matMul(tf.tensor(a.slice(0, 2 * m * k), [2, 1, m, k]), tf.tensor(b.slice(0, 2 * k * n), [2, 1, k, n])));
  await assertSame("two-sided broadcast (fallback)", () =>
    tf.matMul(tf.tensor(a.slice(0, 2 * m * k), [2, 1, m, k]), tf.tensor(b.slice(0, 3 * k * n), [1, 3, k, n])),
  );
});

test("odd shapes: 1xN, Nx1, K=1, empty, and K=0 gives zeros", async (t) => {
  if (!ready) return t.skip(why);
  const rng = new Rng(2);
  const cases: [number, number, number][] = [[1, 9, 7], [9, 7, 1], [6, 1, 5], [1, 1, 1], [0, 4, 3], [4, 3, 0], [4, 0, 3]];
  for (const [m, k, n] of cases) {
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        const a = randomArray(rng, m * k);
        const b = randomArray(rng, k * n);
        await assertSame(`m=${m} k=${k} n=${n} tA=${ta} tB=${tb}`, () =>
          tf.matMul(tf.tensor(a, ta ? [k, m] : [m, k]), tf.tensor(b, tb ? [n, k] : [k, n]), ta, tb),
        );
      }
    }
  }
  const z = tf.matMul(tf.zeros([3, 0]), tf.zeros([0, 2]));
  assert.deepEqual(Array.from(z.dataSync()), [0, 0, 0, 0, 0, 0]);
  z.dispose();
});

test("fused matMul: bias (length n and 1) and every activation the addon fuses, with gradients", async (t) => {
  if (!ready) return t.skip(why);
  const rng = new Rng(3);
  const [m, k, n] = [8, 6, 5];
  const a = randomArray(rng, 2 * m * k);
  const b = randomArray(rng, 2 * k * n);
  const bias = randomArray(rng, n);
  for (const activation of ["linear", "relu", "relu6", "sigmoid", "elu", "leakyrelu", "prelu"] as const) {
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        await assertSame(`fused ${activation} tA=${ta} tB=${tb}`, () =>
          tf.fused.matMul({
            a: tf.tensor(a, ta ? [2, k, m] : [2, m, k]),
            b: tf.tensor(b, tb ? [2, n, k] : [2, k, n]),
            transposeA: ta,
            transposeB: tb,
            bias: tf.tensor(bias, [n]),
            activation,
            preluActivationWeights: activation === "prelu" ? tf.fill([n], 0.1) : undefined,
            leakyreluAlpha: 0.3,
          }),
        );
      }
    }
  }
  await assertSame("fused scalar-like bias", () =>
    tf.fused.matMul({ a: tf.tensor(a.slice(0, m * k), [m, k]), b: tf.tensor(b.slice(0, k * n), [k, n]), bias: tf.tensor([0.5], [1]) }),
  );
  await assertSame("fused gradients", () => {
    const x = tf.tensor(a.slice(0, m * k), [m, k]);
    const w = tf.tensor(b.slice(0, k * n), [k, n]);
    const c = tf.tensor(bias, [n]);
    const g = tf.grads((x: tf.Tensor, w: tf.Tensor, c: tf.Tensor) =>
      tf.sum(tf.fused.matMul({ a: x as tf.Tensor2D, b: w as tf.Tensor2D, bias: c, activation: "relu" })),
    );
    return g([x, w, c]);
  });
});

test("gradients of an LSTM step (fused gate product, both backward products) equal cpu", async (t) => {
  if (!ready) return t.skip(why);
  const rng = new Rng(4);
  const [batch, input, hidden] = [7, 10, 12];
  const x = randomArray(rng, batch * input);
  const h = randomArray(rng, batch * hidden);
  const c = randomArray(rng, batch * hidden);
  const w = randomArray(rng, input * 4 * hidden).map((v) => v * 0.2);
  const u = randomArray(rng, hidden * 4 * hidden).map((v) => v * 0.2);
  const worst = await assertSame("lstm step grads", () => {
    const step = (W: tf.Tensor, U: tf.Tensor, X: tf.Tensor, H: tf.Tensor) => {
      const z = tf.add(tf.matMul(X as tf.Tensor2D, W as tf.Tensor2D), tf.matMul(H as tf.Tensor2D, U as tf.Tensor2D)); // [batch, 4*hidden]
      const [i, f, g, o] = tf.split(z, 4, 1);
      const cNew = tf.add(tf.mul(tf.sigmoid(f), tf.tensor(c, [batch, hidden])), tf.mul(tf.sigmoid(i), tf.tanh(g)));
      return tf.sum(tf.mul(tf.sigmoid(o), tf.tanh(cNew)));
    };
    return tf.grads(step)([tf.tensor(w, [input, 4 * hidden]), tf.tensor(u, [hidden, 4 * hidden]), tf.tensor(x, [batch, input]), tf.tensor(h, [batch, hidden])]);
  });
  assert.ok(worst < 1e-5);
});

test("no tensor or heap leaks over repeated products and gradients", (t) => {
  if (!ready) return t.skip(why);
  const a = tf.randomNormal([20, 30]);
  const b = tf.randomNormal([30, 40]);
  const run = () =>
    tf.tidy(() => {
      tf.matMul(a, b, false, false);
      tf.matMul(b, a, true, true);
      tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D)))([a, b]);
      tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias: tf.ones([40]), activation: "relu" });
    });
  run();
  const tensors = tf.memory().numTensors;
  const ids = numDataIds();
  for (let i = 0; i < 20; i++) run();
  assert.equal(tf.memory().numTensors, tensors);
  assert.equal(numDataIds(), ids);
  a.dispose();
  b.dispose();
});

test("switching the native products off and on in one process gives the same numbers", (t) => {
  if (!ready) return t.skip(why);
  const rng = new Rng(5);
  const a = tf.tensor(randomArray(rng, 40 * 30), [40, 30]);
  const b = tf.tensor(randomArray(rng, 40 * 20), [40, 20]);
  const viaBlas = tf.matMul(a, b, true, false);
  setNativeMatmul(false);
  assert.equal(nativeMatmulActive(), false);
  const viaWasm = tf.matMul(a, b, true, false);
  setNativeMatmul(true);
  assert.equal(nativeMatmulActive(), true);
  const d = tf.max(tf.abs(tf.sub(viaBlas, viaWasm))).dataSync()[0];
  assert.ok(d < 1e-4, `blas vs wasm differ by ${d}`);
  tf.dispose([a, b, viaBlas, viaWasm]);
});

/** Select the backend in a child process with the given environment; return its describeBackend line. */
function selectIn(env: Record<string, string>): { status: number | null; out: string } {
  const script =
    'const c = require("@rnnlab/core"); c.selectBackend("wasm").then((x) => { console.log(JSON.stringify({ label: x.label, matmul: x.matmul, skipped: x.skipped, blas: x.blas })); }, (e) => { console.error(e.message); process.exit(3); });';
  const r = spawnSync(process.execPath, ["--import", "tsx", "-e", script], {
    cwd: path.join(__dirname, ".."),
    env: { ...process.env, ...env },
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test("RNNLAB_MATMUL=wasm uses wasm's own products", () => {
  const r = selectIn({ RNNLAB_MATMUL: "wasm" });
  assert.equal(r.status, 0, r.out);
  const c = JSON.parse(r.out.trim().split("\n")[0]);
  assert.equal(c.label, "wasm");
  assert.equal(c.matmul, "wasm");
});

test("a load failure falls back to wasm with the reason; forcing blas then is an error naming the fix", () => {
  const auto = selectIn({ RNNLAB_MATMUL: "auto", RNNLAB_NATIVE_BLAS_SIMULATE_FAILURE: "1" });
  assert.equal(auto.status, 0, auto.out);
  const c = JSON.parse(auto.out.trim().split("\n")[0]);
  assert.equal(c.label, "wasm");
  assert.ok(c.skipped.some((s: { reason: string }) => /^native matmul unavailable: load failed: simulated/.test(s.reason)), auto.out);
  const forced = selectIn({ RNNLAB_MATMUL: "blas", RNNLAB_NATIVE_BLAS_SIMULATE_FAILURE: "1" });
  assert.equal(forced.status, 3, forced.out);
  assert.match(forced.out, /RNNLAB_MATMUL=blas, but native matmul unavailable/);
  assert.match(forced.out, /npm rebuild @rnnlab\/native-blas/);
});

test("bad RNNLAB_MATMUL and RNNLAB_BLAS_THREADS values are errors naming the variable", () => {
  const bad = selectIn({ RNNLAB_MATMUL: "gpu" });
  assert.equal(bad.status, 3);
  assert.match(bad.out, /RNNLAB_MATMUL="gpu" is not a matmul choice/);
  const threads = selectIn({ RNNLAB_BLAS_THREADS: "0" });
  assert.equal(threads.status, 3);
  assert.match(threads.out, /RNNLAB_BLAS_THREADS="0" must be a whole number/);
});

test("RNNLAB_BLAS_THREADS sets the BLAS thread count", (t) => {
  if (!ready) return t.skip(why);
  const r = selectIn({ RNNLAB_BLAS_THREADS: "2" });
  assert.equal(r.status, 0, r.out);
  const c = JSON.parse(r.out.trim().split("\n")[0]);
  assert.equal(c.label, "wasm+blas");
  assert.equal(c.blas.threads, 2);
});

test("float64 host products and LU inverse (the orthogonal recurrences' linear algebra) are exact to rounding", (t) => {
  if (!ready) return t.skip(why);
  const rng = new Rng(6);
  const naive = (a: Float64Array, b: Float64Array, m: number, n: number, k: number, ta: boolean, tb: boolean) => {
    const c = new Float64Array(m * n);
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
        c[i * n + j] = s;
      }
    return c;
  };
  for (const [m, n, k] of [[7, 5, 9], [1, 6, 4], [6, 1, 1], [3, 3, 0]] as const)
    for (const ta of [false, true])
      for (const tb of [false, true]) {
        const a = Float64Array.from({ length: m * k }, () => rng.normal());
        const b = Float64Array.from({ length: k * n }, () => rng.normal());
        const got = hostMatMul64(a, b, m, n, k, ta, tb)!;
        const want = naive(a, b, m, n, k, ta, tb);
        for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) < 1e-12, `dgemm ${m}x${n}x${k} tA=${ta} tB=${tb}`);
      }
  const n = 30;
  const a = Float64Array.from({ length: n * n }, (_, i) => rng.normal() + (i % (n + 1) === 0 ? n : 0));
  const inv = hostInverse64(a, n)!;
  const eye = hostMatMul64(a, inv, n, n, n)!;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) assert.ok(Math.abs(eye[i * n + j] - (i === j ? 1 : 0)) < 1e-12);
  assert.equal(hostInverse64(new Float64Array(4), 2), undefined, "a singular matrix has no inverse");
});
