/** Test helpers: temporary directories with generated fixtures, and the real-data gate. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { checkDataset } from "../src/store";

const created: string[] = [];
process.on("exit", () => {
  for (const dir of created) fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh temporary directory, removed when the test process exits. */
export function temporaryDirectory(prefix = "rnnlab-data-"): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  created.push(dir);
  return dir;
}

export function writeFixture(root: string, relative: string, content: string | Uint8Array): string {
  const file = path.join(root, relative);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  return file;
}

/**
 * The real-data directory when RNNLAB_DATA_DIR is set and `dataset` is fully present there, else a
 * reason to skip (tests call `t.skip(reason)` so the skip is visible).
 */
export function realDataDirectory(dataset: string): { dir: string } | { skip: string } {
  const dir = process.env.RNNLAB_DATA_DIR;
  if (!dir) return { skip: `RNNLAB_DATA_DIR is not set (e.g. RNNLAB_DATA_DIR=/path/to/datasets): real ${dataset} not checked` };
  const state = checkDataset(dataset, { dataDir: dir, hash: false }).state;
  if (state !== "present") return { skip: `${dataset} is ${state} in ${dir}` };
  return { dir };
}
