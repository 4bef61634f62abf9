import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { parseBackendRequest, selectBackend, tf } from "../src";

const root = path.resolve(__dirname, "../../..");

function runWithBackend(value: string) {
  return spawnSync(
    process.execPath,
    ["--import", "tsx", "-e", `require("./packages/core/src").selectBackend().then(c => console.log(JSON.stringify(c)))`],
    { cwd: root, env: { ...process.env, RNNLAB_BACKEND: value }, encoding: "utf8" },
  );
}

test("parseBackendRequest accepts the five names and rejects others with the list", () => {
  for (const v of ["auto", "tensorflow", "webgpu", "wasm", "cpu", "WASM", ""]) assert.ok(parseBackendRequest(v));
  assert.throws(() => parseBackendRequest("gpu"), /not a backend\. Use one of: auto, tensorflow, webgpu, wasm, cpu/);
});

test("auto picks a working backend and says why each skipped one was skipped", async () => {
  const choice = await selectBackend(process.env.RNNLAB_BACKEND ?? "auto");
  assert.equal(tf.getBackend(), choice.backend);
  assert.equal(choice.tfjsVersion, "4.22.0");
  if (choice.backend !== "tensorflow") {
    const names = choice.skipped.map((s) => s.candidate);
    if (choice.requested === "auto") assert.deepEqual(names.slice(0, 2), ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"]);
    for (const s of choice.skipped) assert.ok(s.reason.length > 0);
  }
  const sum = tf.tidy(() => tf.matMul(tf.ones([2, 3]), tf.ones([3, 4])).sum());
  const y = (await sum.data())[0]; // asynchronous: synchronous reads throw on webgpu in Node
  sum.dispose();
  assert.equal(y, 24);
});

test("forcing an unavailable native backend fails with the install hint", (t) => {
  let nativePresent = true;
  try {
    require.resolve("@tensorflow/tfjs-node");
  } catch {
    nativePresent = false;
  }
  if (nativePresent) return t.skip("@tensorflow/tfjs-node is installed on this machine");
  const r = runWithBackend("tensorflow");
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /npm install @tensorflow\/tfjs-node@4\.22\.0/);
});

test("cpu and wasm can be forced", () => {
  for (const b of ["cpu", "wasm"]) {
    const r = runWithBackend(b);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout.trim().split("\n").pop()!).backend, b);
  }
});
