/**
 * The webgpu helpers that need no GPU: telling a software adapter from a GPU, describing it, and the
 * diagnosis when Dawn finds no adapter. The backend itself is compared with cpu in test/webgpu.test.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { describeAdapter, isSoftwareAdapter } from "../src";
import { diagnoseNoAdapter } from "../src/webgpu";

test("software adapters (lavapipe, SwiftShader, fallback) are told from GPUs", () => {
  assert.ok(isSoftwareAdapter({ vendor: "mesa", architecture: "software", device: "llvmpipe-llvm-15", description: "llvmpipe: Mesa 25.0.7" }));
  assert.ok(isSoftwareAdapter({ vendor: "google", architecture: "", description: "SwiftShader Device (Subzero)" }));
  assert.ok(isSoftwareAdapter({ vendor: "nvidia" }, true));
  assert.ok(!isSoftwareAdapter({ vendor: "nvidia", architecture: "hopper", description: "NVIDIA H200" }));
  assert.ok(!isSoftwareAdapter({ vendor: "amd", architecture: "rdna-3", description: "AMD Radeon RX 7900 XTX (RADV NAVI31)" }));
});

test("describeAdapter names vendor, architecture and description, and marks software", () => {
  assert.equal(describeAdapter({ vendor: "nvidia", architecture: "hopper", device: "", description: "NVIDIA H200", software: false }), "nvidia hopper (NVIDIA H200)");
  assert.equal(describeAdapter({ vendor: "mesa", architecture: "software", device: "llvmpipe", description: "", software: true }), "mesa software (llvmpipe), software");
});

test("no adapter: the diagnosis names the missing driver file and the fix", (t) => {
  if (process.platform !== "linux") return t.skip("the Vulkan diagnosis is for Linux");
  const saved = process.env.VK_DRIVER_FILES;
  process.env.VK_DRIVER_FILES = "/nonexistent/nvidia_icd.json";
  try {
    const d = diagnoseNoAdapter();
    if (/no Vulkan loader/.test(d)) assert.match(d, /apt-get install libvulkan1/);
    else assert.match(d, /VK_DRIVER_FILES do not exist: \/nonexistent\/nvidia_icd\.json/);
    assert.match(d, /npm run setup/);
  } finally {
    if (saved === undefined) delete process.env.VK_DRIVER_FILES;
    else process.env.VK_DRIVER_FILES = saved;
  }
});
