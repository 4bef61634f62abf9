#!/usr/bin/env node
// The rnnlab CLI: runs the TypeScript source through tsx (registered here), so no build step is needed.
require("tsx/cjs");
require("../src/cli.ts");
