/**
 * Every config key of every registered experiment reaches training or evaluation (issue 17: AR/TAR were
 * supported by the model but never passed, so `paper` presets trained without them). For each leaf key of
 * the smoke, cpu and paper configs (cpu and paper on generated data where the experiment has a data source),
 * the key is changed and each arm is started with a probe at the adapter -> trainer boundary that records what
 * the arm hands over (trainer config, data digest, checkpoint cadence, evaluation settings) and stops the arm
 * before training; the change must show up in some arm's record in some preset, or be listed below with the
 * reason it does not.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Rng, selectBackend } from "@rnnlab/core";
import { armNames, configKeys, listExperiments, resolveExperimentConfig, stableStringify, type ArmContext, type ExperimentDefinition, type PresetName } from "../src";
import { languageModelTrainerProbe } from "../src/adapters/language-model";
import { syntheticTrainerProbe } from "../src/adapters/synthetic";
import { taggerTrainerProbe } from "../src/adapters/tagger";
import { translationTrainerProbe } from "../src/adapters/translation";

/**
 * Keys that do not reach a trainer or the test evaluation, with where they go instead. "<key>" applies to every
 * experiment that has it; "<experiment id> <key>" to that experiment only.
 */
const NOT_TRAINER_KEYS: Record<string, string> = {
  // Reporting / figures after training (read by evaluateTrained closures, not by the trainer).
  "data.dataset": "names the real corpus; the probes run on the generated one (the cpu/paper presets load it)",
  "gateMap.sentences": "g2lstm: the gate-map figure after training (evaluateTrained)",
  "gateMap.maxWords": "g2lstm: the gate-map figure after training (evaluateTrained)",
  "profile.steps": "sdropout: tf.profile of a few steps after training (evaluateTrained)",
  "target.validPerplexity": "sdropout: time to target, read off the validation curve after training (sdropout/ptb.ts withTimeToTarget)",
  // env/tiny trains in-line (no trainer package); its outcome is compared instead, and these two leave it unchanged.
  "env/tiny train.stepDelayMs": "a sleep per step for interruption tests and demos; changes no number",
  "env/tiny train.checkpointEvery": "the checkpoint cadence of an exact resume (runner.test.ts resumes a killed run to the same numbers)",
};

function allowed(id: string, key: string): boolean {
  return key in NOT_TRAINER_KEYS || `${id} ${key}` in NOT_TRAINER_KEYS;
}

/**
 * Values that show an effect on the small generated data the probes use: vocabulary and length caps above
 * the generated corpora's few dozen words and short sentences change nothing there, so a cap below them is tried.
 */
const PROBE_VALUES: Record<string, unknown> = {
  "data.maxVocabulary": 12,
  "data.maxWords": 12,
  "data.maxLength": 4,
};

const ALTERNATIVE_STRINGS: Record<string, string> = {
  adam: "sgd", sgd: "adam", asgd: "adam", rmsprop: "adam", locked: "elementwise", elementwise: "locked", structured: "elementwise",
  sigmoid: "sharpened", sharpened: "sigmoid", gumbel: "sigmoid", auto: "off", off: "auto", generated: "dataset", dataset: "generated",
  identity: "uniform", uniform: "orthogonal", orthogonal: "uniform", average: "none", none: "average",
};

function changed(value: unknown): unknown {
  if (typeof value === "boolean") return !value;
  if (typeof value === "number") return Number.isInteger(value) ? (value >= 2 ? value * 2 : value + 1) : value === 0 ? 0.125 : value * 1.5;
  if (typeof value === "string") return ALTERNATIVE_STRINGS[value] ?? `${value}-changed`;
  if (Array.isArray(value)) return [...value, value.length ? changed(value[0]) : 1];
  throw new Error(`no change rule for ${JSON.stringify(value)}`);
}

/** The changes tried for a key: the rule above, a smaller number (some caps only act downwards), and PROBE_VALUES. */
function alternatives(key: string, value: unknown): unknown[] {
  const out = [changed(value)];
  if (typeof value === "number" && value > 1) out.push(Number.isInteger(value) ? Math.floor(value / 2) : value / 2);
  if (key in PROBE_VALUES && PROBE_VALUES[key] !== value) out.push(PROBE_VALUES[key]);
  return out;
}

function withKey(config: object, key: string, value: unknown): object {
  const copy = structuredClone(config) as Record<string, unknown>;
  const parts = key.split(".");
  let node = copy;
  for (const p of parts.slice(0, -1)) node = node[p] as Record<string, unknown>;
  node[parts.at(-1)!] = value;
  return copy;
}

class Stop extends Error {}
let dir: string;
let seen = "";
let reached = false;
function record(adapter: string) {
  return (what: unknown) => {
    seen = `${adapter}:${stableStringify(what)}`;
    reached = true;
    throw new Stop();
  };
}

/**
 * What each arm hands to training under `config` (or the error it threw first). An experiment that trains
 * in-line (env/tiny: no trainer package) runs to the end and its outcome is the record (`inline`).
 */
async function observe(definition: ExperimentDefinition, preset: PresetName, config: object, inline = false): Promise<{ records: Record<string, string>; reached: boolean }> {
  const records: Record<string, string> = {};
  let any = false;
  let arms: string[];
  try {
    arms = armNames(definition, config as never);
  } catch (e) {
    return { records: { "": `error: ${(e as Error).message}` }, reached: false };
  }
  for (const arm of arms) {
    seen = "";
    reached = false;
    const ctx: ArmContext<object> = {
      experimentId: definition.id, preset, config: config as never, configHash: "probe", arm, seed: 0, rng: new Rng(0),
      runDir: fs.mkdtempSync(path.join(dir, "arm-")), resume: false, onProgress: () => {},
    };
    try {
      const outcome = await definition.runArm(ctx as never);
      if (inline) {
        seen = `outcome:${stableStringify({ final: outcome.final, curves: outcome.curves })}`;
        reached = true;
      } else seen = "finished without reaching a probe";
    } catch (e) {
      if (!(e instanceof Stop)) seen = `error: ${(e as Error).message}`;
    }
    any ||= reached;
    records[arm] = seen;
  }
  return { records, reached: any };
}

before(async () => {
  await selectBackend();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-reach-"));
  languageModelTrainerProbe.observe = ({ config: trainer, corpus, spec }) =>
    record("language-model")({ trainer, corpus, compression: spec.compression ?? null, gateHistograms: spec.gateHistograms ?? null, checkpointEverySteps: spec.model.checkpointEverySteps, level: spec.level, testBatchSize: spec.model.testBatchSize ?? null });
  syntheticTrainerProbe.observe = record("synthetic");
  translationTrainerProbe.observe = record("translation");
  taggerTrainerProbe.observe = record("tagger");
});
after(() => {
  languageModelTrainerProbe.observe = undefined;
  syntheticTrainerProbe.observe = undefined;
  translationTrainerProbe.observe = undefined;
  taggerTrainerProbe.observe = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Experiments observed through their outcome at the smoke preset only (they train in-line and take seconds). */
const INLINE = new Set(["env/tiny"]);

test("every config key of every registered experiment reaches the trainer or the test evaluation (or is listed with the reason)", async () => {
  // A key counts when changing it changes what some arm hands over at some preset: some keys only act in
  // one of them (e.g. learning-rate decay steps when the smoke preset keeps the rate constant).
  const covered: string[] = [];
  const failures: string[] = [];
  for (const definition of listExperiments()) {
    if (definition.unavailable) continue;
    const inline = INLINE.has(definition.id);
    const missedBy: Record<string, string[]> = {};
    let presetsProbed = 0;
    for (const preset of (inline ? ["smoke"] : ["smoke", "cpu", "paper"]) as PresetName[]) {
      let plain: { data?: { source?: string } };
      try {
        plain = resolveExperimentConfig(definition.id, preset).config as typeof plain;
      } catch (e) {
        failures.push(`${definition.id} (${preset}): ${(e as Error).message}`);
        break;
      }
      // cpu/paper read real corpora; on the generated ones only the data source differs.
      const overrides = preset !== "smoke" && typeof plain.data?.source === "string" ? { "data.source": "generated" } : undefined;
      const { config } = resolveExperimentConfig(definition.id, preset, overrides);
      const baseline = await observe(definition, preset, config, inline);
      if (!baseline.reached) {
        failures.push(`${definition.id} (${preset}): no arm reached a trainer probe: ${JSON.stringify(baseline.records).slice(0, 400)}`);
        break;
      }
      presetsProbed++;
      for (const key of configKeys(config)) {
        if (allowed(definition.id, key) || (overrides && key === "data.source")) {
          (missedBy[key] ??= []).push(`${preset}: allowed`);
          continue;
        }
        const value = key.split(".").reduce<unknown>((node, k) => (node as Record<string, unknown>)[k], config);
        let differs = false;
        for (const alternative of alternatives(key, value)) {
          const after = await observe(definition, preset, withKey(config, key, alternative), inline);
          // A key under arms.<name> only concerns that arm; any other key may change any arm (or the arm list).
          const arms = key.startsWith("arms.") ? [key.split(".")[1]] : [...new Set([...Object.keys(baseline.records), ...Object.keys(after.records)])];
          if (arms.some((arm) => (after.records[arm] ?? "missing") !== (baseline.records[arm] ?? "missing"))) {
            differs = true;
            break;
          }
        }
        if (!differs) (missedBy[key] ??= []).push(`${preset}: ${JSON.stringify(value)} -> ${alternatives(key, value).map((v) => JSON.stringify(v)).join(" / ")}`);
      }
    }
    covered.push(definition.id);
    if (presetsProbed === 0) continue;
    const missed = Object.entries(missedBy)
      .filter(([, presets]) => presets.length === presetsProbed && presets.some((p) => !p.endsWith(": allowed")))
      .map(([key, presets]) => `${key} (${presets.join("; ")})`);
    if (missed.length) failures.push(`${definition.id}: changing these keys changed nothing the trainer sees: ${missed.join(", ")}`);
  }
  // An experiment-specific allow-list entry must name a key the experiment has (a stale entry would hide nothing, or a new key).
  for (const entry of Object.keys(NOT_TRAINER_KEYS).filter((k) => k.includes(" "))) {
    const [id, key] = entry.split(" ");
    const definition = listExperiments().find((d) => d.id === id);
    assert.ok(definition && configKeys(definition.base).includes(key), `allow-list entry "${entry}": no such experiment key`);
  }
  assert.deepEqual(failures, []);
  // Every registered experiment was probed (none is skipped by accident).
  const all = listExperiments().filter((d) => !d.unavailable).map((d) => d.id);
  assert.deepEqual(covered.sort(), all.sort());
  for (const id of ["g2lstm/ptb", "sg/ptb", "sdropout/ptb", "atn/char-ptb", "ncgru/char-ptb", "g2lstm/translation", "sdropout/translation", "sdropout/ner", "atn/adding", "ncgru/denoise", "env/tiny"])
    assert.ok(covered.includes(id), `${id} was probed (covered: ${covered.join(", ")})`);
});

/** The arm records of an experiment's preset (generated data), parsed. */
async function records(id: string, preset: PresetName, overrides?: Record<string, string>): Promise<Record<string, Record<string, unknown>>> {
  const { definition, config } = resolveExperimentConfig(id, preset, overrides);
  const seen = await observe(definition, preset, config);
  return Object.fromEntries(Object.entries(seen.records).map(([arm, text]) => {
    assert.ok(!text.startsWith("error") && text.includes(":"), `${id}/${arm}: ${text.slice(0, 300)}`);
    return [arm, JSON.parse(text.slice(text.indexOf(":") + 1)) as Record<string, unknown>];
  }));
}

test("the paper presets of g2lstm/ptb and sg/ptb train with AWD-LSTM's AR α = 2 and TAR β = 1", async () => {
  for (const id of ["g2lstm/ptb", "sg/ptb"]) {
    // The paper preset on the generated corpus: only the data source differs from a real paper run.
    for (const [arm, record] of Object.entries(await records(id, "paper", { "data.source": "generated" }))) {
      const trainer = record.trainer as Record<string, unknown>;
      assert.equal(trainer.activationRegularization, 2, `${id}/${arm}`);
      assert.equal(trainer.temporalActivationRegularization, 1, `${id}/${arm}`);
    }
  }
});
