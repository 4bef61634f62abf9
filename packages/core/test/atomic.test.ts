/**
 * Fault injection for writeFileAtomic (issue 18, point 1): short writes, a full disk and failing renames
 * go through the injected file-system calls; the target must end complete or untouched, never torn.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { cleanStaleTempFiles, writeFileAtomic, type AtomicFileSystem } from "../src";

const real: AtomicFileSystem = {
  openSync: (f, flags) => fs.openSync(f, flags),
  writeSync: (fd, b, o, l) => fs.writeSync(fd, b, o, l),
  fsyncSync: (fd) => fs.fsyncSync(fd),
  closeSync: (fd) => fs.closeSync(fd),
  renameSync: (a, b) => fs.renameSync(a, b),
};

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-atomic-"));
}

const payload = Buffer.from(Array.from({ length: 100_000 }, (_, i) => i % 251));

test("short writes (fewer bytes than asked) are continued until every byte is on disk", () => {
  const dir = tempDir();
  const file = path.join(dir, "checkpoint.rnnlab");
  let calls = 0;
  // At most 7,000 bytes per call, as a nearly full or interrupted write returns.
  const short: AtomicFileSystem = { ...real, writeSync: (fd, b, o, l) => (calls++, fs.writeSync(fd, b, o, Math.min(l, 7_000))) };
  writeFileAtomic(file, payload, short);
  assert.ok(calls > 1, `${calls} write calls`);
  assert.deepEqual(fs.readFileSync(file), payload);
  assert.deepEqual(fs.readdirSync(dir), ["checkpoint.rnnlab"], "no temp file is left");
});

test("a full disk (ENOSPC after a partial write) leaves the old file intact and names the path and the space needed", () => {
  const dir = tempDir();
  const file = path.join(dir, "result.json");
  fs.writeFileSync(file, "old, complete");
  let written = 0;
  const full: AtomicFileSystem = {
    ...real,
    writeSync: (fd, b, o, l) => {
      if (written >= 30_000) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
      const n = fs.writeSync(fd, b, o, Math.min(l, 30_000 - written));
      written += n;
      return n;
    },
  };
  assert.throws(
    () => writeFileAtomic(file, payload, full),
    (e: Error) => e.message.includes(file) && /no space left/.test(e.message) && /100000 bytes needed/.test(e.message),
  );
  assert.equal(fs.readFileSync(file, "utf8"), "old, complete");
  assert.deepEqual(fs.readdirSync(dir), ["result.json"], "the partial temp file is removed");
});

test("a write that returns 0 bytes (no progress) fails instead of renaming a short file", () => {
  const dir = tempDir();
  const file = path.join(dir, "run.json");
  fs.writeFileSync(file, "old");
  let first = true;
  const stuck: AtomicFileSystem = {
    ...real,
    writeSync: (fd, b, o, l) => {
      if (first) return (first = false), fs.writeSync(fd, b, o, Math.min(l, 10));
      return 0;
    },
  };
  assert.throws(() => writeFileAtomic(file, payload, stuck), /run\.json/);
  assert.equal(fs.readFileSync(file, "utf8"), "old");
});

test("a failed fsync or rename leaves the old file and no temp file", () => {
  const dir = tempDir();
  const file = path.join(dir, "outcome.json");
  fs.writeFileSync(file, "old");
  for (const broken of [
    { ...real, fsyncSync: () => { throw Object.assign(new Error("EIO: i/o error, fsync"), { code: "EIO" }); } },
    { ...real, renameSync: () => { throw Object.assign(new Error("EXDEV"), { code: "EXDEV" }); } },
  ] satisfies AtomicFileSystem[]) {
    assert.throws(() => writeFileAtomic(file, "new", broken), (e: Error) => e.message.includes(file));
    assert.equal(fs.readFileSync(file, "utf8"), "old");
    assert.deepEqual(fs.readdirSync(dir), ["outcome.json"]);
  }
});

test("temp files of dead writers are cleaned; a live process's are kept", () => {
  const dir = tempDir();
  const dead = path.join(dir, ".checkpoint.rnnlab.2147483646.1700000000000.tmp");
  const live = path.join(dir, `.result.json.${process.ppid}.1700000000000.tmp`);
  const other = path.join(dir, "notes.tmp");
  for (const f of [dead, live, other]) fs.writeFileSync(f, "x");
  assert.deepEqual(cleanStaleTempFiles(dir), [dead]);
  assert.deepEqual(fs.readdirSync(dir).sort(), [path.basename(live), "notes.tmp"].sort());
});

test("the default file system is node:fs, so a short fs.writeSync in production is continued too", () => {
  const dir = tempDir();
  const file = path.join(dir, "checkpoint.rnnlab");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const nodeFs = require("node:fs") as typeof fs;
  const original = nodeFs.writeSync;
  // A 5 MiB write into 3 MiB of space: the kernel returns a short count, not an error.
  (nodeFs as { writeSync: unknown }).writeSync = (fd: number, b: Uint8Array, o: number, l: number) => original(fd, b, o, Math.min(l, 30_000));
  try {
    writeFileAtomic(file, payload);
  } finally {
    (nodeFs as { writeSync: unknown }).writeSync = original;
  }
  assert.equal(fs.statSync(file).size, payload.length);
});
