/**
 * Every config key of every language-model experiment reaches training (issue 17: AR/TAR were supported by
 * the model but never passed, so `paper` presets trained without them). For each leaf key of the smoke
 * config, the key is changed and each arm is started with a probe that records what the arm hands to the
 * trainer (trainer config, corpus, checkpoint cadence, evaluation extras) and stops it before training; the
 * change must show up in some arm's record, or be listed below with where it goes instead.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Rng, selectBackend } from "@rnnlab/core";
import { armNames, configKeys, listExperiments, resolveExperimentConfig, stableStringify, type ArmContext, type ExperimentDefinition } from "../src";
import { languageModelTrainerProbe } from "../src/adapters/language-model";

/** Keys that do not reach the trainer, with where they go. */
const NOT_TRAINER_KEYS: Record<string, string> = {
  "data.dataset": "names the real corpus; the smoke preset trains on the generated one (the cpu/paper presets load it)",
  "gateMap.sentences": "g2lstm: the gate-map figure after training (evaluateTrained)",
  "gateMap.maxWords": "g2lstm: the gate-map figure after training (evaluateTrained)",
  "profile.steps": "sdropout: tf.profile of a few steps after training (evaluateTrained)",
};

const ALTERNATIVE_STRINGS: Record<string, string> = {
  adam: "sgd", sgd: "adam", asgd: "adam", rmsprop: "adam", locked: "elementwise", elementwise: "locked", structured: "elementwise",
  sigmoid: "sharpened", sharpened: "sigmoid", gumbel: "sigmoid", auto: "off", off: "auto", generated: "dataset", dataset: "generated",
};

function changed(value: unknown): unknown {
  if (typeof value === "boolean") return !value;
  if (typeof value === "number") return Number.isInteger(value) ? (value >= 2 ? value * 2 : value + 1) : value === 0 ? 0.125 : value * 1.5;
  if (typeof value === "string") return ALTERNATIVE_STRINGS[value] ?? `${value}-changed`;
  if (Array.isArray(value)) return [...value, value.length ? changed(value[0]) : 1];
  throw new Error(`no change rule for ${JSON.stringify(value)}`);
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

/** What each arm hands to training under `config` (or the error it threw first). */
async function observe(definition: ExperimentDefinition, config: object, arms: string[]): Promise<Record<string, string> | undefined> {
  const out: Record<string, string> = {};
  let sawTrainer = false;
  for (const arm of arms) {
    let seen = "";
    languageModelTrainerProbe.observe = ({ config: trainer, corpus, spec }) => {
      seen = stableStringify({ trainer, corpus, compression: spec.compression ?? null, gateHistograms: spec.gateHistograms ?? null, checkpointEverySteps: spec.model.checkpointEverySteps, level: spec.level });
      throw new Stop();
    };
    const ctx: ArmContext<object> = {
      experimentId: definition.id, preset: "smoke", config: config as never, configHash: "probe", arm, seed: 0, rng: new Rng(0), runDir: dir, resume: false,
      onProgress: () => {},
    };
    try {
      await definition.runArm(ctx as never);
      seen = "finished without reaching the probe";
    } catch (e) {
      if (e instanceof Stop) sawTrainer = true;
      else seen = `error: ${(e as Error).message}`;
    }
    out[arm] = seen;
  }
  return sawTrainer ? out : undefined;
}

before(async () => {
  await selectBackend();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-reach-"));
});
after(() => {
  languageModelTrainerProbe.observe = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

test("every config key of every language-model experiment reaches the trainer (or is listed with where it goes)", async () => {
  // A key counts when changing it changes what the trainer sees at the smoke preset or at the paper preset
  // (run on the generated corpus): some keys only act in one of them (e.g. learning-rate decay steps when
  // the smoke preset keeps the rate constant).
  const covered: string[] = [];
  for (const definition of listExperiments()) {
    const missedBy: Record<string, string[]> = {};
    let probed = false;
    for (const [preset, overrides] of [["smoke", undefined], ["paper", { "data.source": "generated" }]] as const) {
      if (preset === "paper" && !probed) break; // not a language-model experiment
      const { config } = resolveExperimentConfig(definition.id, preset, overrides);
      const arms = armNames(definition, config as never);
      const baseline = await observe(definition, config, arms);
      if (!baseline) continue; // not a language-model experiment
      probed = true;
      for (const key of configKeys(config)) {
        if (key in NOT_TRAINER_KEYS || (preset === "paper" && key === "data.source")) continue;
        const value = key.split(".").reduce<unknown>((node, k) => (node as Record<string, unknown>)[k], config);
        // A key under arms.<name> only concerns that arm.
        const only = key.startsWith("arms.") ? [key.split(".")[1]] : arms;
        const seen = await observe(definition, withKey(config, key, changed(value)), only);
        const differs = only.some((arm) => (seen?.[arm] ?? "missing") !== baseline[arm]);
        if (!differs) (missedBy[key] ??= []).push(`${preset}: ${JSON.stringify(value)} -> ${JSON.stringify(changed(value))}`);
      }
    }
    if (!probed) continue;
    covered.push(definition.id);
    const missed = Object.entries(missedBy).filter(([, presets]) => presets.length === 2).map(([key, presets]) => `${key} (${presets.join("; ")})`);
    assert.deepEqual(missed, [], `${definition.id}: changing these keys changed nothing the trainer sees`);
  }
  for (const id of ["g2lstm/ptb", "sg/ptb", "sdropout/ptb", "atn/char-ptb", "ncgru/char-ptb"]) assert.ok(covered.includes(id), `${id} was probed (covered: ${covered.join(", ")})`);
});

test("the paper presets of g2lstm/ptb and sg/ptb train with AWD-LSTM's AR α = 2 and TAR β = 1", async () => {
  for (const id of ["g2lstm/ptb", "sg/ptb"]) {
    // The paper preset on the generated corpus: only the data source differs from a real paper run.
    const { definition, config } = resolveExperimentConfig(id, "paper", { "data.source": "generated" });
    const arms = armNames(definition, config as never);
    const seen = await observe(definition, config, arms);
    assert.ok(seen, `${id} reached the trainer`);
    for (const arm of arms) {
      const record: { trainer: Record<string, unknown> } = JSON.parse(seen![arm]) as { trainer: Record<string, unknown> };
      const trainer = record.trainer;
      assert.equal(trainer.activationRegularization, 2, `${id}/${arm}`);
      assert.equal(trainer.temporalActivationRegularization, 1, `${id}/${arm}`);
    }
  }
});
