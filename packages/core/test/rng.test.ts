import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "../src";

test("same seed, same numbers; different seed, different numbers", () => {
  const a = new Rng(42), b = new Rng(42), c = new Rng(43);
  const xa = Array.from({ length: 20 }, () => a.nextUint32());
  const xb = Array.from({ length: 20 }, () => b.nextUint32());
  const xc = Array.from({ length: 20 }, () => c.nextUint32());
  assert.deepEqual(xa, xb);
  assert.notDeepEqual(xa, xc);
});

test("state round-trips exactly, including the cached normal", () => {
  const a = new Rng(7);
  a.normal();
  const s = JSON.parse(JSON.stringify(a.state()));
  const b = Rng.fromState(s);
  for (let i = 0; i < 10; i++) assert.equal(a.normal(), b.normal());
  assert.equal(a.uniform(), b.uniform());
});

test("fork gives independent streams without advancing the parent", () => {
  const a = new Rng(1), b = new Rng(1);
  const f = a.fork("dropout");
  assert.equal(a.nextUint32(), b.nextUint32());
  assert.notEqual(f.nextUint32(), new Rng(1).fork("data").nextUint32());
});

test("uniform moments and int range are right", () => {
  const r = new Rng(3);
  let s = 0, s2 = 0;
  const n = 100000;
  for (let i = 0; i < n; i++) { const u = r.uniform(); assert.ok(u >= 0 && u < 1); s += u; s2 += u * u; }
  assert.ok(Math.abs(s / n - 0.5) < 0.01);
  assert.ok(Math.abs(s2 / n - 1 / 3) < 0.01);
  const counts = new Array(7).fill(0);
  for (let i = 0; i < 70000; i++) counts[r.int(7)]++;
  for (const c of counts) assert.ok(Math.abs(c - 10000) < 500);
  let m = 0, v = 0;
  for (let i = 0; i < n; i++) { const z = r.normal(); m += z; v += z * z; }
  assert.ok(Math.abs(m / n) < 0.02 && Math.abs(v / n - 1) < 0.02);
});

test("sampleWithoutReplacement returns k sorted distinct values", () => {
  const r = new Rng(5);
  const s = r.sampleWithoutReplacement(100, 10);
  assert.equal(new Set(s).size, 10);
  assert.deepEqual(s, [...s].sort((a, b) => a - b));
  assert.throws(() => r.sampleWithoutReplacement(3, 4), /k <= n/);
});
