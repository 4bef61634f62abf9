// npm install hook: build the addon with npm's bundled node-gyp. A failed build never fails `npm ci`:
// the cause is written to build/unavailable.txt, and @rnnlab/core then reports the wasm backend with
// "native matmul unavailable: <cause>".
"use strict";
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const here = __dirname;
const buildDir = path.join(here, "build");
const marker = path.join(buildDir, "unavailable.txt");

if (process.env.RNNLAB_SKIP_NATIVE_BLAS === "1") {
  fs.mkdirSync(buildDir, { recursive: true });
  fs.writeFileSync(marker, "not built: RNNLAB_SKIP_NATIVE_BLAS=1 at install time\n");
  process.exit(0);
}

// Skip the rebuild when the addon in build/ was made from these very sources by this Node ABI: a rebuild
// deletes build/ first, and any process that loads the addon meanwhile silently falls back to wasm.
const crypto = require("node:crypto");
const stampFile = path.join(buildDir, "source-hash.txt");
const hash = crypto.createHash("sha256");
for (const f of ["src/blas.c", "binding.gyp", "find-blas.cjs"]) hash.update(fs.readFileSync(path.join(here, f)));
hash.update(`${process.versions.napi} ${process.platform} ${process.arch}`);
const stamp = hash.digest("hex");
const built = path.join(buildDir, "Release", "rnnlab_blas.node");
if (process.env.RNNLAB_REBUILD_NATIVE_BLAS !== "1" && fs.existsSync(built) && fs.existsSync(stampFile) && fs.readFileSync(stampFile, "utf8").trim() === stamp) {
  process.exit(0);
}

fs.rmSync(marker, { force: true });
const gyp = process.env.npm_config_node_gyp;
const [cmd, args] = gyp && fs.existsSync(gyp) ? [process.execPath, [gyp, "rebuild"]] : ["node-gyp", ["rebuild"]];
const r = spawnSync(cmd, args, { cwd: here, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
if (r.status === 0) {
  fs.writeFileSync(stampFile, stamp + "\n");
  process.exit(0);
}

const log = `${r.stdout ?? ""}\n${r.stderr ?? ""}`;
const lines = log.split("\n");
const hint =
  lines.find((l) => /cblas\.h|openblas|Accelerate/i.test(l) && /error|not found|cannot find/i.test(l)) ??
  lines.find((l) => /error/i.test(l)) ??
  (r.error ? String(r.error.message) : `node-gyp exited with ${r.status}`);
const fix =
  process.platform === "darwin"
    ? "install the Xcode command line tools (xcode-select --install), then `npm rebuild @rnnlab/native-blas`"
    : "install OpenBLAS and a C compiler (Debian/Ubuntu: `apt-get install libopenblas-dev build-essential`, or `npm run setup` as root), then `npm rebuild @rnnlab/native-blas`";
fs.mkdirSync(buildDir, { recursive: true });
fs.writeFileSync(marker, `build failed: ${hint.trim()}; ${fix}\n`);
fs.writeFileSync(path.join(buildDir, "build.log"), log);
console.warn(`@rnnlab/native-blas: ${hint.trim()} (the wasm matrix products will be used; ${fix})`);
process.exit(0);
