/**
 * Where datasets live and whether they are intact.
 *
 * The data directory is `RNNLAB_DATA_DIR`, else `<repo>/datasets`. Verification hashes each file
 * once per process per (path, size, mtime): loading PTB twice does not re-hash 5 MB. The cache is kept
 * in memory only, because the data directory may be read-only (a shared copy).
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { repoRoot } from "@rnnlab/core";
import { getManifestDataset, loadManifest, type Manifest, type ManifestFile } from "./manifest";

export function dataDirectory(override?: string): string {
  return path.resolve(override ?? process.env.RNNLAB_DATA_DIR ?? path.join(repoRoot(__dirname), "datasets"));
}

export function datasetDirectory(name: string, dataDir?: string): string {
  return path.join(dataDirectory(dataDir), name);
}

export function fetchCommand(name: string): string {
  return `npm run data -- fetch ${name}`;
}

export function missingDatasetError(name: string, directory: string, missing: string[]): Error {
  return new Error(
    `Dataset "${name}" is missing from ${directory} (missing: ${missing.join(", ")}). ` +
      `Download it with \`${fetchCommand(name)}\`, or set RNNLAB_DATA_DIR to a directory that holds a ${name}/ folder.`,
  );
}

/** sha256 of a file, streamed in 1 MB chunks. */
export function sha256File(file: string): string {
  const hash = crypto.createHash("sha256");
  const fd = fs.openSync(file, "r");
  try {
    const buffer = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = fs.readSync(fd, buffer, 0, buffer.length, null);
      if (n === 0) break;
      hash.update(buffer.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest("hex");
}

const hashCache = new Map<string, { size: number; mtimeMs: number; sha256: string }>();

/** sha256 with the per-process (path, size, mtime) cache. */
export function cachedSha256(file: string): string {
  const st = fs.statSync(file);
  const key = path.resolve(file);
  const hit = hashCache.get(key);
  if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs) return hit.sha256;
  const sha256 = sha256File(file);
  hashCache.set(key, { size: st.size, mtimeMs: st.mtimeMs, sha256 });
  return sha256;
}

export type FileStatus = "ok" | "missing" | "size-mismatch" | "sha256-mismatch" | "unverified";

export interface FileCheck {
  path: string;
  absolutePath: string;
  status: FileStatus;
  expectedSize: number | null;
  actualSize: number | null;
  expectedSha256: string | null;
  actualSha256: string | null;
  message: string;
}

export function checkFile(directory: string, entry: ManifestFile, options: { hash?: boolean } = {}): FileCheck {
  const absolutePath = path.join(directory, ...entry.path.split("/"));
  const base = { path: entry.path, absolutePath, expectedSize: entry.size, expectedSha256: entry.sha256 };
  if (!fs.existsSync(absolutePath))
    return { ...base, status: "missing", actualSize: null, actualSha256: null, message: `${absolutePath}: missing` };
  const actualSize = fs.statSync(absolutePath).size;
  if (entry.size !== null && actualSize !== entry.size)
    return { ...base, status: "size-mismatch", actualSize, actualSha256: null, message: `${absolutePath}: size ${actualSize} bytes, expected ${entry.size}` };
  if (entry.sha256 === null)
    return { ...base, status: "unverified", actualSize, actualSha256: null, message: `${absolutePath}: present (no checksum known)` };
  if (options.hash === false) return { ...base, status: "ok", actualSize, actualSha256: null, message: `${absolutePath}: ok (size)` };
  const actualSha256 = cachedSha256(absolutePath);
  if (actualSha256 !== entry.sha256)
    return {
      ...base,
      status: "sha256-mismatch",
      actualSize,
      actualSha256,
      message: `${absolutePath}: sha256 mismatch: expected ${entry.sha256}, actual ${actualSha256}`,
    };
  return { ...base, status: "ok", actualSize, actualSha256, message: `${absolutePath}: ok` };
}

export type DatasetState = "present" | "missing" | "partial" | "corrupt";

export interface DatasetCheck {
  name: string;
  directory: string;
  state: DatasetState;
  files: FileCheck[];
}

/** Checks every manifest file of a dataset (size, then sha256). */
export function checkDataset(name: string, options: { dataDir?: string; hash?: boolean; manifest?: Manifest } = {}): DatasetCheck {
  const d = getManifestDataset(name, options.manifest ?? loadManifest());
  const directory = datasetDirectory(name, options.dataDir);
  const files = d.files.map((f) => checkFile(directory, f, { hash: options.hash }));
  const missing = files.filter((f) => f.status === "missing").length;
  const bad = files.some((f) => f.status === "size-mismatch" || f.status === "sha256-mismatch");
  const state: DatasetState = bad ? "corrupt" : missing === files.length ? "missing" : missing > 0 ? "partial" : "present";
  return { name, directory, state, files };
}

/**
 * Resolves the absolute paths of `files` (manifest-relative) of a dataset, checking presence and,
 * unless `verify` is false, size and sha256. Throws the missing-dataset error (naming the directory,
 * the fetch command and RNNLAB_DATA_DIR) or a checksum error naming file, expected and actual digest.
 */
export function requireDatasetFiles(name: string, files: string[], options: { dataDir?: string; verify?: boolean } = {}): string[] {
  const d = getManifestDataset(name);
  const directory = datasetDirectory(name, options.dataDir);
  const result: string[] = [];
  const missing: string[] = [];
  for (const rel of files) {
    const known = d.files.find((f) => f.path === rel) ?? { path: rel, size: null, sha256: null };
    // verify: false checks presence only (generated fixtures, or a locally edited copy).
    const entry = options.verify === false ? { path: rel, size: null, sha256: null } : known;
    const check = checkFile(directory, entry);
    if (check.status === "missing") missing.push(rel);
    else if (check.status === "size-mismatch" || check.status === "sha256-mismatch")
      throw new Error(`Dataset "${name}": ${check.message}. Re-download with \`${fetchCommand(name)}\`.`);
    result.push(check.absolutePath);
  }
  if (missing.length > 0) throw missingDatasetError(name, directory, missing);
  return result;
}
