/**
 * Option validation shared by every cell and helper: bad input is an Error that names the option,
 * the value given and what is allowed.
 */

export function checkOptions(where: string, options: object, allowed: readonly string[]): void {
  if (options === null || typeof options !== "object") {
    throw new Error(`${where}: options must be an object, got ${String(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw new Error(`${where}: unknown option "${key}". Allowed options: ${allowed.join(", ")}.`);
    }
  }
}

export function checkInteger(where: string, name: string, value: unknown, minimum: number): asserts value is number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < minimum) {
    throw new Error(`${where}: option "${name}" must be an integer >= ${minimum}, got ${String(value)}.`);
  }
}

/** A dropout-like rate: p in [0, 1). */
export function checkRate(where: string, name: string, value: unknown): asserts value is number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value >= 1) {
    throw new Error(`${where}: option "${name}" must be a rate in [0, 1), got ${String(value)}.`);
  }
}

export function checkPositive(where: string, name: string, value: unknown): asserts value is number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new Error(`${where}: option "${name}" must be a finite number > 0, got ${String(value)}.`);
  }
}

export function checkFinite(where: string, name: string, value: unknown): asserts value is number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new Error(`${where}: option "${name}" must be a finite number, got ${String(value)}.`);
  }
}

/** A tagged union member: `{kind: ...}` with kind among `kinds`. */
export function checkKind<K extends string>(where: string, name: string, value: unknown, kinds: readonly K[]): K {
  const kind = (value as { kind?: unknown } | null)?.kind;
  if (value === null || typeof value !== "object" || typeof kind !== "string" || !kinds.includes(kind as K)) {
    throw new Error(
      `${where}: option "${name}" must be an object {kind: ${kinds.map((k) => `"${k}"`).join(" | ")}, ...}, got ${JSON.stringify(value)}.`,
    );
  }
  return kind as K;
}

export function requireRng<T>(where: string, rng: T | undefined): T {
  if (!rng) {
    throw new Error(`${where}: training with a stochastic option (dropout, Gumbel gates, weight drop) needs options.rng (an Rng from @rnnlab/core).`);
  }
  return rng;
}
