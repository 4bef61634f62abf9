/**
 * The report's checks of a result against the current code's config (report.ts): STALE per run (its run hash
 * differs from what the current config gives for its arm and seed, or its arm is gone) and the arms the
 * current config defines that the result has no runs for yet (Incomplete).
 */
import { resolveExperimentConfig, runHashFor } from "./plan";
import { armNames } from "./registry";
import type { ExperimentResult } from "./results";

export interface Staleness {
  stale: boolean;
  /** Why, when stale (or why it cannot be checked). */
  reason?: string;
  currentHash?: string;
  /** The stale runs, as "<arm> seed <k>": their run hash differs from the current config's, or their arm is gone. */
  staleRuns?: string[];
}

/** "a seeds 0, 1; b seed 2" for labels "<arm> seed <k>", or "all 6 runs" when they are all `total` runs. */
export function runList(labels: string[], total: number): string {
  if (labels.length === total) return `all ${total} run${total === 1 ? "" : "s"}`;
  const byArm = new Map<string, string[]>();
  for (const l of labels) {
    const [arm, , seed] = l.split(" ");
    byArm.set(arm, [...(byArm.get(arm) ?? []), seed]);
  }
  return [...byArm].map(([arm, seeds]) => `${arm} seed${seeds.length > 1 ? "s" : ""} ${seeds.join(", ")}`).join("; ");
}

/**
 * Compare each recorded run's run hash with what the current code's config (same preset and overrides) gives
 * for its arm and seed. A result is stale only where a recorded run is: an arm added to the experiment since
 * changes the config hash but no recorded run (missingArms reports the new arm as incomplete).
 */
export function checkStaleness(result: ExperimentResult): Staleness {
  let current: ReturnType<typeof resolveExperimentConfig>;
  try {
    current = resolveExperimentConfig(result.id, result.preset, result.overrides);
  } catch (e) {
    return { stale: true, reason: `cannot resolve the current config: ${(e as Error).message}` };
  }
  const { definition, config, configHash } = current;
  const arms = armNames(definition, config);
  const changed: string[] = [];
  const removed: string[] = [];
  let total = 0;
  for (const [arm, a] of Object.entries(result.arms)) {
    for (const run of Object.values(a.runs)) {
      total++;
      const label = `${arm} seed ${run.seed}`;
      if (!arms.includes(arm)) removed.push(label);
      else if (run.runHash !== runHashFor(result.id, config, arm, run.seed)) changed.push(label);
    }
  }
  if (!changed.length && !removed.length) return { stale: false, currentHash: configHash, staleRuns: [] };
  const reasons: string[] = [];
  if (changed.length) {
    reasons.push(
      `the run hash of ${runList(changed, total)} differs from the current config's (config hash ${result.configHash.slice(0, 12)}, now ${configHash.slice(0, 12)}: their settings changed since they ran)`,
    );
  }
  if (removed.length) {
    const gone = [...new Set(removed.map((label) => label.split(" ")[0]))];
    reasons.push(`the current config no longer defines arm${gone.length > 1 ? "s" : ""} ${gone.join(", ")} (${runList(removed, total)}; its arms: ${arms.join(", ")})`);
  }
  return { stale: true, currentHash: configHash, staleRuns: [...changed, ...removed], reason: reasons.join("; ") };
}

/** Arms the current config defines that the result has no runs for (a run still in progress, or interrupted). */
export function missingArms(result: ExperimentResult): string[] {
  try {
    const { definition, config } = resolveExperimentConfig(result.id, result.preset, result.overrides);
    return armNames(definition, config).filter((arm) => !result.arms[arm]);
  } catch {
    return [];
  }
}
