/**
 * Download, extract, verify and place dataset files.
 *
 * - HTTP(S) with redirects (up to 8), a User-Agent, and resume: bytes go to `<download>.part`; a
 *   rerun asks for `Range: bytes=<partSize>-` and appends on 206 (restarts on 200).
 * - Archives: `gz` through node:zlib; `zip` and `tgz` through Debian's `unzip` / `tar` (child_process),
 *   extracted into a scratch folder from which the manifest's members are taken.
 * - Every placed file is verified (size, sha256) against the manifest first and then renamed into
 *   place, so a dataset folder never holds a half-written or unverified file under its final name.
 * Libraries print nothing: progress goes to `onProgress`.
 */
import { execFile } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as path from "node:path";
import { pipeline } from "node:stream/promises";
import * as zlib from "node:zlib";
import { getManifestDataset, loadManifest, type Manifest, type ManifestFile, type ManifestSource } from "./manifest";
import { checkDataset, datasetDirectory, sha256File } from "./store";

export const USER_AGENT = "rnnlab-data/0.1 (+https://github.com/; research dataset fetcher)";

export type FetchProgressEvent =
  | { type: "download-start"; url: string; totalBytes: number | null; resumedFrom: number }
  | { type: "download-progress"; url: string; receivedBytes: number; totalBytes: number | null }
  | { type: "download-done"; url: string; receivedBytes: number }
  | { type: "extract"; archive: string; file: string }
  | { type: "placed"; file: string }
  | { type: "skip"; file: string; reason: string }
  | { type: "source-failed"; url: string; error: string };

export interface DownloadOptions {
  userAgent?: string;
  maxRedirects?: number;
  timeoutMs?: number;
  onProgress?: (event: FetchProgressEvent) => void;
}

export interface DownloadResult {
  finalUrl: string;
  bytes: number;
  resumedFrom: number;
}

function request(url: string, headers: Record<string, string>, timeoutMs: number): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const lib = url.startsWith("https:") ? https : url.startsWith("http:") ? http : null;
    if (!lib) return reject(new Error(`Unsupported URL scheme: ${url}`));
    const req = lib.get(url, { headers }, resolve);
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms: ${url}`)));
    req.on("error", reject);
  });
}

/**
 * Downloads `url` to `destination` through `destination.part`, resuming a previous partial download.
 * The finished file is renamed to `destination`.
 */
export async function downloadFile(url: string, destination: string, options: DownloadOptions = {}): Promise<DownloadResult> {
  const part = `${destination}.part`;
  fs.mkdirSync(path.dirname(destination), { recursive: true });
  const maxRedirects = options.maxRedirects ?? 8;
  const timeoutMs = options.timeoutMs ?? 60_000;
  let current = url;
  for (let redirects = 0; ; redirects++) {
    const have = fs.existsSync(part) ? fs.statSync(part).size : 0;
    const headers: Record<string, string> = { "User-Agent": options.userAgent ?? USER_AGENT, "Accept-Encoding": "identity" };
    if (have > 0) headers.Range = `bytes=${have}-`;
    const response = await request(current, headers, timeoutMs);
    const status = response.statusCode ?? 0;
    if (status >= 300 && status < 400 && response.headers.location) {
      response.resume();
      if (redirects >= maxRedirects) throw new Error(`Too many redirects (>${maxRedirects}) starting at ${url}`);
      current = new URL(response.headers.location, current).toString();
      continue;
    }
    if (status === 416 && have > 0) {
      // The server has nothing past our partial file: either it is complete or it is stale.
      response.resume();
      const total = /\/(\d+)$/.exec(String(response.headers["content-range"] ?? ""));
      if (total && Number(total[1]) === have) {
        fs.renameSync(part, destination);
        options.onProgress?.({ type: "download-done", url: current, receivedBytes: have });
        return { finalUrl: current, bytes: have, resumedFrom: have };
      }
      fs.rmSync(part);
      continue;
    }
    if (status !== 200 && status !== 206) {
      response.resume();
      throw new Error(`HTTP ${status} for ${current}`);
    }
    let resumedFrom = 0;
    if (status === 206) {
      const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(response.headers["content-range"] ?? ""));
      if (!range || Number(range[1]) !== have) {
        response.resume();
        throw new Error(`Unexpected Content-Range "${response.headers["content-range"]}" for ${current} (asked from byte ${have})`);
      }
      resumedFrom = have;
    }
    const length = response.headers["content-length"] ? Number(response.headers["content-length"]) : null;
    const totalBytes = length === null ? null : length + resumedFrom;
    options.onProgress?.({ type: "download-start", url: current, totalBytes, resumedFrom });
    let received = resumedFrom;
    response.on("data", (chunk: Buffer) => {
      received += chunk.length;
      options.onProgress?.({ type: "download-progress", url: current, receivedBytes: received, totalBytes });
    });
    const file = fs.createWriteStream(part, { flags: status === 206 ? "a" : "w" });
    try {
      await pipeline(response, file);
    } catch (e) {
      // A dropped connection rejects the pipeline while the file may still have a write in flight: wait until
      // it is closed, so the .part size a resume asks from is the size that ends up on disk.
      if (!file.closed) await new Promise<void>((resolve) => file.once("close", () => resolve()));
      throw e;
    }
    if (totalBytes !== null && received !== totalBytes)
      throw new Error(`Download of ${current} ended early: ${received} of ${totalBytes} bytes (rerun to resume)`);
    fs.renameSync(part, destination);
    options.onProgress?.({ type: "download-done", url: current, receivedBytes: received });
    return { finalUrl: current, bytes: received, resumedFrom };
  }
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { maxBuffer: 16 << 20 }, (error, _stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(" ")} failed: ${stderr || error.message}`));
      else resolve();
    });
  });
}

function verifyAgainst(file: string, expected: { size?: number | null; sha256?: string | null }, what: string): void {
  const size = fs.statSync(file).size;
  if (expected.size != null && size !== expected.size) throw new Error(`${what}: size ${size} bytes, expected ${expected.size}`);
  if (expected.sha256) {
    const actual = sha256File(file);
    if (actual !== expected.sha256) throw new Error(`${what}: sha256 mismatch: expected ${expected.sha256}, actual ${actual}`);
  }
}

/** Extracts the requested targets of `source` from `archive` into `<scratch>/<file>` paths; returns them. */
async function extract(source: ManifestSource, archive: string, scratch: string, wanted: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const targets = source.targets.filter((t) => wanted.includes(t.file));
  if (source.archive === "none") {
    if (targets.length !== 1) throw new Error(`Source ${source.url}: archive "none" must have exactly one target`);
    out.set(targets[0].file, archive);
    return out;
  }
  if (source.archive === "gz") {
    if (targets.length !== 1) throw new Error(`Source ${source.url}: archive "gz" must have exactly one target`);
    const tmp = path.join(scratch, "gunzipped");
    await pipeline(fs.createReadStream(archive), zlib.createGunzip(), fs.createWriteStream(tmp));
    out.set(targets[0].file, tmp);
    return out;
  }
  const folder = path.join(scratch, "extracted");
  fs.rmSync(folder, { recursive: true, force: true });
  fs.mkdirSync(folder, { recursive: true });
  if (source.archive === "zip") await run("unzip", ["-q", "-o", archive, "-d", folder]);
  else if (source.archive === "tgz") await run("tar", ["-xzf", archive, "-C", folder]);
  else throw new Error(`Unknown archive type "${source.archive}" for ${source.url}; expected none, gz, zip or tgz`);
  for (const t of targets) {
    const member = (t.member ?? "").replace(/^\.\//, "");
    const candidate = path.join(folder, ...member.split("/"));
    if (!member || !candidate.startsWith(folder + path.sep) || !fs.existsSync(candidate))
      throw new Error(`Archive ${source.url} has no member "${t.member}" (for ${t.file})`);
    out.set(t.file, candidate);
  }
  return out;
}

export interface FetchOptions {
  dataDir?: string;
  /** Re-download files that are already present and verified. */
  force?: boolean;
  manifest?: Manifest;
  onProgress?: (event: FetchProgressEvent) => void;
  userAgent?: string;
  timeoutMs?: number;
}

export interface FetchResult {
  directory: string;
  placed: string[];
  skipped: string[];
}

/**
 * Put one extracted file in place: moved (`move`: a plain download) or copied (an archive member) to a
 * temporary file under `downloads`, verified against its manifest entry, then renamed into `directory`.
 */
function placeFile(from: string, entry: ManifestFile, where: { directory: string; downloads: string; url: string; move: boolean }): void {
  const file = entry.path;
  const finalPath = path.join(where.directory, ...file.split("/"));
  const tmp = path.join(where.downloads, `place-${process.pid}-${path.basename(file)}`);
  fs.mkdirSync(path.dirname(finalPath), { recursive: true });
  if (where.move) fs.renameSync(from, tmp);
  else fs.copyFileSync(from, tmp);
  try {
    verifyAgainst(tmp, entry, `${file} (from ${where.url})`);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.renameSync(tmp, finalPath);
}

/** Downloads every missing or corrupt file of `name`, trying the manifest's sources in order. */
export async function fetchDataset(name: string, options: FetchOptions = {}): Promise<FetchResult> {
  const manifest = options.manifest ?? loadManifest();
  const d = getManifestDataset(name, manifest);
  const directory = datasetDirectory(name, options.dataDir);
  if (d.sources.length === 0) {
    const steps = d.prepare ? ` Prepare it by hand: ${d.prepare.steps.join("; ")}. (${d.prepare.note})` : "";
    throw new Error(`Dataset "${name}" has no direct download; it must be prepared locally into ${directory}.${steps}`);
  }
  const check = checkDataset(name, { dataDir: options.dataDir, manifest });
  const needed = new Set<string>();
  const skipped: string[] = [];
  for (const f of check.files) {
    if (options.force || f.status === "missing" || f.status === "size-mismatch" || f.status === "sha256-mismatch") needed.add(f.path);
    else {
      skipped.push(f.path);
      options.onProgress?.({ type: "skip", file: f.path, reason: f.status === "ok" ? "present and verified" : "present (no checksum known)" });
    }
  }
  const entries = new Map<string, ManifestFile>(d.files.map((f) => [f.path, f]));
  const downloads = path.join(directory, ".download");
  const placed: string[] = [];
  const errors: string[] = [];
  for (const source of d.sources) {
    const wanted = source.targets.map((t) => t.file).filter((f) => needed.has(f));
    if (wanted.length === 0) continue;
    for (const url of [source.url, ...(source.mirrors ?? [])]) {
      const scratch = path.join(downloads, `scratch-${process.pid}`);
      const base = path.basename(new URL(url).pathname) || "download";
      const archive = path.join(downloads, `${crypto.createHash("sha1").update(url).digest("hex").slice(0, 8)}-${base}`);
      try {
        fs.mkdirSync(scratch, { recursive: true });
        // A finished download left by an interrupted run is reused (it is verified below).
        if (!fs.existsSync(archive)) await downloadFile(url, archive, options);
        verifyAgainst(archive, { size: source.size, sha256: source.sha256 }, `Downloaded ${url}`);
        const extracted = await extract(source, archive, scratch, wanted);
        for (const [file, from] of extracted) {
          options.onProgress?.({ type: "extract", archive: url, file });
          placeFile(from, entries.get(file) ?? { path: file, size: null, sha256: null }, { directory, downloads, url, move: source.archive === "none" });
          needed.delete(file);
          placed.push(file);
          options.onProgress?.({ type: "placed", file });
        }
        fs.rmSync(archive, { force: true });
        break;
      } catch (e) {
        // A complete but bad download (or one whose members fail verification) must not be reused;
        // an interrupted one survives as `.part` and is resumed next time.
        fs.rmSync(archive, { force: true });
        const message = (e as Error).message;
        errors.push(`${url}: ${message}`);
        options.onProgress?.({ type: "source-failed", url, error: message });
      } finally {
        fs.rmSync(scratch, { recursive: true, force: true });
      }
    }
  }
  if (needed.size === 0) fs.rmSync(downloads, { recursive: true, force: true });
  else
    try {
      fs.rmdirSync(downloads); // only when empty: `.part` files stay for the next run to resume
    } catch {
      // not empty or absent
    }
  if (needed.size > 0)
    throw new Error(`Could not fetch ${[...needed].join(", ")} of dataset "${name}" into ${directory}:\n  ${errors.join("\n  ")}`);
  // A final whole-dataset check: catches a manifest whose sources do not cover its files.
  const after = checkDataset(name, { dataDir: options.dataDir, manifest });
  const bad = after.files.filter((f) => f.status !== "ok" && f.status !== "unverified");
  if (bad.length > 0) throw new Error(`Dataset "${name}" still incomplete after fetch: ${bad.map((f) => f.message).join("; ")}`);
  return { directory, placed, skipped };
}

