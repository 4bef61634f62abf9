/**
 * Provenance of a run: the git commit, whether the source had uncommitted changes, and a hash of the source
 * that ran. "Source" is what decides a run's numbers: every package's src/, the native addon's sources and
 * binding files, the package.json files and package-lock.json. Changes under results/, notebooks/ or docs/
 * are not source: a result file written next to an edited notebook is still from committed code.
 *
 * Every function takes the repository root, so tests can point it at a temporary git repository.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { gitChangedPaths, gitHead, repoRoot } from "@rnnlab/core";
import { UsageError } from "./registry";
import { resultsRoot } from "./results";

export interface Provenance {
  /** HEAD when the run was written; null without git. */
  gitCommit: string | null;
  /** Uncommitted changes under the source paths (not results/, notebooks/, docs/); null without git. */
  gitDirty: boolean | null;
  /** sha256 over the sorted relative paths and contents of the source files (sourceFiles). */
  sourceHash: string;
  /** Written into the committed results from a dirty tree on purpose (`--allow-dirty`). */
  allowDirty?: true;
}

/** The native addon's files outside its src/ that decide what gets built. */
const NATIVE_BINDING_FILES = ["binding.gyp", "find-blas.cjs", "index.cjs", "index.d.ts", "install.cjs"];

/** The source paths as git pathspecs (relative to the repository root). */
export const SOURCE_PATHSPECS: readonly string[] = [
  ":(glob)packages/*/src/**",
  ...NATIVE_BINDING_FILES.map((f) => `packages/native-blas/${f}`),
  "package.json",
  ":(glob)packages/*/package.json",
  "package-lock.json",
];

function walk(dir: string, out: string[]): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (e.name === "node_modules" || e.name.endsWith(".tmp")) continue;
    const full = path.join(dir, e.name);
    if (e.isDirectory()) walk(full, out);
    else if (e.isFile()) out.push(full);
  }
}

/** The source files under `root` (absolute paths, sorted by their "/"-separated relative path). */
export function sourceFiles(root: string = repoRoot()): string[] {
  const files: string[] = [];
  const packages = path.join(root, "packages");
  const names = fs.existsSync(packages) ? fs.readdirSync(packages).sort() : [];
  for (const name of names) {
    const dir = path.join(packages, name);
    if (!fs.statSync(dir).isDirectory()) continue;
    walk(path.join(dir, "src"), files);
    files.push(path.join(dir, "package.json"));
    if (name === "native-blas") for (const f of NATIVE_BINDING_FILES) files.push(path.join(dir, f));
  }
  files.push(path.join(root, "package.json"), path.join(root, "package-lock.json"));
  const rel = (f: string) => path.relative(root, f).split(path.sep).join("/");
  return files.filter((f) => fs.existsSync(f)).sort((a, b) => (rel(a) < rel(b) ? -1 : rel(a) > rel(b) ? 1 : 0));
}

/** sha256 over the sorted relative paths and contents of the source files (uncached; see currentSourceHash). */
export function computeSourceHash(root: string = repoRoot()): string {
  const hash = createHash("sha256");
  for (const file of sourceFiles(root)) {
    const content = fs.readFileSync(file);
    hash.update(path.relative(root, file).split(path.sep).join("/"));
    hash.update("\0");
    hash.update(String(content.length));
    hash.update("\0");
    hash.update(content);
  }
  return hash.digest("hex");
}

const sourceHashes = new Map<string, string>();

/**
 * The source hash of `root`, computed once per process: the modules were loaded when the process
 * started, so later edits on disk are not the code that runs here.
 */
export function currentSourceHash(root: string = repoRoot()): string {
  const key = path.resolve(root);
  let h = sourceHashes.get(key);
  if (h === undefined) {
    h = computeSourceHash(key);
    sourceHashes.set(key, h);
  }
  return h;
}

/** Source paths with uncommitted changes (relative, sorted); null without git. */
export function dirtySourcePaths(root: string = repoRoot()): string[] | null {
  return gitChangedPaths(root, [...SOURCE_PATHSPECS]);
}

/** Source paths that differ between `commit` and the working tree; null without git or when the commit is unknown here. */
export function sourceChangedSince(commit: string, root: string = repoRoot()): string[] | null {
  if (!/^[0-9a-f]{7,64}$/i.test(commit)) return null;
  return gitChangedPaths(root, [...SOURCE_PATHSPECS], commit);
}

/** Provenance of runs written now by this process (git state read now, source hash as loaded). */
export function currentProvenance(root: string = repoRoot(), options: { allowDirty?: boolean } = {}): Provenance & { dirtyPaths: string[] } {
  const gitCommit = gitHead(root);
  const dirtyPaths = gitCommit === null ? null : dirtySourcePaths(root);
  return {
    gitCommit,
    gitDirty: dirtyPaths === null ? null : dirtyPaths.length > 0,
    sourceHash: currentSourceHash(root),
    ...(options.allowDirty ? { allowDirty: true as const } : {}),
    dirtyPaths: dirtyPaths ?? [],
  };
}

/** The record's fields only (what goes into RunRecord.provenance). */
export function provenanceRecord(p: Provenance): Provenance {
  return { gitCommit: p.gitCommit, gitDirty: p.gitDirty, sourceHash: p.sourceHash, ...(p.allowDirty ? { allowDirty: true as const } : {}) };
}

/** The committed results root: <root>/results. */
export function committedResultsRoot(root: string = repoRoot()): string {
  return path.resolve(root, "results");
}

/**
 * Refuse to write into the committed results root from a tree whose source has uncommitted changes,
 * unless `allowDirty`. Other results roots (temp dirs, results/<preset>/) are never refused, and neither
 * is a checkout without git (gitDirty null).
 */
export function assertCleanSourceFor(
  resultsDir: string | undefined,
  options: { allowDirty?: boolean; root?: string; provenance?: Provenance & { dirtyPaths: string[] } } = {},
): void {
  const root = options.root ?? repoRoot();
  if (options.allowDirty) return;
  if (resultsRoot(resultsDir) !== committedResultsRoot(root)) return;
  const p = options.provenance ?? currentProvenance(root);
  if (p.gitDirty !== true) return;
  const shown = p.dirtyPaths.slice(0, 5).join(", ") + (p.dirtyPaths.length > 5 ? ` and ${p.dirtyPaths.length - 5} more` : "");
  throw new UsageError(
    `refusing to write into the committed results (${committedResultsRoot(root)}) from a tree with uncommitted source changes: ${shown}. ` +
      `Commit them first (the result then names a commit that reproduces it), or pass --allow-dirty (recorded in each run's provenance), ` +
      `or write elsewhere with --results-dir <dir> (RNNLAB_RESULTS_DIR).`,
  );
}
