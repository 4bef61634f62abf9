/**
 * The webgpu backend (Dawn's Node bindings + @tensorflow/tfjs-backend-webgpu) against the cpu backend, in
 * child processes: through Mesa's software Vulkan driver lavapipe on a machine without a GPU (what
 * `npm run setup` installs, from bookworm-backports on Debian 12), through the GPU where there is one.
 * test/webgpu-check.ts does the comparisons: the cells' golden cases, a small LSTM language model and the
 * synthetic-task trainer, a few steps each, within 1e-4 of cpu. Skipped, saying why, without a driver.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { gpuDeviceNodes } from "@rnnlab/core";

const root = path.resolve(__dirname, "..");
const ICD_DIR = "/usr/share/vulkan/icd.d";

/** The environment for a webgpu child, or the reason it cannot run here. */
function webgpuEnvironment(): { env: NodeJS.ProcessEnv; driver: string } | { skip: string } {
  try {
    require.resolve("webgpu");
  } catch {
    return { skip: "the `webgpu` npm package (Dawn) is not installed (it is an optional dependency: `npm install`)" };
  }
  if (process.platform !== "linux") return { env: { ...process.env }, driver: "the platform's own (Metal/D3D12)" };
  const lvp =
    process.env.RNNLAB_VK_SOFTWARE_ICD ??
    (fs.existsSync(ICD_DIR) ? fs.readdirSync(ICD_DIR).filter((f) => /^lvp_icd.*\.json$/.test(f)).map((f) => path.join(ICD_DIR, f))[0] : undefined);
  if (!lvp) {
    if (gpuDeviceNodes().length) return { env: { ...process.env }, driver: "the GPU's own" };
    return { skip: "no software Vulkan driver (Mesa lavapipe) and no GPU: `npm run setup` as root installs lavapipe (scripts/setup-vulkan.sh)" };
  }
  try {
    const v = execFileSync("dpkg-query", ["-W", "-f=${Version}", "mesa-vulkan-drivers"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    if (Number(v.split(".")[0]) < 23)
      return { skip: `Mesa ${v}'s lavapipe is too old for Dawn (Debian 12's own): \`npm run setup\` installs Mesa 25 from bookworm-backports` };
  } catch {
    /* not a dpkg system: try it */
  }
  return { env: { ...process.env, VK_DRIVER_FILES: lvp, RNNLAB_BACKEND: "webgpu" }, driver: lvp };
}

function run(file: string | null, env: NodeJS.ProcessEnv, code?: string) {
  const args = file ? ["--import", "tsx", file] : ["--import", "tsx", "-e", code!];
  return spawnSync(process.execPath, args, { cwd: root, env, encoding: "utf8", timeout: 240_000 });
}

const setup = webgpuEnvironment();

test("webgpu matches cpu within 1e-4: golden cells, an LSTM LM and the synthetic trainer, a few steps each", (t) => {
  if ("skip" in setup) return t.skip(setup.skip);
  const r = run("test/webgpu-check.ts", { ...setup.env, RNNLAB_BACKEND: "webgpu" });
  const line = r.stdout.split("\n").find((l) => l.startsWith('{"webgpuCheck"'));
  assert.ok(line, `no result from test/webgpu-check.ts (status ${r.status}, driver ${setup.driver}):\n${r.stderr.slice(-3000)}`);
  const summary = JSON.parse(line).webgpuCheck as { backend: string; checks: { name: string; vsCpu: number; vsTorch?: number; worst: string; ok: boolean }[] };
  t.diagnostic(summary.backend);
  for (const c of summary.checks)
    t.diagnostic(`${c.name}: max |webgpu − cpu| ${c.vsCpu.toExponential(2)}${c.vsTorch !== undefined ? `, vs PyTorch ${c.vsTorch.toExponential(2)}` : ""}`);
  for (const c of summary.checks) assert.ok(c.ok, `${c.name}: max |diff| ${c.vsCpu} (${c.worst})${c.vsTorch !== undefined ? `, vs PyTorch ${c.vsTorch}` : ""} > 1e-4`);
  assert.equal(r.status, 0, r.stderr.slice(-2000));
});

test("the picker reports the adapter; auto never takes a software adapter over wasm", (t) => {
  if ("skip" in setup) return t.skip(setup.skip);
  const code = `require("./packages/core/src").selectBackend().then(c => console.log(JSON.stringify(c)), e => { console.error(e.message); process.exit(1); })`;
  const forced = run(null, { ...setup.env, RNNLAB_BACKEND: "webgpu" }, code);
  assert.equal(forced.status, 0, forced.stderr);
  const choice = JSON.parse(forced.stdout.trim().split("\n").pop()!);
  assert.equal(choice.backend, "webgpu");
  assert.ok(choice.adapter && typeof choice.adapter.vendor === "string" && typeof choice.adapter.description === "string", forced.stdout);
  const auto = JSON.parse(run(null, { ...setup.env, RNNLAB_BACKEND: "auto" }, code).stdout.trim().split("\n").pop()!);
  if (choice.adapter.software) {
    assert.notEqual(auto.backend, "webgpu");
    assert.ok(auto.skipped.some((s: { candidate: string; reason: string }) => s.candidate === "webgpu" && /software|no GPU device/.test(s.reason)), JSON.stringify(auto.skipped));
  }
});

test("forcing webgpu without a usable Vulkan driver fails naming what is missing and the fix", (t) => {
  if ("skip" in setup) return t.skip(setup.skip);
  if (process.platform !== "linux") return t.skip("the Vulkan diagnosis is for Linux");
  const r = run(null, { ...setup.env, RNNLAB_BACKEND: "webgpu", VK_DRIVER_FILES: "/nonexistent/icd.json" }, `require("./packages/core/src").selectBackend().then(() => process.exit(0), e => { console.error(e.message); process.exit(1); })`);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /RNNLAB_BACKEND=webgpu, but the webgpu backend could not be started/);
  assert.match(r.stderr, /VK_DRIVER_FILES do not exist: \/nonexistent\/icd\.json/);
  assert.match(r.stderr, /npm run setup/);
});
