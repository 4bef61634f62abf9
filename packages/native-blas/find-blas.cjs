// Prints the include directories ("include") or linker flags ("libs") for OpenBLAS, for binding.gyp.
// pkg-config first; then the places Debian/Ubuntu, Fedora and Homebrew put it.
"use strict";
const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

function pkgConfig(flag) {
  try {
    return execFileSync("pkg-config", [flag, "openblas"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return undefined;
  }
}

const includeCandidates = [
  "/usr/include/x86_64-linux-gnu/openblas-pthread",
  "/usr/include/aarch64-linux-gnu/openblas-pthread",
  "/usr/include/openblas",
  "/opt/homebrew/opt/openblas/include",
  "/usr/local/opt/openblas/include",
  "/usr/include",
];

const what = process.argv[2];
if (what === "include") {
  const flags = pkgConfig("--cflags-only-I");
  const fromPkg = flags ? flags.split(/\s+/).filter(Boolean).map((f) => f.replace(/^-I/, "")) : [];
  const found = [...fromPkg, ...includeCandidates].find((d) => fs.existsSync(path.join(d, "cblas.h")));
  console.log(found ?? "");
} else if (what === "libs") {
  console.log(pkgConfig("--libs") || "-lopenblas");
} else {
  console.error("usage: node find-blas.cjs include|libs");
  process.exit(2);
}
