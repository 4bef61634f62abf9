/**
 * Experiments by id. Each paper folder registers its experiments when `./experiments` is imported.
 */
import type { DeepReadonly } from "./config";
import type { ExperimentDefinition } from "./types";

/** An unknown experiment id, preset or option: a usage error (CLI exit code 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

const registry = new Map<string, ExperimentDefinition>();

export function registerExperiment<C extends object>(definition: ExperimentDefinition<C>): ExperimentDefinition<C> {
  if (!/^[a-z0-9]+\/[a-z0-9-]+$/.test(definition.id)) {
    throw new Error(`registerExperiment: id "${definition.id}" must look like "<paper>/<name>" (lowercase, digits, dashes).`);
  }
  if (registry.has(definition.id)) throw new Error(`registerExperiment: "${definition.id}" is registered twice.`);
  registry.set(definition.id, definition as ExperimentDefinition);
  return definition;
}

export function listExperiments(): ExperimentDefinition[] {
  return [...registry.values()].sort((a, b) => a.id.localeCompare(b.id));
}

export function getExperiment(id: string): ExperimentDefinition {
  const found = registry.get(id);
  if (found) return found;
  const ids = [...registry.keys()].sort();
  const near = ids.filter((i) => i.startsWith(id.split("/")[0]) || i.includes(id));
  throw new UsageError(
    `Unknown experiment "${id}".${near.length ? ` Did you mean: ${near.join(", ")}?` : ""} ` +
      `Registered: ${ids.join(", ")} (see \`rnnlab list\`).`,
  );
}

export function paperOf(id: string): string {
  return id.split("/")[0];
}

export function nameOf(id: string): string {
  return id.split("/")[1];
}

export function armNames<C extends object>(definition: ExperimentDefinition<C>, config: DeepReadonly<C>): string[] {
  if (definition.arms) return definition.arms(config);
  const arms = (config as { arms?: Record<string, unknown> }).arms;
  if (!arms) throw new Error(`${definition.id}: no arms() and no config.arms section.`);
  return Object.keys(arms);
}
