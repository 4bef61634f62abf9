/**
 * The repository must stand on its own: no file may point at an absolute path of the machine it was written
 * on (the "work" and "root" top-level folders), nor at the team's notes kept outside the repository (the
 * PAPERS, PERF and TOOLING markdown files, the shared docs folder). The papers, performance notes and tooling
 * traps live in docs/. Checks every file git tracks, plus untracked files that .gitignore does not exclude.
 * This file spells the patterns so that it does not match them itself.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

const root = path.resolve(__dirname, "..");

/** An absolute path under the top-level work or root folder; a slash that continues a word or a path is fine. */
const ABSOLUTE_MACHINE_PATH = /(?<![\w.~\-/])\/(?:work|root)(?![\w.-])/;
/** The team's notes that a user cloning the project does not have. */
const EXTERNAL_NOTES = /PAPERS\.md|\bPAPERS §|\bPAPERS, general notes|\bPERF\.md|\bTOOLING\.md|shared\/docs/;

function repositoryFiles(): string[] {
  const out = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: root, encoding: "utf8", maxBuffer: 64 << 20 });
  return [...new Set(out.split("\0").filter(Boolean))].sort();
}

function offendingLines(relative: string): string[] {
  let content: Buffer;
  try {
    content = fs.readFileSync(path.join(root, relative));
  } catch {
    return []; // deleted in the working tree, or not a plain file
  }
  if (content.subarray(0, 8000).includes(0)) return []; // binary (PNG and the like)
  const found: string[] = [];
  content
    .toString("utf8")
    .split("\n")
    .forEach((line, k) => {
      const what = ABSOLUTE_MACHINE_PATH.test(line) ? "absolute machine path" : EXTERNAL_NOTES.test(line) ? "reference outside the repository" : "";
      if (what) found.push(`${relative}:${k + 1}: ${what}: ${line.trim().slice(0, 160)}`);
    });
  return found;
}

test("the patterns catch what they should and leave relative paths alone", () => {
  const w = "/" + "work";
  const r = "/" + "root";
  for (const bad of [` ${w}/main/x`, `'${r}/.cache'`, `see ${w}/x`, `(${w})`, r]) assert.ok(ABSOLUTE_MACHINE_PATH.test(bad), bad);
  for (const ok of [`a${w}/b`, `https://example.org${w}/x`, `${w}space/x`, `${r}ed`, `~${w}`, `.${w}/x`, "homework"]) assert.ok(!ABSOLUTE_MACHINE_PATH.test(ok), ok);
  const md = "." + "md";
  for (const bad of [`see PAPERS${md} §1`, "(PAPERS" + " §5)", `PERF${md} §2`, `../shared/${"docs"}/TOOLING${md}`]) assert.ok(EXTERNAL_NOTES.test(bad), bad);
  for (const ok of ["docs/papers/g2-lstm.md", "docs/performance.md §2", "docs/tooling.md"]) assert.ok(!EXTERNAL_NOTES.test(ok), ok);
});

test("no file in the repository points at an absolute machine path or at notes outside the repository", () => {
  const files = repositoryFiles();
  assert.ok(files.length > 50, `git ls-files listed only ${files.length} files`);
  const problems = files.flatMap(offendingLines);
  assert.deepEqual(problems, [], `Replace these with docs/ references or relative paths:\n${problems.join("\n")}`);
});
