/**
 * Atomic file writes: write every byte to a temporary file in the same directory, fsync it, rename it
 * over the target and fsync the directory, so that a killed process or a full disk leaves either the
 * old file or the complete new one, never a torn one. `fs.writeSync` may write fewer bytes than asked
 * (a nearly full disk, a signal): the loop below writes the rest or fails; it never renames a short file.
 * On any failure the temporary file is removed, the target is untouched, and the error names the path
 * and the cause (for ENOSPC, how many bytes were needed).
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** The file-system calls writeFileAtomic makes; tests inject short or failing writes through it. */
export interface AtomicFileSystem {
  openSync(file: string, flags: string): number;
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number): number;
  fsyncSync(fd: number): void;
  closeSync(fd: number): void;
  renameSync(from: string, to: string): void;
}

const nodeFileSystem: AtomicFileSystem = {
  openSync: (file, flags) => fs.openSync(file, flags),
  writeSync: (fd, buffer, offset, length) => fs.writeSync(fd, buffer, offset, length),
  fsyncSync: (fd) => fs.fsyncSync(fd),
  closeSync: (fd) => fs.closeSync(fd),
  renameSync: (from, to) => fs.renameSync(from, to),
};

/** An error from writeFileAtomic: the target path, the cause (errno code) and what to do. */
export class AtomicWriteError extends Error {
  constructor(
    readonly file: string,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = "AtomicWriteError";
  }
}

/** Temporary files are `.<name>.<pid>.<time>.tmp` beside the target (see cleanStaleTempFiles). */
const TEMP_PATTERN = /^\..+\.(\d+)\.\d+\.tmp$/;

function describeFailure(file: string, bytes: number, e: unknown): AtomicWriteError {
  const err = e as NodeJS.ErrnoException;
  const code = err?.code;
  const why =
    code === "ENOSPC"
      ? `no space left on the device (${bytes} bytes needed; free at least that much in ${path.dirname(file)})`
      : code === "EDQUOT"
        ? `disk quota exceeded (${bytes} bytes needed)`
        : (err?.message ?? String(e));
  return new AtomicWriteError(file, code, `Could not write ${file}: ${why}. The previous version of the file, if any, is unchanged.`);
}

/** Flush a directory entry change (the rename) to disk; not possible on every platform, so best effort. */
function fsyncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, "r");
    fs.fsyncSync(fd);
  } catch {
    // Windows cannot open directories; some file systems refuse fsync on them. The rename is still atomic.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

export function writeFileAtomic(file: string, data: string | Uint8Array, fileSystem: AtomicFileSystem = nodeFileSystem): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true });
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  try {
    const fd = fileSystem.openSync(tmp, "w");
    try {
      let written = 0;
      while (written < bytes.length) {
        const n = fileSystem.writeSync(fd, bytes, written, bytes.length - written);
        // A write that makes no progress would loop forever; the OS reports a full disk this way too.
        if (!(n > 0)) throw Object.assign(new Error(`write made no progress after ${written} of ${bytes.length} bytes`), { code: "ENOSPC" });
        written += n;
      }
      fileSystem.fsyncSync(fd);
    } finally {
      fileSystem.closeSync(fd);
    }
    fileSystem.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw describeFailure(file, bytes.length, e);
  }
  fsyncDirectory(dir);
}

export function writeJsonAtomic(file: string, value: unknown, fileSystem?: AtomicFileSystem): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + "\n", fileSystem);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Remove temporary files left in `dir` by writeFileAtomic calls of processes that died mid-write (kill -9,
 * power loss). A temp file of a live process (its pid still running, e.g. a parallel lane) is left alone;
 * `olderThanMs` guards against a reused pid never being cleaned. Returns the removed paths.
 */
export function cleanStaleTempFiles(dir: string, olderThanMs = 24 * 3600 * 1000): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = TEMP_PATTERN.exec(name);
    if (!m) continue;
    const full = path.join(dir, name);
    try {
      const pid = Number(m[1]);
      const old = Date.now() - fs.statSync(full).mtimeMs > olderThanMs;
      if (pid !== process.pid && (old || !processAlive(pid))) {
        fs.rmSync(full, { force: true });
        removed.push(full);
      }
    } catch {
      // Gone meanwhile (its writer renamed it): nothing to clean.
    }
  }
  return removed;
}

/** The repository root: the nearest ancestor of `from` holding turbo.json. */
export function repoRoot(from: string = __dirname): string {
  let dir = path.resolve(from);
  for (;;) {
    if (fs.existsSync(path.join(dir, "turbo.json")) && fs.existsSync(path.join(dir, "package.json"))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`Could not find the rnnlab repository root above ${from}`);
    dir = up;
  }
}
