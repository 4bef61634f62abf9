/**
 * WebGPU in Node: Dawn's Node bindings (the `webgpu` npm package, a prebuilt dawn.node) provide
 * `navigator.gpu`, and @tensorflow/tfjs-backend-webgpu runs on it. On Linux Dawn talks to Vulkan, so it
 * needs the Vulkan loader (libvulkan.so.1) and a driver (an ICD): NVIDIA's from its driver, Mesa's for
 * AMD/Intel, or Mesa's lavapipe, a software driver that runs on the CPU (correct but slow: tests only).
 *
 * Synchronous reads (`dataSync`, `arraySync`, `print`) do not work on this backend in Node: TF.js reads
 * through an OffscreenCanvas, which Node lacks ("OffscreenCanvas is not defined"). Use `await t.data()`.
 *
 * Only backend.ts calls this (entry points choose the backend).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { execFileSync } from "node:child_process";

/** What the adapter says about itself, and whether it is a software (CPU) implementation. */
export interface GpuAdapterFacts {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A CPU implementation (lavapipe/llvmpipe, SwiftShader, WARP): correct, far slower than wasm+blas. */
  software: boolean;
}

/** "nvidia ampere (NVIDIA H100 80GB HBM3)"; "mesa software (llvmpipe: Mesa 25.0.7 …), software". */
export function describeAdapter(a: GpuAdapterFacts): string {
  const what = [a.vendor, a.architecture].filter(Boolean).join(" ") || "unknown adapter";
  const detail = a.description || a.device;
  return `${what}${detail ? ` (${detail})` : ""}${a.software ? ", software" : ""}`;
}

export function isSoftwareAdapter(info: { vendor?: string; architecture?: string; device?: string; description?: string }, fallback?: boolean): boolean {
  if (fallback) return true;
  if ((info.architecture ?? "").toLowerCase() === "software") return true;
  return /llvmpipe|lavapipe|swiftshader|software|microsoft basic render|\bwarp\b/i.test(`${info.device ?? ""} ${info.description ?? ""}`);
}

/** A GPU device node exists (Linux): NVIDIA's /dev/nvidia<N>, or a DRM render node for AMD/Intel/others. */
export function gpuDeviceNodes(): string[] {
  if (process.platform !== "linux") return [];
  const found: string[] = [];
  try {
    for (const f of fs.readdirSync("/dev")) if (/^nvidia\d+$/.test(f)) found.push(`/dev/${f}`);
  } catch {
    /* no /dev */
  }
  try {
    for (const f of fs.readdirSync("/dev/dri")) if (/^renderD\d+$/.test(f)) found.push(`/dev/dri/${f}`);
  } catch {
    /* no DRM */
  }
  return found;
}

function vulkanLoaderPath(): string | undefined {
  const dirs = [
    ...(process.env.LD_LIBRARY_PATH ?? "").split(":").filter(Boolean),
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
    "/usr/local/lib",
  ];
  for (const d of dirs) if (fs.existsSync(path.join(d, "libvulkan.so.1"))) return path.join(d, "libvulkan.so.1");
  try {
    const out = execFileSync("/sbin/ldconfig", ["-p"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    return out.match(/libvulkan\.so\.1 .*=> (\S+)/)?.[1];
  } catch {
    return undefined;
  }
}

/** The Vulkan drivers (ICD manifests) the loader will see: VK_DRIVER_FILES / VK_ICD_FILENAMES, else the standard folders. */
export function vulkanIcdFiles(): { files: string[]; from: string } {
  const forced = process.env.VK_DRIVER_FILES ?? process.env.VK_ICD_FILENAMES;
  if (forced) {
    const name = process.env.VK_DRIVER_FILES ? "VK_DRIVER_FILES" : "VK_ICD_FILENAMES";
    return { files: forced.split(":").filter(Boolean), from: name };
  }
  const dataDirs = (process.env.XDG_DATA_DIRS || "/usr/local/share:/usr/share").split(":");
  const dirs = ["/etc/vulkan/icd.d", ...dataDirs.map((d) => path.join(d, "vulkan/icd.d"))];
  const files: string[] = [];
  for (const d of dirs) {
    try {
      for (const f of fs.readdirSync(d)) if (f.endsWith(".json")) files.push(path.join(d, f));
    } catch {
      /* absent folder */
    }
  }
  return { files, from: dirs.join(", ") };
}

/** Why Dawn found no adapter, and the fix, as precisely as the machine lets us say. */
export function diagnoseNoAdapter(): string {
  const fix =
    `On a GPU machine install the GPU driver's Vulkan support (NVIDIA: the driver's nvidia_icd.json, e.g. ` +
    `VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; AMD/Intel: apt-get install mesa-vulkan-drivers). ` +
    `Without a GPU, \`npm run setup\` (Debian/Ubuntu as root) installs Mesa's software driver lavapipe (tests only; slow).`;
  if (process.platform !== "linux") return `Dawn found no WebGPU adapter on ${process.platform}. ${fix}`;
  const loader = vulkanLoaderPath();
  if (!loader)
    return `no Vulkan loader: libvulkan.so.1 was not found. Fix: \`apt-get install libvulkan1\` (Fedora: vulkan-loader), then a driver. ${fix}`;
  const { files, from } = vulkanIcdFiles();
  const missing = files.filter((f) => !fs.existsSync(f));
  if (missing.length) return `the Vulkan driver files named by ${from} do not exist: ${missing.join(", ")}. ${fix}`;
  if (!files.length) return `Vulkan loader ${loader} found, but no Vulkan driver (ICD manifest) in ${from}. ${fix}`;
  const lvp = files.filter((f) => /lvp_icd/.test(f));
  const old = lvp.length ? " Debian 12's own lavapipe (Mesa 22.3) lacks features Dawn requires: `npm run setup` installs Mesa 25 from bookworm-backports." : "";
  return `Vulkan loader ${loader} and drivers ${files.map((f) => path.basename(f)).join(", ")} found, but none gave Dawn a usable adapter ` +
    `(no matching GPU, or a driver too old).${old} ${fix}`;
}

export interface DawnGpu {
  requestAdapter(options?: { powerPreference?: string; forceFallbackAdapter?: boolean }): Promise<DawnAdapter | null>;
}
interface DawnAdapter {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string };
  isFallbackAdapter?: boolean;
}

let dawn: Promise<DawnGpu> | undefined;

/**
 * Load dawn.node once and expose it as `navigator.gpu` (with the WebGPU constants such as GPUBufferUsage
 * as globals), as @tensorflow/tfjs-backend-webgpu expects. Throws when the `webgpu` package is absent.
 */
export function loadDawn(): Promise<DawnGpu> {
  dawn ??= (async () => {
    const { create, globals } = await import("webgpu");
    Object.assign(globalThis, globals);
    const gpu: DawnGpu = create((process.env.RNNLAB_DAWN_FLAGS ?? "").split(/\s+/).filter(Boolean));
    // Node's types declare no `navigator` (Node 21+ has one at run time), so it is read untyped and checked.
    const navigator: unknown = Reflect.get(globalThis, "navigator");
    if (navigator !== null && typeof navigator === "object") Object.defineProperty(navigator, "gpu", { value: gpu, configurable: true });
    else Object.defineProperty(globalThis, "navigator", { value: { gpu }, configurable: true, writable: true });
    return gpu;
  })();
  dawn.catch(() => (dawn = undefined));
  return dawn;
}

/** The adapter TF.js will get (it asks for "high-performance"), or null. */
export async function requestAdapterFacts(gpu: DawnGpu): Promise<GpuAdapterFacts | null> {
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) return null;
  const info = adapter.info ?? {};
  return {
    vendor: info.vendor ?? "",
    architecture: info.architecture ?? "",
    device: info.device ?? "",
    description: info.description ?? "",
    software: isSoftwareAdapter(info, adapter.isFallbackAdapter),
  };
}
