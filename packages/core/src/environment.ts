/**
 * Facts about the running environment, for notebook headers and result files.
 */
import * as os from "node:os";
import * as path from "node:path";
import * as fs from "node:fs";
import { execFileSync } from "node:child_process";
import { tf } from "./tf";
import { type BackendChoice, describeBlas } from "./backend";
import { describeAdapter } from "./webgpu";
import { repoRoot } from "./atomic";

export interface EnvironmentInfo {
  backend: string;
  backendPackage: string;
  skippedBackends: { candidate: string; reason: string }[];
  kernelFixes: string[];
  /** Who computes matrix products: "blas" (native, under wasm), "wasm", or the backend itself. */
  matmul: string;
  /** e.g. "OpenBLAS 0.3.21 (Haswell kernels), 1 thread", when matmul is "blas". */
  blas: string | null;
  /** The GPU adapter on webgpu, e.g. "nvidia hopper (NVIDIA H100 …)"; absent on other backends. */
  gpuAdapter?: string;
  tfjs: string;
  node: string;
  platform: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
  gitCommit: string | null;
  gitDirty: boolean | null;
}

export function gitInfo(cwd: string = repoRoot()): { commit: string | null; dirty: boolean | null } {
  try {
    const commit = execFileSync("git", ["rev-parse", "HEAD"], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const status = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], {
      cwd,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    return { commit, dirty: status.trim().length > 0 };
  } catch {
    return { commit: null, dirty: null };
  }
}

function git(cwd: string, args: string[]): string | null {
  try {
    return execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], maxBuffer: 64 * 2 ** 20 });
  } catch {
    return null; // no git, not a checkout, or an unknown commit
  }
}

/** HEAD's commit of the checkout at `cwd`; null without git or outside a checkout. */
export function gitHead(cwd: string = repoRoot()): string | null {
  return git(cwd, ["rev-parse", "HEAD"])?.trim() ?? null;
}

/**
 * Paths (relative to the checkout's top level, "/"-separated) under `pathspecs` that differ from `since`
 * (a commit; default HEAD) in the working tree: modified, added, deleted or renamed tracked files and
 * untracked files git does not ignore. Null without git, outside a checkout, or when `since` is unknown
 * (e.g. a shallow clone that lacks it). Pathspecs are git's, relative to `cwd`, e.g. ":(glob)packages/x/src/**", "package.json".
 */
export function gitChangedPaths(cwd: string, pathspecs: string[], since = "HEAD"): string[] | null {
  const tracked = git(cwd, ["diff", "--name-only", "-z", since, "--", ...pathspecs]);
  const untracked = git(cwd, ["ls-files", "-z", "--others", "--exclude-standard", "--full-name", "--", ...pathspecs]);
  if (tracked === null || untracked === null) return null;
  const paths = new Set([...tracked.split("\0"), ...untracked.split("\0")].filter(Boolean));
  return [...paths].sort();
}

export function environmentInfo(choice: BackendChoice): EnvironmentInfo {
  const cpus = os.cpus();
  const git = gitInfo();
  return {
    backend: choice.label,
    backendPackage: choice.packageName,
    skippedBackends: choice.skipped,
    kernelFixes: choice.kernelFixes,
    matmul: choice.matmul,
    blas: choice.blas ? describeBlas(choice.blas) : null,
    ...(choice.adapter ? { gpuAdapter: describeAdapter(choice.adapter) } : {}),
    tfjs: tf.version.tfjs,
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpu: cpus[0]?.model.trim() ?? "unknown",
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    gitCommit: git.commit,
    gitDirty: git.dirty,
  };
}

/** A markdown table of the environment (for a notebook's first cell). */
export function environmentMarkdown(info: EnvironmentInfo): string {
  const rows: [string, string][] = [
    ["TF.js backend", `**${info.backend}** (${info.backendPackage})`],
    ["skipped backends", info.skippedBackends.map((s) => `${s.candidate}: ${s.reason}`).join("<br>") || "none"],
    ["wasm kernel fixes", info.kernelFixes.join(", ") || "none"],
    ["matrix products", info.blas ? `native BLAS: ${info.blas}` : info.matmul],
    ...(info.gpuAdapter ? ([["GPU adapter", info.gpuAdapter]] as [string, string][]) : []),
    ["TF.js", info.tfjs],
    ["Node.js", info.node],
    ["platform", info.platform],
    ["CPU", `${info.cpu} × ${info.cores}`],
    ["memory", `${info.memoryGiB} GiB`],
    ["git", info.gitCommit ? `${info.gitCommit.slice(0, 12)}${info.gitDirty ? " (uncommitted changes)" : ""}` : "not a git checkout"],
  ];
  return ["| | |", "|---|---|", ...rows.map(([k, v]) => `| ${k} | ${v.replace(/\|/g, "\\|")} |`)].join("\n");
}

/** Where results go: RNNLAB_RESULTS_DIR, or <repo>/results. */
export function resultsDir(): string {
  const env = process.env.RNNLAB_RESULTS_DIR;
  const dir = env ? path.resolve(env) : path.join(repoRoot(), "results");
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}
