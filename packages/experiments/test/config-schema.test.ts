/**
 * Issue 16, "typed configs with one schema each": every registered experiment has a zod schema, every preset
 * of every experiment validates, and a bad value (via `--set`) is a ConfigError at resolve time naming the
 * experiment, the dotted key, the value, the allowed values or range and the fix; validation never changes the
 * config (its hash is that of the unvalidated resolution).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { z } from "zod";
import { ConfigError, configHash, configKeys, listExperiments, resolveConfig, resolveExperimentConfig, stableStringify } from "../src";
import { positiveInt, validateConfig } from "../src/schemas";
import { PRESET_NAMES } from "../src/types";

const EXPECTED_IDS = [
  "atn/adding", "atn/char-ptb", "atn/copying", "atn/denoise", "atn/window", "env/tiny", "g2lstm/ptb", "g2lstm/translation",
  "ncgru/char-ptb", "ncgru/denoise", "ncgru/neumann", "ncgru/parenthesis", "sdropout/ner", "sdropout/ptb", "sdropout/rate-sweep",
  "sdropout/translation", "sg/ptb",
];

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${(e as Error).name}: ${(e as Error).message}`);
    return e;
  }
  assert.fail("expected a ConfigError, nothing was thrown");
}

function valueAt(config: unknown, key: string): unknown {
  return key.split(".").reduce<unknown>((node, k) => (node as Record<string, unknown>)[k], config);
}

test("every registered experiment has a schema, and each of its presets validates", () => {
  const ids = listExperiments().map((e) => e.id);
  for (const id of EXPECTED_IDS) assert.ok(ids.includes(id), `${id} is registered`);
  for (const definition of listExperiments()) {
    assert.ok(definition.schema, `${definition.id} has a schema`);
    assert.equal(definition.schema.safeParse(definition.base).success, true, `${definition.id}: the base config validates`);
    for (const preset of PRESET_NAMES) {
      const { config } = resolveExperimentConfig(definition.id, preset);
      const parsed = definition.schema.safeParse(config);
      assert.equal(parsed.success, true, `${definition.id} (${preset}): ${parsed.success ? "" : parsed.error.message}`);
    }
  }
});

test("validation leaves the resolved config and its hash as they are", () => {
  for (const definition of listExperiments()) {
    for (const preset of PRESET_NAMES) {
      const plain = resolveConfig(definition.base, definition.presets[preset], undefined, preset);
      const { config, configHash: hash } = resolveExperimentConfig(definition.id, preset);
      assert.equal(stableStringify(config), stableStringify(plain), `${definition.id} (${preset})`);
      assert.equal(hash, configHash(plain), `${definition.id} (${preset})`);
      assert.ok(Object.isFrozen(config), `${definition.id} (${preset}): still frozen`);
    }
  }
});

test("a bad optimizer is a ConfigError naming the experiment, key, value, allowed values and the fix", () => {
  const e = configError(() => resolveExperimentConfig("atn/adding", "cpu", ["train.optimizer=adamm"]));
  assert.match(e.message, /^atn\/adding \(preset "cpu"\)/);
  assert.ok(e.message.includes('"train.optimizer" = "adamm"'), e.message);
  assert.ok(e.message.includes("one of adam, rmsprop, sgd"), e.message);
  assert.ok(e.message.includes("--set train.optimizer=<adam|rmsprop|sgd>"), e.message);
  assert.ok(e.message.includes(`the preset's value is "rmsprop"`), e.message);
  // Language models also accept NT-ASGD.
  const lm = configError(() => resolveExperimentConfig("g2lstm/ptb", "smoke", { "model.optimizer": "adamw" }));
  assert.ok(lm.message.includes('"model.optimizer" = "adamw"') && lm.message.includes("sgd, adam, asgd, rmsprop"), lm.message);
  // The allowed values pass.
  for (const optimizer of ["adam", "rmsprop", "sgd"]) assert.doesNotThrow(() => resolveExperimentConfig("atn/adding", "cpu", [`train.optimizer=${optimizer}`]));
});

test("a bad cell kind, gate, normalization, dropout kind or dataset is caught at resolve time", () => {
  const cases: [string, string, string[]][] = [
    ["ncgru/denoise", "arms.gru.cell=grux", ["arms.gru.cell", "lstm, gru, nc-gru, scornn"]],
    ["ncgru/char-ptb", "arms.lstm.cell=scornn", ["arms.lstm.cell", "gru, lstm, nc-gru"]],
    ["ncgru/char-ptb", "ncgruCandidate.form=before", ["ncgruCandidate.form", "resetBeforeProduct", "resetAfterProduct"]],
    ["g2lstm/ptb", "arms.g2.gate=gumble", ["arms.g2.gate", "sigmoid, sharpened, gumbel"]],
    ["atn/adding", "arms.atn.normalization=batch", ["arms.atn.normalization", "none, layer, assortedTime"]],
    ["sdropout/ner", "arms.structured.kind=zoneout", ["arms.structured.kind", "elementwise, structured, none"]],
    ["g2lstm/translation", "dropout.kind=structured", ["dropout.kind", "none, elementwise, locked"]],
    ["sg/ptb", "data.dataset=ptb-word", ["data.dataset", "ptb, ptb-char, wikitext-2"]],
    ["sg/ptb", "arms.dni.gradients=dni", ["arms.dni.gradients", "none, synthetic, alternating"]],
    ["sdropout/translation", "decoding.lengthPenalty=gnmt:", ["decoding.lengthPenalty", "gnmt:<alpha>"]],
  ];
  for (const [id, set, parts] of cases) {
    const e = configError(() => resolveExperimentConfig(id, "cpu", [set]));
    for (const part of [id, ...parts]) assert.ok(e.message.includes(part), `${id} --set ${set}: "${part}" in ${e.message}`);
    assert.ok(e.message.includes(`--set ${parts[0]}=<`), e.message);
  }
  assert.doesNotThrow(() => resolveExperimentConfig("sdropout/translation", "cpu", ["decoding.lengthPenalty=gnmt:0.6"]));
});

test("every string setting of every experiment is checked against its allowed values", () => {
  for (const definition of listExperiments()) {
    const { config } = resolveExperimentConfig(definition.id, "cpu");
    for (const key of configKeys(config)) {
      if (typeof valueAt(config, key) !== "string") continue;
      const e = configError(() => resolveExperimentConfig(definition.id, "cpu", [`${key}=no-such-value`]));
      assert.ok(e.message.includes(`"${key}" = "no-such-value"`), `${definition.id} ${key}: ${e.message}`);
    }
  }
});

test("out-of-range numbers are caught with the range and the fix", () => {
  const cases: [string, string, string][] = [
    ["atn/copying", "train.steps=-5", "a whole number >= 1"],
    ["atn/copying", "train.steps=2.5", "a whole number >= 1"],
    ["sdropout/ptb", "arms.structured.rate=1.5", "a dropout rate in [0, 1)"],
    ["g2lstm/ptb", "dropout.input=1.5", "a dropout rate in [0, 1)"],
    ["g2lstm/ptb", "arms.g2.noiseProbability=1.5", "a probability in [0, 1]"],
    ["g2lstm/ptb", "learningRateDecay.factor=1.5", "a factor in (0, 1]"],
    ["atn/denoise", "train.learningRate=0", "a number > 0"],
    ["atn/copying", "train.momentum=1", "a momentum in [0, 1)"],
    ["ncgru/neumann", "arms.order3.neumannOrder=4", "1, 2 or 3"],
    ["sg/ptb", "model.clipNorm=-1", "a number >= 0"],
    ["env/tiny", "train.batchSize=0", "a whole number >= 1"],
  ];
  for (const [id, set, rule] of cases) {
    const [key, value] = set.split("=");
    const e = configError(() => resolveExperimentConfig(id, "cpu", [set]));
    assert.ok(e.message.includes(id), e.message);
    assert.ok(e.message.includes(`"${key}" = ${value}`), `${set}: ${e.message}`);
    assert.ok(e.message.includes(`it must be ${rule}`), `${set}: ${e.message}`);
    assert.ok(e.message.includes(`--set ${key}=<${rule}`), `${set}: ${e.message}`);
  }
  // Several bad values are reported together.
  const both = configError(() => resolveExperimentConfig("atn/copying", "cpu", ["train.steps=0", "train.optimizer=adagrad"]));
  assert.match(both.message, /2 config values fail/);
  assert.ok(both.message.includes("train.steps") && both.message.includes("train.optimizer"), both.message);
});

test("validateConfig: a key the schema lacks (strict objects) is named with the fix; the input is untouched", () => {
  const schema = z.object({ train: z.object({ steps: positiveInt }).strict() }).strict();
  const config = Object.freeze({ train: Object.freeze({ steps: 3, stepz: 4 }) });
  assert.throws(() => validateConfig("test/x", "cpu", schema, config), (e: Error) => e instanceof ConfigError && e.message.includes('"train.stepz"') && /remove it/.test(e.message));
  const good = { train: { steps: 3 } };
  validateConfig("test/x", "cpu", schema, good);
  assert.deepEqual(good, { train: { steps: 3 } });
});

test("`rnnlab config <id> --set <bad>` exits 2 with the message", () => {
  const root = path.resolve(__dirname, "..", "..", "..");
  const bin = path.join(root, "packages", "experiments", "bin", "rnnlab.js");
  const run = spawnSync(process.execPath, [bin, "config", "atn/adding", "--set", "train.optimizer=adamm"], { cwd: root, encoding: "utf8", timeout: 300_000 });
  assert.equal(run.status, 2, run.stderr);
  assert.ok(run.stderr.includes('"train.optimizer" = "adamm"'), run.stderr);
  assert.ok(run.stderr.includes("--set train.optimizer=<adam|rmsprop|sgd>"), run.stderr);
  const range = spawnSync(process.execPath, [bin, "config", "sdropout/ptb", "--preset", "smoke", "--set", "arms.structured.rate=1.5"], { cwd: root, encoding: "utf8", timeout: 300_000 });
  assert.equal(range.status, 2, range.stderr);
  assert.ok(range.stderr.includes('"arms.structured.rate" = 1.5') && range.stderr.includes("[0, 1)"), range.stderr);
});
