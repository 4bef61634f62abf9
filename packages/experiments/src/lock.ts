/**
 * The experiment lock: one `rnnlab run` per experiment and results directory at a time, covering the
 * parent and every lane worker it forks.
 *
 * - Taken by an exclusive create of a complete file: the owner record is written and fsynced under a
 *   private name, then hard-linked to the lock name (link fails with EEXIST if the lock exists), so a lock
 *   file is never seen empty or half written.
 * - Held while any of its processes lives: the parent's pid and each worker's, each with its start time
 *   (Linux: /proc/<pid>/stat), so a pid reused by an unrelated process after a crash is recognised as dead.
 * - A stale lock is broken under a second exclusive file (`<lock>.break`), and only if the lock still holds
 *   the bytes judged stale: two processes racing for one stale lock cannot both take it.
 *
 * Why not proper-lockfile: it judges staleness by an mtime heartbeat refreshed from the event loop, and a
 * training step loop keeps the event loop busy for minutes, so a live run's lock would go stale and be
 * taken over. Liveness of the owning processes does not depend on the event loop.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import { writeFileAtomic } from "@rnnlab/core";
import { UsageError } from "./registry";

export interface LockProcess {
  pid: number;
  /** Process start time in clock ticks since boot (Linux), to tell a reused pid from the owner. */
  start?: string;
}

export interface LockOwner extends LockProcess {
  hostname: string;
  startedAt: string;
  command: string;
  token: string;
  workers: LockProcess[];
}

/** Start time of a process (Linux /proc), or undefined where it cannot be read. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 22 (starttime); the command name (field 2) may hold spaces, so count after its closing parenthesis.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

function pidRunning(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false; // 0 and negatives address process groups, not a process
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Whether this exact process (pid and, where recorded and readable, start time) still runs. */
export function processAlive(p: LockProcess): boolean {
  if (!pidRunning(p.pid)) return false;
  if (p.start === undefined) return true;
  const now = processStartTime(p.pid);
  return now === undefined || now === p.start;
}

function describeSelf(): LockProcess {
  return { pid: process.pid, start: processStartTime(process.pid) };
}

/** Create `file` holding `content`, failing with EEXIST if it exists; never leaves it empty or partial. */
function createExclusive(file: string, content: string): void {
  const staging = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.new`;
  writeFileAtomic(staging, content);
  try {
    fs.linkSync(staging, file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw e;
    // File systems without hard links: an exclusive create, then the content (briefly empty; see inspect).
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP") throw e;
    const fd = fs.openSync(file, "wx");
    try {
      fs.writeSync(fd, content);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } finally {
    fs.rmSync(staging, { force: true });
  }
}

type Inspection =
  | { state: "missing" }
  | { state: "live"; raw: Buffer; owner: LockOwner; alive: LockProcess[] }
  | { state: "elsewhere"; raw: Buffer; owner: LockOwner }
  | { state: "settling"; raw: Buffer }
  | { state: "stale"; raw: Buffer; why: string };

/** An unreadable lock file younger than this may still be being written (no-hard-link fallback). */
const SETTLE_MS = 5_000;

function inspect(file: string): Inspection {
  let raw: Buffer;
  let mtimeMs: number;
  try {
    raw = fs.readFileSync(file);
    mtimeMs = fs.statSync(file).mtimeMs;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { state: "missing" };
    throw e;
  }
  const text = raw.toString("utf8").trim();
  if (/^\d+$/.test(text)) {
    // The format before owner records: a bare pid.
    const pid = Number(text);
    const owner: LockOwner = { pid, hostname: os.hostname(), startedAt: "unknown", command: "rnnlab run", token: "", workers: [] };
    return pidRunning(pid) ? { state: "live", raw, owner, alive: [{ pid }] } : { state: "stale", raw, why: `process ${pid} is gone` };
  }
  let owner: LockOwner | undefined;
  try {
    owner = JSON.parse(text) as LockOwner;
  } catch {
    owner = undefined;
  }
  if (!owner || !Number.isInteger(owner.pid) || !Array.isArray(owner.workers)) {
    if (Date.now() - mtimeMs < SETTLE_MS) return { state: "settling", raw };
    return { state: "stale", raw, why: text === "" ? "the lock file is empty" : "the lock file is unreadable" };
  }
  if (owner.hostname !== os.hostname()) return { state: "elsewhere", raw, owner };
  const alive = [owner, ...owner.workers].filter(processAlive);
  if (alive.length) return { state: "live", raw, owner, alive };
  return { state: "stale", raw, why: `process ${owner.pid} and its workers are gone` };
}

/** Remove `file` if it still holds exactly `raw`, serialised with other breakers; true if it is gone now. */
function breakStale(file: string, raw: Buffer): boolean {
  const breaker = `${file}.break`;
  try {
    createExclusive(breaker, JSON.stringify(describeSelf()));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    // Another process is breaking it now (microseconds), or one died doing so: clear a dead breaker.
    try {
      const holder = JSON.parse(fs.readFileSync(breaker, "utf8")) as LockProcess;
      if (!processAlive(holder)) fs.rmSync(breaker, { force: true });
    } catch {
      if (Date.now() - (fs.statSync(breaker, { throwIfNoEntry: false })?.mtimeMs ?? 0) > SETTLE_MS) fs.rmSync(breaker, { force: true });
    }
    return false;
  }
  try {
    let now: Buffer;
    try {
      now = fs.readFileSync(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return true;
      throw e;
    }
    if (!now.equals(raw)) return false; // replaced meanwhile by a live owner: judge it again
    fs.rmSync(file, { force: true });
    return true;
  } finally {
    fs.rmSync(breaker, { force: true });
  }
}

export class ExperimentLock {
  private owner: LockOwner;
  private released = false;
  constructor(
    readonly file: string,
    owner: LockOwner,
  ) {
    this.owner = owner;
  }
  /** Record a lane worker, so the lock stays held until it exits even if this process dies first. */
  addWorker(pid: number): void {
    this.rewrite({ ...this.owner, workers: [...this.owner.workers, { pid, start: processStartTime(pid) }] });
  }
  removeWorker(pid: number): void {
    this.rewrite({ ...this.owner, workers: this.owner.workers.filter((w) => w.pid !== pid) });
  }
  /** Still ours? (false if someone removed the lock by hand, or it was broken as stale). */
  held(): boolean {
    try {
      return (JSON.parse(fs.readFileSync(this.file, "utf8")) as LockOwner).token === this.owner.token;
    } catch {
      return false;
    }
  }
  release(): void {
    if (this.released) return;
    this.released = true;
    if (this.held()) fs.rmSync(this.file, { force: true });
  }
  private rewrite(owner: LockOwner): void {
    if (this.released) return;
    this.owner = owner;
    if (this.held()) writeFileAtomic(this.file, JSON.stringify(owner));
  }
}

/**
 * Take the lock `file` for `what` (an experiment id), or throw a UsageError that says who holds it and
 * how to clear it. `resumeHint` is the command that continues the run once the holder is stopped.
 */
export function acquireLock(file: string, what: string, resumeHint: string): ExperimentLock {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const owner: LockOwner = {
    ...describeSelf(),
    hostname: os.hostname(),
    startedAt: new Date().toISOString(),
    command: process.argv.slice(1).map((a) => path.basename(a)).join(" ").slice(0, 300),
    token: randomBytes(16).toString("hex"),
    workers: [],
  };
  const deadline = Date.now() + SETTLE_MS + 2_000;
  for (;;) {
    try {
      createExclusive(file, JSON.stringify(owner));
      return new ExperimentLock(file, owner);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const seen = inspect(file);
    if (seen.state === "live") {
      const held = seen.alive.map((p) => p.pid);
      const parentGone = !seen.alive.some((p) => p.pid === seen.owner.pid);
      throw new UsageError(
        parentGone
          ? `${what}: the run in process ${seen.owner.pid} died, but its worker process(es) ${held.join(", ")} are still stopping (lock ${file}). ` +
              `Try again in a few seconds, or stop them (kill ${held.join(" ")}), then \`${resumeHint}\`.`
          : `${what} is already running in process ${seen.owner.pid} (since ${seen.owner.startedAt}: ${seen.owner.command}; lock ${file}). ` +
              `Wait for it, or stop it (kill ${held.join(" ")}) and use \`${resumeHint}\`. ` +
              `If process ${seen.owner.pid} is not an rnnlab run (its pid was reused after a crash), delete ${file}.`,
      );
    }
    if (seen.state === "elsewhere") {
      throw new UsageError(
        `${what} is locked by process ${seen.owner.pid} on host ${seen.owner.hostname} (since ${seen.owner.startedAt}; lock ${file}); ` +
          `its liveness cannot be checked from here. If no rnnlab run is active there, delete ${file}.`,
      );
    }
    if (Date.now() > deadline) {
      throw new UsageError(`${what}: could not take the lock ${file} (it keeps changing); if no rnnlab run is active, delete it.`);
    }
    if (seen.state === "stale" && breakStale(file, seen.raw)) continue;
    if (seen.state !== "missing") Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
}
