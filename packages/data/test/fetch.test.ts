import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { downloadFile, fetchDataset, type FetchProgressEvent } from "../src/fetch";
import type { Manifest, ManifestSource } from "../src/manifest";
import { repoRoot } from "@rnnlab/core";
import { temporaryDirectory, writeFixture } from "./helpers";

const sha = (s: string | Uint8Array) => crypto.createHash("sha256").update(s).digest("hex");

// Generated content: 200 kB of deterministic lines, so a cut in the middle is meaningful.
const big = Buffer.from(Array.from({ length: 20000 }, (_, i) => `line ${i} ${"x".repeat(i % 7)}`).join("\n") + "\n");
const small = Buffer.from("alpha beta\ngamma\n");
const other = Buffer.from("second file\n");

const archives = temporaryDirectory("rnnlab-fetch-src-");
let zipBytes: Buffer;
let tgzBytes: Buffer;
const routes = new Map<string, Buffer>();
const requests: { url: string; range?: string; userAgent?: string }[] = [];
let flakyServed = false;
let server: http.Server;
let base = "";

before(async () => {
  writeFixture(archives, "pkg/data/big.txt", big);
  writeFixture(archives, "pkg/data/other.txt", other);
  execFileSync("python3", ["-c", `import zipfile,sys; z=zipfile.ZipFile(sys.argv[1],'w'); z.write(sys.argv[2]+'/pkg/data/big.txt','pkg/data/big.txt'); z.write(sys.argv[2]+'/pkg/data/other.txt','pkg/data/other.txt'); z.close()`, path.join(archives, "a.zip"), archives]);
  execFileSync("tar", ["-czf", path.join(archives, "a.tgz"), "-C", archives, "./pkg"]);
  zipBytes = fs.readFileSync(path.join(archives, "a.zip"));
  tgzBytes = fs.readFileSync(path.join(archives, "a.tgz"));
  routes.set("/big.txt", big);
  routes.set("/small.txt", small);
  routes.set("/small.txt.gz", zlib.gzipSync(small));
  routes.set("/a.zip", zipBytes);
  routes.set("/a.tgz", tgzBytes);
  server = http.createServer((req, res) => {
    const url = req.url ?? "/";
    requests.push({ url, range: req.headers.range, userAgent: req.headers["user-agent"] });
    if (url === "/redirect") {
      res.writeHead(302, { Location: "/hop" });
      return res.end();
    }
    if (url === "/hop") {
      res.writeHead(301, { Location: `${base}/small.txt` });
      return res.end();
    }
    if (url === "/loop") {
      res.writeHead(302, { Location: "/loop" });
      return res.end();
    }
    if (url === "/norange.txt") {
      // A server without Range support answers 200 with the whole body: the .part must be rewritten.
      res.writeHead(200, { "Content-Length": small.length });
      return res.end(small);
    }
    const key = url === "/flaky.txt" ? "/big.txt" : url;
    const body = routes.get(key);
    if (!body) {
      res.writeHead(404);
      return res.end("not found");
    }
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    if (range) {
      const start = Number(range[1]);
      if (start >= body.length) {
        res.writeHead(416, { "Content-Range": `bytes */${body.length}` });
        return res.end();
      }
      res.writeHead(206, { "Content-Length": body.length - start, "Content-Range": `bytes ${start}-${body.length - 1}/${body.length}` });
      return res.end(body.subarray(start));
    }
    res.writeHead(200, { "Content-Length": body.length });
    if (url === "/flaky.txt" && !flakyServed) {
      // First request: send half, then drop the connection (a network failure mid-download).
      flakyServed = true;
      res.write(body.subarray(0, body.length >> 1), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => new Promise<void>((resolve) => server.close(() => resolve())));

test("downloadFile follows redirects and sends a User-Agent", async () => {
  const dir = temporaryDirectory();
  const destination = path.join(dir, "s.txt");
  const result = await downloadFile(`${base}/redirect`, destination);
  assert.deepEqual(fs.readFileSync(destination), small);
  assert.equal(result.finalUrl, `${base}/small.txt`);
  assert.match(requests.find((r) => r.url === "/redirect")!.userAgent ?? "", /^rnnlab-data\//);
  await assert.rejects(downloadFile(`${base}/loop`, path.join(dir, "loop")), /Too many redirects/);
  await assert.rejects(downloadFile(`${base}/nope`, path.join(dir, "nope")), /HTTP 404/);
});

test("an interrupted download resumes with Range from the .part file", async () => {
  const dir = temporaryDirectory();
  const destination = path.join(dir, "big.txt");
  await assert.rejects(downloadFile(`${base}/flaky.txt`, destination, { timeoutMs: 5000 }));
  const partSize = fs.statSync(`${destination}.part`).size;
  assert.ok(partSize > 0 && partSize < big.length, `partial file of ${partSize} bytes`);
  const events: FetchProgressEvent[] = [];
  const result = await downloadFile(`${base}/flaky.txt`, destination, { onProgress: (e) => events.push(e) });
  assert.equal(result.resumedFrom, partSize);
  assert.equal(requests.at(-1)!.range, `bytes=${partSize}-`);
  assert.equal(sha(fs.readFileSync(destination)), sha(big));
  assert.ok(!fs.existsSync(`${destination}.part`));
  assert.ok(events.some((e) => e.type === "download-start" && e.resumedFrom === partSize));
  // A .part that is already complete: the server answers 416 and the file is taken as is.
  fs.writeFileSync(`${destination}2.part`, big);
  const done = await downloadFile(`${base}/big.txt`, `${destination}2`);
  assert.equal(done.bytes, big.length);
  assert.equal(sha(fs.readFileSync(`${destination}2`)), sha(big));
});

function manifestWith(sources: ManifestSource[], files: { path: string; content: Buffer }[]): Manifest {
  return {
    schemaVersion: 1,
    datasets: {
      toy: {
        title: "toy",
        licence: "test",
        counts: {},
        sources,
        files: files.map((f) => ({ path: f.path, size: f.content.length, sha256: sha(f.content) })),
      },
    },
  };
}

test("fetchDataset: plain, gz, zip and tgz sources are extracted, verified and placed; reruns skip", async () => {
  const dir = temporaryDirectory();
  const manifest = manifestWith(
    [
      { url: `${base}/small.txt`, archive: "none", targets: [{ file: "plain/small.txt" }] },
      { url: `${base}/small.txt.gz`, archive: "gz", targets: [{ file: "gz/small.txt" }] },
      { url: `${base}/a.zip`, archive: "zip", sha256: sha(zipBytes), size: zipBytes.length, targets: [{ member: "pkg/data/big.txt", file: "zip/big.txt" }, { member: "pkg/data/other.txt", file: "zip/other.txt" }] },
      { url: `${base}/a.tgz`, archive: "tgz", targets: [{ member: "pkg/data/big.txt", file: "tgz/big.txt" }] },
    ],
    [
      { path: "plain/small.txt", content: small },
      { path: "gz/small.txt", content: small },
      { path: "zip/big.txt", content: big },
      { path: "zip/other.txt", content: other },
      { path: "tgz/big.txt", content: big },
    ],
  );
  const result = await fetchDataset("toy", { dataDir: dir, manifest });
  assert.deepEqual(result.placed.sort(), ["gz/small.txt", "plain/small.txt", "tgz/big.txt", "zip/big.txt", "zip/other.txt"]);
  assert.deepEqual(fs.readFileSync(path.join(dir, "toy/tgz/big.txt")), big);
  assert.deepEqual(fs.readFileSync(path.join(dir, "toy/zip/other.txt")), other);
  assert.ok(!fs.existsSync(path.join(dir, "toy/.download")), "scratch folder removed");
  const again = await fetchDataset("toy", { dataDir: dir, manifest });
  assert.equal(again.placed.length, 0);
  assert.equal(again.skipped.length, 5);
  // A corrupted file is fetched again.
  fs.writeFileSync(path.join(dir, "toy/gz/small.txt"), "ALPHA BETA\ngamma\n");
  assert.deepEqual((await fetchDataset("toy", { dataDir: dir, manifest })).placed, ["gz/small.txt"]);
});

test("fetchDataset: a checksum mismatch places nothing and names expected and actual digests; mirrors are tried", async () => {
  const dir = temporaryDirectory();
  const wrong = Buffer.from("ALPHA BETA\ngamma\n"); // same size, so the sha256 check is what fails
  const bad = manifestWith([{ url: `${base}/small.txt`, archive: "none", targets: [{ file: "x.txt" }] }], [{ path: "x.txt", content: wrong }]);
  await assert.rejects(
    fetchDataset("toy", { dataDir: dir, manifest: bad }),
    (e: Error) => e.message.includes(`expected ${sha(wrong)}, actual ${sha(small)}`) && e.message.includes("x.txt"),
  );
  assert.ok(!fs.existsSync(path.join(dir, "toy/x.txt")));
  const mirrored = manifestWith(
    [{ url: `${base}/missing.txt`, mirrors: [`${base}/small.txt`], archive: "none", targets: [{ file: "x.txt" }] }],
    [{ path: "x.txt", content: small }],
  );
  const events: FetchProgressEvent[] = [];
  await fetchDataset("toy", { dataDir: dir, manifest: mirrored, onProgress: (e) => events.push(e) });
  assert.ok(events.some((e) => e.type === "source-failed" && /HTTP 404/.test(e.error)));
  assert.deepEqual(fs.readFileSync(path.join(dir, "toy/x.txt")), small);
  const missingMember = manifestWith(
    [{ url: `${base}/a.tgz`, archive: "tgz", targets: [{ member: "pkg/nothing.txt", file: "y.txt" }] }],
    [{ path: "y.txt", content: small }],
  );
  await assert.rejects(fetchDataset("toy", { dataDir: dir, manifest: missingMember }), /has no member "pkg\/nothing\.txt"/);
});

test("a server that ignores Range restarts the .part file instead of appending", async () => {
  const dir = temporaryDirectory();
  const destination = path.join(dir, "n.txt");
  fs.writeFileSync(`${destination}.part`, "stale bytes");
  const result = await downloadFile(`${base}/norange.txt`, destination);
  assert.equal(result.resumedFrom, 0);
  assert.deepEqual(fs.readFileSync(destination), small);
});

function runCli(args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  // Asynchronous: the HTTP server lives in this process and must keep answering.
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(__dirname, "..", "src", "cli.ts"), ...args], {
      env: { ...process.env, ...env },
      cwd: repoRoot(),
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

test("CLI fetch (non-TTY) prints plain progress lines, then verify passes and list shows present", async () => {
  const dir = temporaryDirectory();
  const manifest = manifestWith(
    [
      { url: `${base}/redirect`, archive: "none", targets: [{ file: "small.txt" }] },
      { url: `${base}/a.tgz`, archive: "tgz", targets: [{ member: "pkg/data/other.txt", file: "other.txt" }] },
    ],
    [
      { path: "small.txt", content: small },
      { path: "other.txt", content: other },
    ],
  );
  const manifestFile = writeFixture(dir, "manifest.json", JSON.stringify(manifest));
  const env = { RNNLAB_MANIFEST: manifestFile, RNNLAB_DATA_DIR: path.join(dir, "data") };
  let r = await runCli(["verify", "toy"], env);
  assert.equal(r.status, 1, "a named, entirely missing dataset fails verify");
  r = await runCli(["fetch", "toy"], env);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /downloading http:\/\/127\.0\.0\.1:\d+\/small\.txt/);
  assert.match(r.stderr, /placed other\.txt \(verified\)/);
  assert.match(r.stdout, /toy: 2 file\(s\) placed/);
  r = await runCli(["verify", "toy"], env);
  assert.equal(r.status, 0, r.stdout);
  r = await runCli(["list"], env);
  assert.match(r.stdout, /toy\s+present\s+2\/2 files/);
  fs.appendFileSync(path.join(dir, "data", "toy", "other.txt"), "tampered");
  r = await runCli(["verify"], env);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /size-mismatch\s+toy\/other\.txt/);
});
