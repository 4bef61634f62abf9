import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { repoRoot } from "@rnnlab/core";
import { DATASET_NAMES, loadManifest, type Manifest } from "../src/manifest";
import { cachedSha256, checkDataset, dataDirectory, requireDatasetFiles, sha256File } from "../src/store";
import { decodeUtf8, readLines, readTextFile, splitLines } from "../src/text";
import { realDataDirectory, temporaryDirectory, writeFixture } from "./helpers";

const sha = (s: string | Uint8Array) => crypto.createHash("sha256").update(s).digest("hex");

test("manifest lists every dataset with well-formed files and sources", () => {
  const manifest = loadManifest();
  assert.deepEqual(Object.keys(manifest.datasets).sort(), [...DATASET_NAMES].sort());
  for (const [name, d] of Object.entries(manifest.datasets)) {
    assert.ok(d.files.length > 0, name);
    assert.ok(d.licence.length > 0, name);
    for (const f of d.files) if (f.sha256 !== null) assert.match(f.sha256, /^[0-9a-f]{64}$/, `${name}/${f.path}`);
    const covered = new Set(d.sources.flatMap((s) => s.targets.map((t) => t.file)));
    if (name !== "iwslt14_de_en") for (const f of d.files) assert.ok(covered.has(f.path), `${name}/${f.path} has a download source`);
  }
  assert.equal(manifest.datasets.iwslt14_de_en.sources.length, 0);
  assert.ok(manifest.datasets.iwslt14_de_en.prepare?.steps.length);
  assert.equal(manifest.datasets.ptb.counts.trainTokensWithEos, 929589);
});

test("decodeUtf8 names file:line and byte of invalid UTF-8", () => {
  const bytes = Buffer.concat([Buffer.from("ok line\nsecond é\nbad "), Buffer.from([0xff, 0x41]), Buffer.from("\n")]);
  assert.throws(() => decodeUtf8(bytes, "x.txt"), /x\.txt:3: invalid UTF-8 \(byte 0xff at byte column 5\)/);
  assert.equal(decodeUtf8(Buffer.from("é\n"), "y"), "é\n");
});

test("readTextFile rejects empty files and bad gzip; splitLines matches wc -l and strips CR", () => {
  const dir = temporaryDirectory();
  const empty = writeFixture(dir, "empty.txt", "");
  assert.throws(() => readTextFile(empty, { expected: "one sentence per line" }), /empty\.txt: empty file; expected one sentence per line/);
  const badGz = writeFixture(dir, "bad.gz", "not gzip");
  assert.throws(() => readTextFile(badGz), /bad\.gz: not a valid gzip file/);
  assert.deepEqual(splitLines("a\r\nb\n\nc\n"), ["a", "b", "", "c"]);
  assert.deepEqual(splitLines("a\nb"), ["a", "b"]);
  const crlf = writeFixture(dir, "crlf.txt", "x y\r\nz\r\n");
  assert.deepEqual(readLines(crlf), ["x y", "z"]);
});

function fakeManifest(files: Record<string, string>): Manifest {
  return {
    schemaVersion: 1,
    datasets: {
      toy: {
        title: "toy",
        licence: "test",
        counts: {},
        sources: [],
        files: Object.entries(files).map(([p, content]) => ({ path: p, size: Buffer.byteLength(content), sha256: sha(content) })),
      },
    },
  };
}

test("checkDataset reports present / partial / corrupt, and the mismatch names expected and actual digests", () => {
  const dir = temporaryDirectory();
  const manifest = fakeManifest({ "a.txt": "alpha\n", "sub/b.txt": "beta\n" });
  assert.equal(checkDataset("toy", { dataDir: dir, manifest }).state, "missing");
  writeFixture(dir, "toy/a.txt", "alpha\n");
  assert.equal(checkDataset("toy", { dataDir: dir, manifest }).state, "partial");
  writeFixture(dir, "toy/sub/b.txt", "beta\n");
  assert.equal(checkDataset("toy", { dataDir: dir, manifest }).state, "present");
  writeFixture(dir, "toy/sub/b.txt", "BETA\n"); // same size, different bytes
  const check = checkDataset("toy", { dataDir: dir, manifest });
  assert.equal(check.state, "corrupt");
  const bad = check.files.find((f) => f.path === "sub/b.txt")!;
  assert.equal(bad.status, "sha256-mismatch");
  assert.match(bad.message, new RegExp(`b\\.txt: sha256 mismatch: expected ${sha("beta\n")}, actual ${sha("BETA\n")}`));
  writeFixture(dir, "toy/a.txt", "alpha!\n");
  assert.equal(checkDataset("toy", { dataDir: dir, manifest }).files[0].status, "size-mismatch");
});

test("sha256 cache: same (path, size, mtime) is not re-hashed; a changed file is", () => {
  const dir = temporaryDirectory();
  const file = writeFixture(dir, "f.bin", "one");
  assert.equal(cachedSha256(file), sha("one"));
  fs.writeFileSync(file, "two!");
  assert.equal(cachedSha256(file), sha("two!"));
  assert.equal(sha256File(file), sha("two!"));
});

test("a missing dataset error names the dataset, the directory, the fetch command and RNNLAB_DATA_DIR", () => {
  const dir = temporaryDirectory();
  assert.throws(
    () => requireDatasetFiles("wnut17", ["wnut17train.conll"], { dataDir: dir }),
    (e: Error) =>
      e.message.includes('Dataset "wnut17"') &&
      e.message.includes(path.join(dir, "wnut17")) &&
      e.message.includes("npm run data -- fetch wnut17") &&
      e.message.includes("RNNLAB_DATA_DIR"),
  );
  writeFixture(dir, "wnut17/wnut17train.conll", "x\tO\n");
  assert.throws(() => requireDatasetFiles("wnut17", ["wnut17train.conll"], { dataDir: dir }), /size 4 bytes, expected 493781/);
  assert.deepEqual(requireDatasetFiles("wnut17", ["wnut17train.conll"], { dataDir: dir, verify: false }), [path.join(dir, "wnut17", "wnut17train.conll")]);
});

test("data directory: RNNLAB_DATA_DIR, else <repo>/datasets", () => {
  const saved = process.env.RNNLAB_DATA_DIR;
  try {
    delete process.env.RNNLAB_DATA_DIR;
    assert.equal(dataDirectory(), path.join(repoRoot(), "datasets"));
    process.env.RNNLAB_DATA_DIR = "/tmp/somewhere";
    assert.equal(dataDirectory(), "/tmp/somewhere");
    assert.equal(dataDirectory("/x"), "/x");
  } finally {
    if (saved === undefined) delete process.env.RNNLAB_DATA_DIR;
    else process.env.RNNLAB_DATA_DIR = saved;
  }
});

const cli = (args: string[], dataDir: string) =>
  spawnSync(process.execPath, ["--import", "tsx", path.join(__dirname, "..", "src", "cli.ts"), ...args], {
    env: { ...process.env, RNNLAB_DATA_DIR: dataDir },
    encoding: "utf8",
    cwd: repoRoot(),
  });

test("CLI: list shows missing/corrupt, verify exits 1 on a mismatch and 0 when nothing is wrong", () => {
  const dir = temporaryDirectory();
  let r = cli(["verify"], dir);
  assert.equal(r.status, 0, r.stderr);
  writeFixture(dir, "wnut17/emerging.dev.conll", "x\tO\n");
  r = cli(["list"], dir);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /wnut17\s+corrupt/);
  assert.match(r.stdout, /ptb\s+missing/);
  r = cli(["verify", "wnut17"], dir);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /size-mismatch\s+wnut17\/emerging\.dev\.conll/);
  r = cli(["fetch", "iwslt14_de_en"], dir);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no direct download.*prepare-iwslt14\.sh/s);
});

test("real data: `verify` passes for every present dataset", (t) => {
  const real = realDataDirectory("ptb");
  if ("skip" in real) return t.skip(real.skip);
  const r = cli(["verify"], real.dir);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /verify: ok/);
  assert.doesNotMatch(r.stdout, /mismatch/);
});
