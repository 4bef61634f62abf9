import { Rng, selectBackend, tf } from "@rnnlab/core";
import { SIZES, createLm, randomBatch, trainStep } from "./lm";
(async () => {
  await selectBackend();
  const size = SIZES[process.argv[2] ?? "small"];
  const rng = new Rng(1);
  const m = createLm(size, rng);
  for (let i = 0; i < 2; i++) { const b = randomBatch(size, rng); trainStep(m, b, { kind: "none" }, 0.1, rng); }
  const b = randomBatch(size, rng);
  const prof = await tf.profile(() => { trainStep(m, b, { kind: "none" }, 0.1, rng); });
  const by = new Map<string, { ms: number; n: number }>();
  for (const k of prof.kernels) { const e = by.get(k.name) ?? { ms: 0, n: 0 }; e.ms += k.kernelTimeMs as number; e.n++; by.set(k.name, e); }
  const tot = [...by.values()].reduce((a, e) => a + e.ms, 0);
  console.log("kernels", prof.kernels.length, "kernel ms", tot.toFixed(0));
  for (const [k, e] of [...by.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25)) console.log(k.padEnd(22), e.ms.toFixed(1).padStart(8), String(e.n).padStart(6));
  const mm = new Map<string, { ms: number; n: number }>();
  for (const k of prof.kernels) if (k.name === "BatchMatMul") { const key = JSON.stringify(k.inputShapes) ; const e = mm.get(key) ?? { ms: 0, n: 0 }; e.ms += k.kernelTimeMs as number; e.n++; mm.set(key, e); }
  for (const [k, e] of [...mm.entries()].sort((a, b) => b[1].ms - a[1].ms)) console.log(k.padEnd(40), e.ms.toFixed(1).padStart(8), String(e.n).padStart(6), (e.ms/e.n).toFixed(2));
  const c0 = process.cpuUsage(); const t0 = performance.now();
  for (let i = 0; i < 3; i++) { const bb = randomBatch(size, rng); trainStep(m, bb, { kind: "none" }, 0.1, rng); }
  const c = process.cpuUsage(c0);
  console.log("wall/step", ((performance.now() - t0) / 3).toFixed(0), "cpu/step", ((c.user + c.system) / 3000).toFixed(0));
})();
