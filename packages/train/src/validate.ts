/** Config checks shared by the trainers: unknown keys are errors that name the key and the allowed ones. */
export function checkKeys(where: string, value: object | undefined, allowed: readonly string[]): void {
  if (value === undefined || value === null) return;
  if (typeof value !== "object") throw new Error(`${where} must be an object, got ${typeof value}`);
  for (const k of Object.keys(value))
    if (!allowed.includes(k)) throw new Error(`${where}.${k} is not a known option; allowed: ${allowed.join(", ")}`);
}

export function checkPositiveInteger(where: string, value: unknown, minimum = 1): void {
  if (typeof value !== "number" || !Number.isInteger(value) || value < minimum)
    throw new Error(`${where}=${String(value)} must be an integer >= ${minimum}`);
}
