/**
 * Settings tables rendered from configs (settings-table.ts): the values shown are the config's, every setting
 * of every registered experiment shows (changing it changes the table), a committed result's table shows what
 * that result ran, and settingsSource picks the result only when it is current.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { repoRoot } from "@rnnlab/core";
import {
  armNames,
  armParameterCount,
  configKeys,
  experimentSettingsMarkdown,
  formatSetting,
  listExperiments,
  PRESET_NAMES,
  readResult,
  resolveExperimentConfig,
  settingsSource,
  settingsTableMarkdown,
  type ExperimentResult,
} from "../src";

/** The rows of the markdown tables, as arrays of cells (header and separator rows included). */
function rows(markdown: string): string[][] {
  return markdown
    .split("\n")
    .filter((l) => l.startsWith("| "))
    .map((l) => l.slice(2, -2).split(" | "));
}

function armRow(markdown: string, arm: string): Record<string, string> {
  const tables = markdown.split("\n\n").map(rows);
  const table = tables.find((t) => t.some((r) => r[0] === `\`${arm}\``));
  assert.ok(table, `no row for arm ${arm} in:\n${markdown}`);
  const header = table[0];
  const row = table.find((r) => r[0] === `\`${arm}\``)!;
  return Object.fromEntries(header.map((h, i) => [h, row[i]]));
}

function sharedValue(markdown: string, setting: string): string | undefined {
  return rows(markdown).find((r) => r[0] === setting)?.[1];
}

test("formatSetting: small rates in e-notation, large counts with separators, booleans and lists in words", () => {
  assert.equal(formatSetting(0.001), "1e-3");
  assert.equal(formatSetting(7e-4), "7e-4");
  assert.equal(formatSetting(0.0025), "2.5e-3");
  assert.equal(formatSetting(0.9), "0.9");
  assert.equal(formatSetting(20000), "20,000");
  assert.equal(formatSetting(250), "250");
  assert.equal(formatSetting(true), "yes");
  assert.equal(formatSetting([0.02, 0.05]), "0.02, 0.05");
  assert.equal(formatSetting([]), "none");
});

test("a constructed config: shared settings and per-arm cells, sizes and parameter counts come from it", () => {
  const { config } = resolveExperimentConfig("ncgru/parenthesis", "cpu", { "train.steps": 1234, "task.length": 77, "arms.ncgru.hiddenSize": 60, "orthogonal.neumannOrder": 3, "train.learningRate": 0.0025 });
  const md = settingsTableMarkdown("ncgru/parenthesis", config);
  assert.equal(sharedValue(md, "task"), "parenthesis, T = 77");
  assert.equal(sharedValue(md, "training"), "1,234 steps");
  assert.equal(sharedValue(md, "batch"), "16");
  assert.equal(sharedValue(md, "optimiser"), "adam 2.5e-3, weight decay 1e-4");
  assert.match(sharedValue(md, "orthogonal updates") ?? "", /^Neumann order 3, exact inverse every 49 steps/);
  const ncgru = armRow(md, "ncgru");
  assert.equal(ncgru.cell, "nc-gru");
  assert.equal(ncgru.hidden, "60");
  assert.equal(ncgru["U_r orthogonal"], "no");
  assert.equal(ncgru.parameters, formatSetting(armParameterCount({ cell: "nc-gru", hiddenSize: 60 }, 7, 18)));
  // NC-GRU's ρ is not a GRU setting: shown as not applicable, not as 0.
  assert.equal(armRow(md, "gruMatched")["ρ (−1 entries of D)"], "—");
  assert.equal(armRow(md, "scornn").parameters, formatSetting(armParameterCount({ cell: "scornn", hiddenSize: 114 }, 7, 18)));
  // Without a result there is no seeds column.
  assert.ok(!rows(md)[rows(md).findIndex((r) => r[0] === "arm")].includes("seeds run"));
});

test("ATN tables: per-arm init and normalisation; a window only for assorted-time arms; the window sweep's k<k> arms", () => {
  const { config } = resolveExperimentConfig("atn/adding", "cpu");
  const md = settingsTableMarkdown("atn/adding", config);
  assert.deepEqual(
    ["lstm", "layerNorm", "atn"].map((a) => { const r = armRow(md, a); return [r.normalisation, r["window k"], r["W init"], r["U init"], r.hidden]; }),
    [["none", "—", "uniform", "uniform", "60"], ["layer", "—", "orthogonal", "identity", "60"], ["assortedTime", "25", "orthogonal", "identity", "60"]],
  );
  assert.equal(sharedValue(md, "model"), "1 layer, forget-gate bias 0");
  const sweep = resolveExperimentConfig("atn/window", "cpu").config as { windows: number[] };
  const sweepMd = settingsTableMarkdown("atn/window", sweep);
  assert.deepEqual(sweep.windows.map((k) => armRow(sweepMd, `k${k}`)["window k"]), sweep.windows.map(String));
});

test("an unknown key in a config is shown under its section, not dropped", () => {
  const { config } = resolveExperimentConfig("atn/adding", "cpu");
  const extended = structuredClone(config) as { train: Record<string, unknown> };
  extended.train.extraKnob = 7;
  assert.equal(sharedValue(settingsTableMarkdown("atn/adding", extended), "train"), "extraKnob 7");
});

/** A different value of the same type, as config-reach.test.ts changes keys. */
function changed(value: unknown): unknown {
  if (typeof value === "boolean") return !value;
  if (typeof value === "number") return value + 1;
  if (typeof value === "string") return `${value}-changed`;
  if (Array.isArray(value)) return [...value, value.length ? changed(value[0]) : 1];
  throw new Error(`no change rule for ${JSON.stringify(value)}`);
}

/** Settings that a table leaves out on purpose: checkpoint cadence and demo sleeps change no number. */
const NOT_SHOWN = new Set(["checkpointEverySteps", "checkpointEvery", "stepDelayMs"]);

test("every preset of every registered experiment renders, with one row per arm, and every setting shows (changing it changes the table)", () => {
  const missed: string[] = [];
  for (const definition of listExperiments()) {
    for (const preset of PRESET_NAMES) {
      const { config } = resolveExperimentConfig(definition.id, preset);
      const md = settingsTableMarkdown(definition.id, config);
      for (const arm of armNames(definition, config)) armRow(md, arm);
      const generated = (config as { data?: { source?: string } }).data?.source === "generated";
      for (const key of configKeys(config)) {
        const leaf = key.split(".").at(-1)!;
        if (NOT_SHOWN.has(leaf)) continue;
        // The generated corpus's size only acts when the data source is the generated corpus (the smoke preset).
        if (!generated && key.startsWith("data.generated")) continue;
        const value = key.split(".").reduce<unknown>((node, k) => (node as Record<string, unknown>)[k], config);
        const copy = structuredClone(config) as Record<string, unknown>;
        const parts = key.split(".");
        let node = copy;
        for (const p of parts.slice(0, -1)) node = node[p] as Record<string, unknown>;
        node[parts.at(-1)!] = changed(value);
        let after: string;
        try {
          after = settingsTableMarkdown(definition.id, copy);
        } catch {
          continue; // e.g. a window sweep's windows list no longer naming its arms: not a hidden setting
        }
        if (after === md) missed.push(`${definition.id} (${preset}) ${key}`);
      }
    }
  }
  assert.deepEqual(missed, [], "settings a table does not show");
});

test("a committed result's table shows the config that result ran, with the seeds of each arm", () => {
  const file = path.join(repoRoot(), "results", "ncgru", "parenthesis.json");
  const result = readResult(file);
  assert.ok(result, `${file} is committed`);
  const config = result.config as { task: { length: number }; train: { steps: number }; arms: Record<string, { hiddenSize: number }> };
  const md = settingsTableMarkdown(result.id, result.config, { result });
  assert.equal(sharedValue(md, "task"), `parenthesis, T = ${config.task.length}`);
  assert.equal(sharedValue(md, "training"), `${formatSetting(config.train.steps)} steps`);
  for (const [arm, a] of Object.entries(result.arms)) {
    const row = armRow(md, arm);
    assert.equal(row.hidden, String(config.arms[arm].hiddenSize));
    assert.equal(row["seeds run"], Object.keys(a.runs).sort((x, y) => Number(x) - Number(y)).join(", "));
    // Recorded by the run (final.parameters) and recomputed from the config: the same count.
    assert.equal(row.parameters, formatSetting(Object.values(a.runs)[0].final.parameters));
  }
});

test("settingsSource: a current result is used; a stale, other-preset or missing one falls back to the preset and says why", () => {
  const committed = readResult(path.join(repoRoot(), "results", "env", "tiny.json"));
  assert.ok(committed, "results/env/tiny.json is committed");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-settings-"));
  try {
    const none = settingsSource("env/tiny", { preset: "cpu", resultsDir: dir });
    assert.equal(none.kind, "preset");
    assert.match(none.note, /no result file yet/);
    const current = resolveExperimentConfig("env/tiny", "cpu");
    const write = (r: ExperimentResult) => {
      fs.mkdirSync(path.join(dir, "env"), { recursive: true });
      fs.writeFileSync(path.join(dir, "env", "tiny.json"), JSON.stringify(r));
    };
    // The committed result made current (its config is the current preset's): used, with its seeds.
    write({ ...committed, config: current.config, configHash: current.configHash, overrides: [] });
    const fresh = settingsSource("env/tiny", { preset: "cpu", resultsDir: dir });
    assert.equal(fresh.kind, "result");
    assert.equal(fresh.configHash, current.configHash);
    assert.match(experimentSettingsMarkdown("env/tiny", { preset: "cpu", resultsDir: dir }), /\| seeds run \|/);
    // A result of an older config: stale, so the preset's settings, and the note says so.
    write({ ...committed, config: { ...(current.config as object), model: { hiddenSize: 3 } }, configHash: "0".repeat(64), overrides: [] });
    const stale = settingsSource("env/tiny", { preset: "cpu", resultsDir: dir });
    assert.equal(stale.kind, "preset");
    assert.match(stale.note, /stale/);
    assert.equal(stale.configHash, current.configHash);
    assert.doesNotMatch(experimentSettingsMarkdown("env/tiny", { preset: "cpu", resultsDir: dir }), /seeds run/);
    // A result of another preset.
    write({ ...committed, preset: "smoke", config: current.config, configHash: current.configHash, overrides: [] });
    assert.match(settingsSource("env/tiny", { preset: "cpu", resultsDir: dir }).note, /"smoke"-preset result/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
