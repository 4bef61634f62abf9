/**
 * Stable hashing of JSON-like values: the one stableStringify / sha256 / configHash that results (run and
 * config hashes, 64 hex chars) and checkpoints (the first 16 hex chars) share.
 */
import { createHash } from "node:crypto";

/** JSON with object keys sorted at every level: equal values give equal text regardless of key order. */
export function stableStringify(value: unknown): string {
  if (value === undefined) return "null";
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) return "null";
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(",")}]`;
  const keys = Object.keys(value as object).sort();
  return `{${keys
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${stableStringify((value as Record<string, unknown>)[k])}`)
    .join(",")}}`;
}

/** SHA-256 of a UTF-8 string, hex. */
export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** SHA-256 (hex) of the stable JSON of a config; `hexChars` keeps a prefix (checkpoints store 16). */
export function configHash(config: unknown, hexChars = 64): string {
  return sha256(stableStringify(config)).slice(0, hexChars);
}
