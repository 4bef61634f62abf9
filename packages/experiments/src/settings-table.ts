/**
 * Settings tables rendered from configs, so that a notebook or report never shows settings typed by hand
 * (which go stale when a preset changes). Two markdown tables per experiment:
 *   - shared settings (task / sequence length, data, model, batch, training length, optimiser, clipping,
 *     evaluation, orthogonal updates, ...), one row each;
 *   - one row per arm (cell, hidden size, normalisation and window, initialisation, the arm's other settings,
 *     and its parameter count where known).
 * The config is either a result file's stored config (what actually ran) or the current preset's, and
 * `experimentSettings` picks between them: the committed result when it exists and is not stale, else the
 * preset, saying which. Deviations from the papers are not derivable from a config: they stay in
 * docs/papers/<paper>.md.
 */
import * as path from "node:path";
import { repoRoot } from "@rnnlab/core";
import { armNames, getExperiment } from "./registry";
import { checkStaleness, loadResult } from "./report";
import { presetResultsDir, resultPath, type ExperimentResult } from "./results";
import { resolveExperimentConfig } from "./runner";
import type { ExperimentDefinition, PresetName } from "./types";
import { armSettings as atnArmSettings } from "./atn/synthetic";
import { armParameterCount } from "./ncgru/parameters";
import { NCGRU_TASK_IO } from "./ncgru/synthetic";

type Node = Record<string, unknown>;

function isObject(v: unknown): v is Node {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A value as a reader expects it in a settings table: 1e-3, 0.9, 20,000, yes / no, lists joined by commas. */
export function formatSetting(value: unknown): string {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return String(value);
    if (value !== 0 && Math.abs(value) < 0.01) {
      const [mantissa, exponent] = value.toExponential().split("e");
      return `${Number(Number(mantissa).toPrecision(3))}e${exponent.replace("+", "")}`;
    }
    if (Number.isInteger(value)) return Math.abs(value) >= 1000 ? value.toLocaleString("en-US") : String(value);
    return String(Number(value.toPrecision(4)));
  }
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (Array.isArray(value)) return value.length ? value.map(formatSetting).join(", ") : "none";
  if (value === null || value === undefined) return "—";
  return String(value);
}

function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function markdownTable(header: string[], rows: string[][]): string {
  return [`| ${header.map(cell).join(" | ")} |`, `|${header.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.map(cell).join(" | ")} |`)].join("\n");
}

/** Keys left out of the tables: where checkpoints are written, sleeps for demos (no effect on any number). */
const BOOKKEEPING = new Set(["checkpointEverySteps", "checkpointEvery", "stepDelayMs"]);

/** Reads config keys and remembers which were shown, so the keys no row names are listed too (nothing is hidden). */
class KeyReader {
  readonly used = new Set<string>();
  constructor(private readonly config: Node) {}
  has(key: string): boolean {
    return this.get(key) !== undefined;
  }
  get(key: string): unknown {
    let node: unknown = this.config;
    for (const part of key.split(".")) {
      if (!isObject(node) || !(part in node)) return undefined;
      node = node[part];
    }
    return node;
  }
  take(key: string): unknown {
    const v = this.get(key);
    if (v !== undefined) this.used.add(key);
    return v;
  }
  /** Leaf keys outside `arms` / `windows` that no row took. */
  rest(): string[] {
    const out: string[] = [];
    const walk = (node: Node, prefix: string) => {
      for (const [k, v] of Object.entries(node)) {
        const key = prefix ? `${prefix}.${k}` : k;
        if (!prefix && (k === "arms" || k === "windows")) continue;
        if (isObject(v)) walk(v, key);
        else if (!this.used.has(key) && !BOOKKEEPING.has(k)) out.push(key);
      }
    };
    walk(this.config, "");
    return out;
  }
}

type AddRow = (label: string, value: string | undefined) => void;

/** The rows of settings shared by every arm, in table order; each reads (takes) its keys from `r`. */
function sharedRows(definition: ExperimentDefinition, r: KeyReader): [string, string][] {
  const rows: [string, string][] = [];
  const add: AddRow = (label, value) => {
    if (value !== undefined && value !== "") rows.push([label, value]);
  };
  const synthetic = definition.data.kind === "synthetic" ? definition.data.task : undefined;
  taskRows(r, add, synthetic);
  modelRows(r, add);
  trainingRows(r, add);
  optimiserRows(r, add);
  orthogonalRows(r, add);
  evaluationRows(r, add);
  restRows(r, add);
  return rows;
}

/** Task or data. */
function taskRows(r: KeyReader, add: AddRow, synthetic: string | undefined): void {
  if (r.has("task.length")) {
    const length = r.take("task.length") as number;
    const symbols = r.take("task.dataSymbols") as number | undefined;
    const what = synthetic === "copying" ? `delay L = ${length} (sequence ${length + 20})` : `T = ${length}`;
    add("task", `${synthetic ?? "synthetic"}, ${what}${symbols ? `, ${symbols} data symbols` : ""}`);
  }
  if (r.has("data.source")) {
    const source = r.take("data.source");
    const dataset = r.take("data.dataset");
    if (source === "generated") {
      add("data", `generated corpus (vocabulary ${formatSetting(r.take("data.generatedVocabularySize"))}, ${formatSetting(r.take("data.generatedTrainTokens"))} training tokens), standing in for ${String(dataset)}`);
    } else if (source !== "dataset") {
      add("data", `source ${String(source)}, ${String(dataset)}`);
    } else {
      r.take("data.generatedVocabularySize");
      r.take("data.generatedTrainTokens");
      const trainCap = r.take("data.maxTrainTokens") as number | undefined;
      add("data", `${String(dataset)}${trainCap ? ` (first ${formatSetting(trainCap)} training tokens)` : ""}`);
    }
  } else if (r.has("data.dataset")) add("data", String(r.take("data.dataset")));
}

/** Model-wide settings (the per-arm table shows the hidden size, model-wide or not). */
function modelRows(r: KeyReader, add: AddRow): void {
  r.take("model.hiddenSize");
  const model: string[] = [];
  if (r.has("model.layers")) model.push(`${r.take("model.layers")} layer${r.get("model.layers") === 1 ? "" : "s"}`);
  if (r.has("train.layers")) model.push(`${r.take("train.layers")} layer${r.get("train.layers") === 1 ? "" : "s"}`);
  if (r.has("model.embeddingSize")) model.push(`embedding ${formatSetting(r.take("model.embeddingSize"))}`);
  if (r.has("model.tieWeights")) model.push(r.take("model.tieWeights") ? "tied" : "untied");
  if (r.has("model.inputFeeding")) model.push(r.take("model.inputFeeding") ? "input feeding" : "no input feeding");
  if (r.has("model.forgetBias")) model.push(`forget-gate bias ${formatSetting(r.take("model.forgetBias"))}`);
  if (r.has("model.inputInit")) model.push(`W init ${formatSetting(r.take("model.inputInit"))}`);
  if (r.has("model.recurrentInit")) model.push(`U init ${formatSetting(r.take("model.recurrentInit"))}`);
  add("model", model.join(", "));
}

/** Sequence length of a language model, batch, training length. */
function trainingRows(r: KeyReader, add: AddRow): void {
  if (r.has("model.bptt")) add("bptt", `${formatSetting(r.take("model.bptt"))}${r.take("model.variableLength") ? " (random lengths, AWD-LSTM)" : " (fixed)"}`);
  const batch = r.take("train.batchSize") ?? r.take("model.batchSize");
  if (batch !== undefined) add("batch", formatSetting(batch));
  if (r.has("train.steps")) add("training", `${formatSetting(r.take("train.steps"))} steps`);
  else if (r.has("model.epochs") || r.has("train.epochs")) {
    const epochs = (r.take("model.epochs") ?? r.take("train.epochs")) as number;
    const cap = r.take("model.maxStepsPerEpoch") as number | undefined;
    add("training", `${formatSetting(epochs)} epoch${epochs === 1 ? "" : "s"}${cap ? ` of at most ${formatSetting(cap)} steps` : cap === 0 ? " (every window)" : ""}`);
  }
}

/** Optimiser, gradient clipping, activation regularisation. */
function optimiserRows(r: KeyReader, add: AddRow): void {
  const optimizer = r.take("train.optimizer") ?? r.take("model.optimizer");
  if (optimizer !== undefined) {
    const lr = r.take("train.learningRate") ?? r.take("model.learningRate");
    const momentum = r.take("train.momentum") as number | undefined;
    const decay = (r.take("train.weightDecay") ?? r.take("model.weightDecay")) as number | undefined;
    const parts = [`${String(optimizer)} ${formatSetting(lr)}`];
    if (momentum) parts.push(`momentum ${formatSetting(momentum)}`);
    parts.push(decay ? `weight decay ${formatSetting(decay)}` : "no weight decay");
    add("optimiser", parts.join(", "));
  }
  const clip = r.take("train.clipNorm") ?? r.take("model.clipNorm");
  if (clip !== undefined) add("gradient clipping", clip ? `norm ${formatSetting(clip)}` : "none");
  const ar = r.take("model.activationRegularization") as number | undefined;
  const tar = r.take("model.temporalActivationRegularization") as number | undefined;
  if (ar !== undefined || tar !== undefined) add("AR / TAR", `α ${formatSetting(ar ?? 0)} / β ${formatSetting(tar ?? 0)}`);
}

/** Orthogonal updates (NC-GRU, scoRNN) and NC-GRU's candidate form. */
function orthogonalRows(r: KeyReader, add: AddRow): void {
  if (r.has("orthogonal.recomputeEvery")) {
    const order = r.take("orthogonal.neumannOrder");
    add(
      "orthogonal updates",
      `${order !== undefined ? `Neumann order ${formatSetting(order)}` : "Neumann order per arm"}, exact inverse every ${formatSetting(r.take("orthogonal.recomputeEvery"))} steps, A learning rate ${formatSetting(r.take("orthogonal.orthogonalLearningRate"))}`,
    );
  }
  if (r.has("ncgruCandidate.form")) {
    const form = r.take("ncgruCandidate.form");
    const bias = r.take("ncgruCandidate.biasInit");
    const formula = form === "resetAfterProduct" ? "W_c x + r ⊙ (U_c h)" : form === "resetBeforeProduct" ? "W_c x + U_c (r ⊙ h)" : String(form);
    add("NC-GRU candidate", `${formula} (${String(form)}), b_c init ${String(bias)}`);
  }
}

/** Evaluation. */
function evaluationRows(r: KeyReader, add: AddRow): void {
  if (r.has("train.evaluateEvery")) {
    // trainSyntheticTask draws the test batches once (a fixed set) and evaluates every evaluateEvery steps and at the end.
    const batches = r.take("train.evaluationBatches") as number;
    const size = r.get("train.batchSize") as number | undefined;
    add("evaluation", `test set of ${formatSetting(batches)} fixed batches${size ? ` (${formatSetting(batches * size)} sequences)` : ""}, every ${formatSetting(r.take("train.evaluateEvery"))} steps and at the end`);
  } else if (r.has("model.evaluateEverySteps")) {
    const every = r.take("model.evaluateEverySteps") as number;
    const parts = [every ? `validation every ${formatSetting(every)} steps and at each epoch's end` : "validation at each epoch's end"];
    if (r.has("model.evaluationBatchSize")) parts.push(`evaluation batch ${formatSetting(r.take("model.evaluationBatchSize"))}`);
    if (r.has("model.testBatchSize")) parts.push(`test batch ${formatSetting(r.take("model.testBatchSize"))}`);
    const cap = r.take("data.maxEvaluationTokens") as number | undefined;
    parts.push(cap ? `first ${formatSetting(cap)} validation / test tokens` : "full validation and test splits");
    add("evaluation", parts.join(", "));
  }
}

/** Everything else, one row per section, each value named by its key (no setting is hidden). */
function restRows(r: KeyReader, add: AddRow): void {
  const sections = new Map<string, string[]>();
  for (const key of r.rest()) {
    const dot = key.indexOf(".");
    const [section, name] = dot < 0 ? [key, ""] : [key.slice(0, dot), key.slice(dot + 1)];
    const value = formatSetting(r.take(key));
    if (!sections.has(section)) sections.set(section, []);
    sections.get(section)!.push(name ? `${name} ${value}` : value);
  }
  for (const [section, values] of sections) add(section, values.join(", "));
}

/** Per-arm column labels, in table order; an arm key not listed here gets a column named by its key. */
const ARM_COLUMNS: [key: string, label: string][] = [
  ["cell", "cell"],
  ["hiddenSize", "hidden"],
  ["negativeOnes", "ρ (−1 entries of D)"],
  ["orthogonalReset", "U_r orthogonal"],
  ["neumannOrder", "Neumann order"],
  ["normalization", "normalisation"],
  ["window", "window k"],
  ["inputInit", "W init"],
  ["recurrentInit", "U init"],
  ["gate", "gate"],
  ["temperature", "τ"],
  ["noiseProbability", "noise p"],
  ["kind", "dropout"],
  ["rate", "rate"],
  ["maskSteps", "mask steps"],
  ["gradients", "gradients"],
  ["schedule", "schedule"],
  ["bpttMultiplier", "bptt ×"],
  ["momentum", "momentum"],
];

/** An arm's settings: its entry in `config.arms`, or (atn/window) the settings its name `k<k>` stands for. */
function settingsOfArm(config: Node, arm: string): Node {
  const arms = isObject(config.arms) ? config.arms : {};
  if (isObject(arms[arm])) return arms[arm];
  if (Array.isArray(config.windows)) return atnArmSettings(config as never, arm) as unknown as Node;
  throw new Error(`settings table: arm "${arm}" is not in the config's arms (${Object.keys(arms).join(", ")})`);
}

/** Parameter counts computable from a config alone (the NC-GRU synthetic tasks, parameters.ts); else undefined. */
function computedParameters(definition: ExperimentDefinition, settings: Node): number | undefined {
  if (definition.data.kind !== "synthetic" || !definition.id.startsWith("ncgru/")) return undefined;
  const io = NCGRU_TASK_IO[definition.data.task as keyof typeof NCGRU_TASK_IO];
  if (!io || typeof settings.cell !== "string" || typeof settings.hiddenSize !== "number") return undefined;
  return armParameterCount({ cell: settings.cell, hiddenSize: settings.hiddenSize, orthogonalReset: settings.orthogonalReset === true }, io[0], io[1]);
}

/** The parameter count a result recorded for an arm (final `parameters`, else `parameterCount`), from its first run. */
function recordedParameters(result: ExperimentResult | undefined, arm: string): number | undefined {
  const run = Object.values(result?.arms[arm]?.runs ?? {})[0];
  const v = run?.final.parameters ?? run?.final.parameterCount;
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

function armRows(definition: ExperimentDefinition, config: Node, result: ExperimentResult | undefined): { header: string[]; rows: string[][] } {
  const arms = armNames(definition, config as never);
  const settings = arms.map((a) => settingsOfArm(config, a));
  const keys = [...new Set(settings.flatMap((s) => Object.keys(s)))];
  const ordered = [...ARM_COLUMNS.filter(([k]) => keys.includes(k)), ...keys.filter((k) => !ARM_COLUMNS.some(([c]) => c === k)).map((k): [string, string] => [k, k])];
  // The hidden size is model-wide in some experiments: shown per arm all the same.
  const modelHidden = isObject(config.model) ? config.model.hiddenSize : undefined;
  const hiddenColumn = !keys.includes("hiddenSize") && modelHidden !== undefined;
  const parameters = arms.map((a, i) => computedParameters(definition, settings[i]) ?? recordedParameters(result, a));
  const header = ["arm", ...(hiddenColumn ? ["hidden"] : []), ...ordered.map(([, label]) => label), ...(parameters.some((p) => p !== undefined) ? ["parameters"] : []), ...(result ? ["seeds run"] : [])];
  const rows = arms.map((arm, i) => {
    const s = settings[i];
    const values = ordered.map(([k]) => {
      // A window only acts for assorted-time normalisation (layer norm is its k = 1).
      // Their neutral values are shown as not applicable; any other value as it is (the experiment refuses it).
      if (k === "window" && s.normalization !== undefined && s.normalization !== "assortedTime" && s[k] === 1) return "—";
      // NC-GRU's ρ and U_r mean nothing for GRU / LSTM arms (the experiments refuse non-zero values there).
      if (((k === "negativeOnes" && s[k] === 0) || (k === "orthogonalReset" && s[k] === false)) && (s.cell === "gru" || s.cell === "lstm")) return "—";
      return formatSetting(s[k]);
    });
    const seeds = result ? Object.keys(result.arms[arm]?.runs ?? {}).sort((a, b) => Number(a) - Number(b)) : [];
    return [
      `\`${arm}\``,
      ...(hiddenColumn ? [formatSetting(modelHidden)] : []),
      ...values,
      ...(parameters.some((p) => p !== undefined) ? [parameters[i] === undefined ? "—" : formatSetting(Math.round(parameters[i]!))] : []),
      ...(result ? [seeds.length ? seeds.join(", ") : "none"] : []),
    ];
  });
  return { header, rows };
}

/**
 * The settings of one config of an experiment as markdown: the shared-settings table, then the per-arm table.
 * `result` (optional) adds the seeds each arm has run and recorded parameter counts.
 */
export function settingsTableMarkdown(id: string, config: unknown, options: { result?: ExperimentResult } = {}): string {
  if (!isObject(config)) throw new Error(`settings table for ${id}: the config must be an object, got ${JSON.stringify(config)}`);
  const definition = getExperiment(id);
  const shared = sharedRows(definition, new KeyReader(config));
  const arms = armRows(definition, config, options.result);
  return [markdownTable(["setting", "value"], shared), "", markdownTable(arms.header, arms.rows)].join("\n");
}

export interface SettingsSource {
  /** "result": the result file's stored config (what ran); "preset": the current code's preset config. */
  kind: "result" | "preset";
  id: string;
  preset: PresetName;
  config: unknown;
  configHash: string;
  /** The result file, when kind is "result". */
  result?: ExperimentResult;
  /** One sentence saying where the settings come from and, for "preset", why not from a result. */
  note: string;
}

/**
 * Where an experiment's settings table should come from: the result file of `preset` (under `resultsDir`, default
 * that preset's results root) when it exists, is of that preset, has no overrides and is not stale (its config hash
 * equals the current preset's); otherwise the current preset, with the reason.
 */
export function settingsSource(id: string, options: { preset?: PresetName; resultsDir?: string } = {}): SettingsSource {
  const preset = options.preset ?? "cpu";
  const resultsDir = options.resultsDir ?? presetResultsDir(preset);
  const file = resultPath(id, resultsDir);
  const current = resolveExperimentConfig(id, preset);
  const fromPreset = (why: string): SettingsSource => ({
    kind: "preset",
    id,
    preset,
    config: current.config,
    configHash: current.configHash,
    note: `Settings of the current \`${preset}\` preset (config ${current.configHash.slice(0, 12)}), not of a result: ${why}.`,
  });
  let result: ExperimentResult | undefined;
  try {
    result = loadResult(id, resultsDir);
  } catch (e) {
    return fromPreset(`the result file is unreadable (${(e as Error).message})`);
  }
  if (!result) return fromPreset(`no result file yet (${relativeToRepo(file)})`);
  if (result.preset !== preset) return fromPreset(`the result file holds a "${result.preset}"-preset result`);
  if (result.overrides.length) return fromPreset(`the result was run with overrides (${result.overrides.join(", ")})`);
  if (result.configHash !== current.configHash) {
    // Its runs may all still be valid (an arm added since changes the config hash only): the settings are not the preset's.
    const staleness = checkStaleness(result);
    if (staleness.stale) return fromPreset(`the result file is stale (${staleness.reason ?? "its config hash differs"}); it will be rerun`);
    return fromPreset(
      `the result file's config is stale (config ${result.configHash.slice(0, 12)}, the current preset's ${current.configHash.slice(0, 12)}: arms without recorded runs were added or changed since; its recorded runs are still valid and will be reused)`,
    );
  }
  return {
    kind: "result",
    id,
    preset,
    config: result.config,
    configHash: result.configHash,
    result,
    note: `Settings from the result file ${relativeToRepo(file)} (\`${preset}\` preset, config ${result.configHash.slice(0, 12)}, the current preset's).`,
  };
}

function relativeToRepo(file: string): string {
  const rel = path.relative(repoRoot(), file);
  return `\`${rel.startsWith("..") || path.isAbsolute(rel) ? file : rel.split(path.sep).join("/")}\``;
}

/**
 * A notebook's settings section for one experiment: a heading line, where the settings come from
 * (settingsSource), and the two tables (settingsTableMarkdown).
 */
export function experimentSettingsMarkdown(id: string, options: { preset?: PresetName; resultsDir?: string } = {}): string {
  const source = settingsSource(id, options);
  const definition = getExperiment(id);
  return [`**${definition.title}** (\`${id}\`)`, "", source.note, "", settingsTableMarkdown(id, source.config, { result: source.result })].join("\n");
}
