/**
 * The one config resolver: base config (the paper's values) <- preset patch <- `--set key=value` overrides.
 *
 * Rules, applied identically to preset patches and command-line overrides:
 * - a key must already exist in the base config (dotted paths: `train.lr`); anything else is a
 *   ConfigError naming the key and listing the allowed keys at that level;
 * - the value must have the base value's type (number, integer-valued number stays a number, boolean,
 *   string, array of numbers/strings, or a nested object); string values from the command line are
 *   parsed to that type;
 * - the resolved config is deep-frozen and identified by `configHash` = sha256 of its stable JSON
 *   (object keys sorted), so the same settings always give the same hash on every machine.
 */

export type ConfigValue = number | string | boolean | null | ConfigValue[] | { [key: string]: ConfigValue };
export type ConfigObject = { [key: string]: ConfigValue };

/** A deep partial of a config, used for presets. */
export type DeepPartial<T> = T extends readonly (infer _U)[]
  ? T
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

export type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** A bad config key or value; a usage error (CLI exit code 2). */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) {
    const inner = v.length ? typeof v[0] : "number";
    return `${inner}[]`;
  }
  if (isPlainObject(v)) return "object";
  return typeof v;
}

/** Every leaf key of a config as a dotted path (for error messages and `rnnlab list --keys`). */
export function configKeys(config: unknown, prefix = ""): string[] {
  if (!isPlainObject(config)) return [prefix];
  const out: string[] = [];
  for (const [k, v] of Object.entries(config)) {
    const p = prefix ? `${prefix}.${k}` : k;
    if (isPlainObject(v)) out.push(...configKeys(v, p));
    else out.push(p);
  }
  return out;
}

function allowedHint(container: Record<string, unknown>, prefix: string): string {
  const keys = configKeys(container, prefix);
  const shown = keys.slice(0, 40).join(", ");
  return keys.length > 40 ? `${shown}, ... (${keys.length} keys)` : shown;
}

/** Parse a command-line string to the type of `target` (the base value at that key). */
export function parseValueAs(key: string, raw: string, target: unknown): ConfigValue {
  const text = raw.trim();
  const fail = (): never => {
    throw new ConfigError(
      `--set ${key}=${raw}: expected a ${typeName(target)} (the current value is ${JSON.stringify(target)}).`,
    );
  };
  if (typeof target === "number") {
    if (text === "") fail();
    const n = Number(text);
    if (!Number.isFinite(n)) fail();
    return n;
  }
  if (typeof target === "boolean") {
    if (text === "true" || text === "1") return true;
    if (text === "false" || text === "0") return false;
    return fail();
  }
  if (typeof target === "string") return raw;
  if (target === null) {
    // A null base value means "unset"; accept JSON (number, string, ...) or a bare string.
    if (text === "null") return null;
    try {
      return JSON.parse(text) as ConfigValue;
    } catch {
      return raw;
    }
  }
  if (Array.isArray(target)) {
    let items: unknown[];
    if (text.startsWith("[")) {
      try {
        items = JSON.parse(text);
      } catch {
        return fail();
      }
      if (!Array.isArray(items)) return fail();
    } else {
      items = text === "" ? [] : text.split(",");
    }
    const elementType = target.length ? typeof target[0] : "number";
    return items.map((item) => {
      if (elementType === "number") {
        const n = typeof item === "number" ? item : Number(String(item).trim());
        if (!Number.isFinite(n) || String(item).trim() === "") fail();
        return n;
      }
      if (elementType === "string") return String(item).trim();
      if (elementType === "boolean") return String(item).trim() === "true";
      return item as ConfigValue;
    });
  }
  throw new ConfigError(
    `--set ${key}=${raw}: "${key}" is a section, not a value; set one of its keys: ${allowedHint(target as Record<string, unknown>, key)}.`,
  );
}

function checkSameType(key: string, value: unknown, target: unknown, source: string): void {
  if (target === null) return;
  const ok =
    (typeof target === "number" && typeof value === "number" && Number.isFinite(value)) ||
    (typeof target === "boolean" && typeof value === "boolean") ||
    (typeof target === "string" && typeof value === "string") ||
    (Array.isArray(target) &&
      Array.isArray(value) &&
      (target.length === 0 || value.every((v) => typeof v === typeof target[0]))) ||
    (isPlainObject(target) && isPlainObject(value));
  if (!ok) {
    throw new ConfigError(
      `${source}: "${key}" must be a ${typeName(target)}, got ${JSON.stringify(value)} (${typeName(value)}).`,
    );
  }
}

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** Apply a (deep partial) patch to a copy of `base`; unknown keys and type mismatches throw. */
export function applyPatch<T extends object>(base: T, patch: unknown, source: string, prefix = ""): T {
  const out = clone(base) as Record<string, unknown>;
  if (!isPlainObject(patch)) throw new ConfigError(`${source}: a patch must be an object, got ${JSON.stringify(patch)}.`);
  for (const [k, v] of Object.entries(patch)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (!(k in out)) {
      throw new ConfigError(
        `${source}: unknown config key "${key}". Allowed keys${prefix ? ` under "${prefix}"` : ""}: ${allowedHint(out, prefix)}.`,
      );
    }
    const target = out[k];
    checkSameType(key, v, target, source);
    out[k] = isPlainObject(target) ? applyPatch(target, v, source, key) : clone(v);
  }
  return out as T;
}

/** Parse `key=value` (as given to `--set`) into a dotted key and the raw value string. */
export function splitOverride(text: string): { key: string; raw: string } {
  const eq = text.indexOf("=");
  if (eq <= 0) throw new ConfigError(`--set ${text}: expected key=value, e.g. --set train.lr=0.01.`);
  return { key: text.slice(0, eq).trim(), raw: text.slice(eq + 1) };
}

/** Overrides as given on the command line (`train.lr=10`) or as an object ({"train.lr": 10}). */
export type Overrides = string[] | Record<string, ConfigValue | string>;

/** Turn overrides into a nested patch, type-checked and parsed against `base`. */
export function overridesToPatch(base: object, overrides: Overrides): ConfigObject {
  const entries: [string, ConfigValue | string][] = Array.isArray(overrides)
    ? overrides.map((o) => {
        const { key, raw } = splitOverride(o);
        return [key, raw];
      })
    : Object.entries(overrides);
  const patch: ConfigObject = {};
  for (const [key, value] of entries) {
    const parts = key.split(".");
    let node: unknown = base;
    let patchNode: ConfigObject = patch;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      const prefix = parts.slice(0, i).join(".");
      if (!isPlainObject(node) || !(part in node)) {
        const where = isPlainObject(node) ? node : {};
        throw new ConfigError(
          `--set ${key}: unknown config key "${key}". Allowed keys${prefix ? ` under "${prefix}"` : ""}: ${allowedHint(where, prefix)}.`,
        );
      }
      node = node[part];
      if (i === parts.length - 1) {
        patchNode[part] = typeof value === "string" && typeof node !== "string" ? parseValueAs(key, value, node) : (value as ConfigValue);
      } else {
        if (!isPlainObject(patchNode[part])) patchNode[part] = {};
        patchNode = patchNode[part] as ConfigObject;
      }
    }
  }
  return patch;
}

/**
 * Normalise overrides to a `key=value` list, as stored in result files and run records, in the order
 * given: a key set twice takes its last value when resolved, so sorting would store a list that
 * re-resolves to another config (`x=5 x=10` sorted is `x=10 x=5`).
 */
export function overridesToList(overrides: Overrides | undefined): string[] {
  if (!overrides) return [];
  const list = Array.isArray(overrides)
    ? overrides.map((o) => {
        const { key, raw } = splitOverride(o);
        return `${key}=${raw.trim()}`;
      })
    : Object.entries(overrides).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`);
  return list;
}

export function deepFreeze<T>(value: T): DeepReadonly<T> {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value as DeepReadonly<T>;
}

/** One stable hash for configs, runs and checkpoints (core hash.ts); re-exported for config's callers. */
export { configHash, sha256, stableStringify } from "@rnnlab/core";

/** base <- preset patch <- overrides; frozen. */
export function resolveConfig<T extends object>(
  base: T,
  presetPatch: DeepPartial<T> | undefined,
  overrides: Overrides | undefined,
  presetName = "preset",
): DeepReadonly<T> {
  let config = applyPatch(base, presetPatch ?? {}, `preset "${presetName}"`);
  if (overrides && (Array.isArray(overrides) ? overrides.length : Object.keys(overrides).length)) {
    config = applyPatch(config, overridesToPatch(config, overrides), "--set");
  }
  return deepFreeze(config);
}
