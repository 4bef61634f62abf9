/**
 * The report's check of a result's code (report.ts): CODE CHANGED where the source that wrote a run (its
 * provenance's source hash) differs from the current tree's, and code unknown where a run has no provenance.
 */
import { repoRoot } from "@rnnlab/core";
import { currentSourceHash, sourceChangedSince } from "./provenance";
import type { ExperimentResult } from "./results";
import { runList } from "./report-staleness";

export interface CodeChange {
  /** Runs ("<arm> seed <k>") whose recorded source hash differs from the current tree's. */
  changed: string[];
  /** Runs without provenance (written before it was recorded): whether their code changed is unknown. */
  unknown: string[];
  /** Runs in the result. */
  total: number;
  /**
   * Per commit those runs name (their provenance's, or for unknown runs the result's environment): the source
   * paths that differ between it and the working tree; null where git cannot tell (no git, commit not here).
   */
  since: { commit: string; paths: string[] | null; dirtyAtRun: boolean }[];
}

/**
 * Compare each run's source hash with the current tree's (`root`, default the repository; `currentHash`,
 * default its hash as loaded by this process). `diffs` caches `git diff` per commit across results.
 */
export function checkCodeChange(
  result: ExperimentResult,
  options: { root?: string; currentHash?: string; diffs?: Map<string, string[] | null> } = {},
): CodeChange {
  const root = options.root ?? repoRoot();
  const current = options.currentHash ?? currentSourceHash(root);
  const diffs = options.diffs ?? new Map<string, string[] | null>();
  const changed: string[] = [];
  const unknown: string[] = [];
  const commits = new Map<string, boolean>();
  let total = 0;
  for (const [arm, a] of Object.entries(result.arms)) {
    for (const run of Object.values(a.runs)) {
      total++;
      const label = `${arm} seed ${run.seed}`;
      const p = run.provenance;
      if (p && p.sourceHash === current) continue;
      (p ? changed : unknown).push(label);
      const commit = p ? p.gitCommit : result.environment.gitCommit;
      const dirty = (p ? p.gitDirty : result.environment.gitDirty) === true;
      if (commit) commits.set(commit, (commits.get(commit) ?? false) || dirty);
    }
  }
  const since = [...commits].map(([commit, dirtyAtRun]) => {
    if (!diffs.has(commit)) diffs.set(commit, sourceChangedSince(commit, root));
    return { commit, paths: diffs.get(commit)!, dirtyAtRun };
  });
  return { changed, unknown, total, since };
}

function describeSince(since: CodeChange["since"]): string {
  const MAX = 8;
  return since
    .map(({ commit, paths, dirtyAtRun }) => {
      const at = `\`${commit.slice(0, 12)}\``;
      if (paths === null) return `commit ${at} (no git, or the commit is not in this clone: files not listed)`;
      if (paths.length === 0) return `commit ${at}: no source file differs${dirtyAtRun ? " (the run's tree had uncommitted changes)" : ""}`;
      const shown = paths.slice(0, MAX).map((f) => `\`${f}\``).join(", ");
      return `commit ${at}${dirtyAtRun ? " (+ the run's uncommitted changes)" : ""}: ${shown}${paths.length > MAX ? ` and ${paths.length - MAX} more` : ""}`;
    })
    .join("; ");
}

/** The report's notes on a result's code: CODE CHANGED (known, differs) and code unknown (no provenance). */
export function codeChangeNotes(change: CodeChange, options: { listFiles?: boolean } = {}): string[] {
  const notes: string[] = [];
  // The committed README must not depend on the clone's history (a shallow clone has none): there it names
  // the commits only; `rnnlab report` prints the changed files.
  const commits = [...new Set(change.since.map((s) => `\`${s.commit.slice(0, 12)}\``))].join(", ");
  const since = !change.since.length
    ? ""
    : options.listFiles === false
      ? ` Run commit(s): ${commits}; \`rnnlab report\` prints the source files changed since.`
      : ` Source files changed since ${describeSince(change.since)}.`;
  if (change.changed.length) {
    notes.push(`> **CODE CHANGED** since ${runList(change.changed, change.total)} ran: their source hash differs from the current tree's.${since} Rerun (\`--rerun\`) before trusting the numbers, or check that the changes cannot affect them.`);
  }
  if (change.unknown.length) {
    notes.push(`> **Code unknown** for ${runList(change.unknown, change.total)}: written before runs recorded a source hash.${change.changed.length ? "" : since}`);
  }
  return notes;
}
