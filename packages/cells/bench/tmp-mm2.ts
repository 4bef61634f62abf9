import { selectBackend, tf } from "@rnnlab/core";
function med(a: number[]) { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; }
function cpuTime(f: () => void, reps = 3) { f(); const ts: number[] = []; for (let r = 0; r < reps; r++) { const c0 = process.cpuUsage(); f(); const c = process.cpuUsage(c0); ts.push((c.user + c.system) / 1000); } return med(ts); }
(async () => {
  await selectBackend();
  for (const H of [200, 650]) {
    const V = 10000, N = 700;
    const h = tf.randomNormal([N, H]); const dL = tf.randomNormal([N, V]); const W = tf.randomNormal([H, V]);
    const r: Record<string, number> = {};
    r.dWdirect = cpuTime(() => tf.tidy(() => { tf.matMul(h, tf.add(dL, 0), true, false).dataSync(); }));
    r.addOnly = cpuTime(() => tf.tidy(() => { tf.add(dL, 0).dataSync(); }));
    r.dWviaT = cpuTime(() => tf.tidy(() => { tf.transpose(tf.matMul(tf.transpose(tf.add(dL, 0)), h)).dataSync(); }));
    for (const bs of [512, 1024, 2500]) r[`dWblocks${bs}`] = cpuTime(() => tf.tidy(() => { const d = tf.add(dL, 0); const ht = tf.transpose(h); const parts = []; for (let c = 0; c < V; c += bs) parts.push(tf.matMul(ht, tf.slice(d, [0, c], [N, Math.min(bs, V - c)]))); tf.concat(parts, 1).dataSync(); }));
    r.fwd = cpuTime(() => tf.tidy(() => { tf.matMul(h, tf.add(W, 0)).dataSync(); }));
    r.Wadd = cpuTime(() => tf.tidy(() => { tf.add(W, 0).dataSync(); }));
    for (const bs of [512, 1024, 2500]) r[`fwdBlocks${bs}`] = cpuTime(() => tf.tidy(() => { const w = tf.add(W, 0); const parts = []; for (let c = 0; c < V; c += bs) parts.push(tf.matMul(h, tf.slice(w, [0, c], [H, Math.min(bs, V - c)]))); tf.concat(parts, 1).dataSync(); }));
    r.dX = cpuTime(() => tf.tidy(() => { tf.matMul(tf.add(dL, 0), tf.add(W, 0), false, true).dataSync(); }));
    for (const bs of [512, 1024, 2500]) r[`dXBlocks${bs}`] = cpuTime(() => tf.tidy(() => { const w = tf.add(W, 0); const d = tf.add(dL, 0); let acc: tf.Tensor | null = null; for (let c = 0; c < V; c += bs) { const n = Math.min(bs, V - c); const p = tf.matMul(tf.slice(d, [0, c], [N, n]), tf.transpose(tf.slice(w, [0, c], [H, n]))); acc = acc ? tf.add(acc, p) : p; } acc!.dataSync(); }));
    r.transposeDL = cpuTime(() => tf.tidy(() => { tf.transpose(dL).dataSync(); }));
    r.softmax = cpuTime(() => tf.tidy(() => { tf.softmax(dL).dataSync(); }));
    r.max = cpuTime(() => tf.tidy(() => { tf.max(dL, 1).dataSync(); }));
    r.sum0 = cpuTime(() => tf.tidy(() => { tf.sum(dL, 0).dataSync(); }));
    r.onesMatMul = cpuTime(() => tf.tidy(() => { tf.matMul(tf.ones([1, N]), dL).dataSync(); }));
    console.log(H, JSON.stringify(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Math.round(v * 10) / 10]))));
    tf.dispose([h, dL, W]);
  }
})();
