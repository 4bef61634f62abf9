// Loads the native BLAS addon, or says why it cannot: { binding } or { error }.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

function load() {
  const file = path.join(__dirname, "build", "Release", "rnnlab_blas.node");
  if (!fs.existsSync(file)) {
    const marker = path.join(__dirname, "build", "unavailable.txt");
    const why = fs.existsSync(marker)
      ? fs.readFileSync(marker, "utf8").trim()
      : "not built (run `npm rebuild @rnnlab/native-blas`)";
    return { error: why };
  }
  try {
    return { binding: require(file), file };
  } catch (e) {
    return { error: `load failed: ${String(e && e.message ? e.message : e).split("\n")[0]}` };
  }
}

module.exports = { load };
