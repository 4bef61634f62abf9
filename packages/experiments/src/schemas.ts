/**
 * Config schemas (zod): one per experiment definition (in its paper's folder, `<paper>/schema.ts`), built from
 * the shared sections here, and `validateConfig`, which checks a fully resolved config against its schema.
 *
 * Validation only reads: the resolved config object is what gets hashed and handed to the adapters, so the
 * schemas have no defaults or transforms, and the parsed copy zod returns is dropped. Every rule carries its
 * own wording ("a whole number >= 1", "one of adam, rmsprop, sgd"), which the error message repeats, with the
 * `--set` that fixes it.
 *
 * Enum values are the ones the code accepts: optimizers as the adapters map them onto @rnnlab/train's
 * OptimizerOptions kinds, cell kinds from @rnnlab/cells' CELL_KINDS, NC-GRU candidate forms and bias inits from
 * @rnnlab/cells, dataset names as @rnnlab/data's loaders type them.
 */
import { CELL_KINDS, NCGRU_CANDIDATE_BIAS_INITS, NCGRU_CANDIDATE_FORMS, type NcGruCandidateBiasInit, type NcGruCandidateForm } from "@rnnlab/cells";
import { z } from "zod";
import { ConfigError } from "./config";

// ---------------------------------------------------------------------------------------------------------------
// Leaves: each rule is worded once, and the wording is the message.

function numberRule(rule: string, build: (n: z.ZodNumber, error: { error: string }) => z.ZodNumber): z.ZodNumber {
  const error = { error: rule };
  return build(z.number(error), error);
}

/** Any finite number (e.g. a forget-gate bias offset). */
export const finite = numberRule("a finite number", (n) => n);
/** Counts, sizes, steps, batch sizes. */
export const positiveInt = numberRule("a whole number >= 1", (n, e) => n.int(e).min(1, e));
/** Caps and cadences where 0 means "none" / "all" / "only at the end". */
export const nonNegativeInt = numberRule("a whole number >= 0", (n, e) => n.int(e).min(0, e));
/** Learning rates, temperatures, scales. */
export const positive = numberRule("a number > 0", (n, e) => n.gt(0, e));
/** Weight decay, clip norms (0: off), regularisation strengths. */
export const nonNegative = numberRule("a number >= 0", (n, e) => n.min(0, e));
/** A probability, e.g. the share of Gumbel-noised gate entries. */
export const probability = numberRule("a probability in [0, 1]", (n, e) => n.min(0, e).max(1, e));
/** A dropout rate: 1 would drop every unit (and divide by 0 when rescaling). */
export const dropoutRate = numberRule("a dropout rate in [0, 1)", (n, e) => n.min(0, e).lt(1, e));
/** A momentum coefficient (the optimizers accept [0, 1)). */
export const momentum = numberRule("a momentum in [0, 1)", (n, e) => n.min(0, e).lt(1, e));
/** A learning-rate decay factor: 1 keeps the rate constant. */
export const decayFactor = numberRule("a factor in (0, 1] (1: constant learning rate)", (n, e) => n.gt(0, e).max(1, e));
/** An SGDR period multiplier (@rnnlab/train schedules: >= 1). */
export const atLeastOne = numberRule("a number >= 1", (n, e) => n.min(1, e));
/** Neumann series order of the orthogonal updater (@rnnlab/cells CellConfig: 1 | 2 | 3). */
export const neumannOrder = numberRule("1, 2 or 3", (n, e) => n.int(e).min(1, e).max(3, e));

export const bool = z.boolean({ error: "true or false" });

/** `z.enum` whose message lists the allowed values. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `one of ${values.join(", ")}` });
}

/** A list of numbers, each by `item`'s rule. */
export function listOf(item: z.ZodNumber, rule: string) {
  return z.array(item, { error: `a list of ${rule}` });
}

// ---------------------------------------------------------------------------------------------------------------
// Enums the code accepts.

/** Synthetic tasks (adapters/synthetic.ts optimizer()). */
export const SYNTHETIC_OPTIMIZERS = ["adam", "rmsprop", "sgd"] as const;
/** Language models, translation and tagging (adapters/language-model.ts optimizerOptions()). */
export const OPTIMIZERS = ["sgd", "adam", "asgd", "rmsprop"] as const;
export const DATA_SOURCES = ["dataset", "generated"] as const;
/** @rnnlab/data LanguageModelDatasetName. */
export const LANGUAGE_MODEL_DATASETS = ["ptb", "ptb-char", "wikitext-2"] as const;
/** @rnnlab/data TranslationDatasetName. */
export const TRANSLATION_DATASETS = ["multi30k_de_en", "iwslt14_de_en", "iwslt15_en_vi"] as const;
/** @rnnlab/data NerDatasetName. */
export const NER_DATASETS = ["conll2003", "wnut17"] as const;
/** @rnnlab/train DropoutConfig kinds of a language model (adapters/language-model.ts). */
export const LM_DROPOUT_KINDS = ["locked", "elementwise", "structured"] as const;
export const INPUT_INITS = ["uniform", "orthogonal"] as const;
export const RECURRENT_INITS = ["identity", "uniform"] as const;
export const CELLS = CELL_KINDS as unknown as readonly [(typeof CELL_KINDS)[number], ...(typeof CELL_KINDS)[number][]];
export const NCGRU_FORMS = NCGRU_CANDIDATE_FORMS as readonly NcGruCandidateForm[] as [NcGruCandidateForm, ...NcGruCandidateForm[]];
export const NCGRU_BIAS_INITS = NCGRU_CANDIDATE_BIAS_INITS as readonly NcGruCandidateBiasInit[] as [NcGruCandidateBiasInit, ...NcGruCandidateBiasInit[]];

// ---------------------------------------------------------------------------------------------------------------
// Shared sections (the adapters' section interfaces, with their allowed values).

/** adapters/synthetic.ts SyntheticTrainingSection. */
export const syntheticTrainingSchema = z
  .object({
    layers: positiveInt,
    batchSize: positiveInt,
    steps: positiveInt,
    optimizer: oneOf(SYNTHETIC_OPTIMIZERS),
    learningRate: positive,
    momentum,
    weightDecay: nonNegative,
    clipNorm: nonNegative,
    evaluateEvery: positiveInt,
    evaluationBatches: positiveInt,
    checkpointEverySteps: nonNegativeInt,
  })
  .strict();

/** adapters/language-model.ts LanguageModelDataSection. */
export const languageModelDataSchema = z
  .object({
    source: oneOf(DATA_SOURCES),
    dataset: oneOf(LANGUAGE_MODEL_DATASETS),
    generatedVocabularySize: positiveInt,
    generatedTrainTokens: positiveInt,
    maxEvaluationTokens: nonNegativeInt.optional(),
    maxTrainTokens: nonNegativeInt.optional(),
  })
  .strict();

/** adapters/language-model.ts LanguageModelSection. */
export const languageModelSchema = z
  .object({
    embeddingSize: positiveInt,
    hiddenSize: positiveInt,
    layers: positiveInt,
    tieWeights: bool,
    batchSize: positiveInt,
    evaluationBatchSize: positiveInt,
    bptt: positiveInt,
    variableLength: bool,
    epochs: positiveInt,
    maxStepsPerEpoch: nonNegativeInt,
    optimizer: oneOf(OPTIMIZERS),
    learningRate: positive,
    weightDecay: nonNegative,
    clipNorm: nonNegative,
    evaluateEverySteps: nonNegativeInt,
    checkpointEverySteps: nonNegativeInt,
    activationRegularization: nonNegative.optional(),
    temporalActivationRegularization: nonNegative.optional(),
    inputInit: oneOf(INPUT_INITS).optional(),
    testBatchSize: positiveInt.optional(),
  })
  .strict();

/** adapters/language-model.ts DropoutSection. */
export const languageModelDropoutSchema = z
  .object({
    kind: oneOf(LM_DROPOUT_KINDS),
    embedding: dropoutRate,
    input: dropoutRate,
    hidden: dropoutRate,
    output: dropoutRate,
    weightDrop: dropoutRate,
    maskSteps: nonNegativeInt.optional(),
  })
  .strict();

/** adapters/lm-compression.ts LanguageModelCompressionSection. */
export const languageModelCompressionSchema = z
  .object({
    roundSteps: listOf(positive, "numbers > 0"),
    svdRankDivisors: listOf(positiveInt, "whole numbers >= 1"),
  })
  .strict();

/** adapters/translation.ts TranslationDataSection. */
export const translationDataSchema = z
  .object({
    source: oneOf(DATA_SOURCES),
    dataset: oneOf(TRANSLATION_DATASETS),
    maxVocabulary: positiveInt,
    maxLength: positiveInt,
    trainPairs: nonNegativeInt,
    validPairs: nonNegativeInt,
    testPairs: nonNegativeInt,
  })
  .strict();

/** adapters/translation.ts TranslationModelSection. */
export const translationModelSchema = z
  .object({ embeddingSize: positiveInt, hiddenSize: positiveInt, layers: positiveInt, inputFeeding: bool })
  .strict();

/** adapters/translation.ts EpochTrainingSection (translation and tagging). */
export const epochTrainingSchema = z
  .object({
    epochs: positiveInt,
    batchSize: positiveInt,
    optimizer: oneOf(OPTIMIZERS),
    learningRate: positive,
    weightDecay: nonNegative,
    clipNorm: nonNegative,
    checkpointEverySteps: nonNegativeInt,
  })
  .strict();

const LENGTH_PENALTY_RULE = 'one of none, average, gnmt:<alpha> (e.g. gnmt:0.6)';

/** adapters/translation.ts TranslationDecodingSection (decodeOptionsOf() parses the length penalty). */
export const translationDecodingSchema = z
  .object({
    beamSize: positiveInt,
    lengthPenalty: z
      .string({ error: LENGTH_PENALTY_RULE })
      .refine((p) => p === "none" || p === "average" || (/^gnmt:/.test(p) && p.length > 5 && Number.isFinite(Number(p.slice(5)))), { error: LENGTH_PENALTY_RULE }),
  })
  .strict();

/** adapters/translation.ts CompressionSection. */
export const translationCompressionSchema = z
  .object({
    precisionLevels: listOf(positive, "numbers > 0"),
    svdRanks: listOf(positiveInt, "whole numbers >= 1"),
    roundSteps: listOf(positive, "numbers > 0").optional(),
  })
  .strict();

/** adapters/tagger.ts TaggingDataSection. */
export const taggingDataSchema = z
  .object({
    source: oneOf(DATA_SOURCES),
    dataset: oneOf(NER_DATASETS),
    maxWords: positiveInt,
    lowercase: bool,
    trainSentences: nonNegativeInt,
    validSentences: nonNegativeInt,
    testSentences: nonNegativeInt,
  })
  .strict();

/** adapters/tagger.ts TaggerModelSection. */
export const taggerModelSchema = z.object({ embeddingSize: positiveInt, hiddenSize: positiveInt, layers: positiveInt }).strict();

/** The NC-GRU / scoRNN orthogonal updater (@rnnlab/cells CellConfig training settings). */
export const orthogonalSchema = z.object({ neumannOrder, recomputeEvery: positiveInt, orthogonalLearningRate: positive }).strict();

// ---------------------------------------------------------------------------------------------------------------
// Validation of a resolved config.

function valueAt(config: unknown, path: readonly PropertyKey[]): unknown {
  let node = config;
  for (const part of path) {
    if (typeof node !== "object" || node === null) return undefined;
    node = (node as Record<PropertyKey, unknown>)[part];
  }
  return node;
}

function describeIssue(issue: z.core.$ZodIssue, config: unknown, presetConfig: unknown): string {
  const key = issue.path.map(String).join(".");
  if (issue.code === "unrecognized_keys") {
    const at = key ? ` under "${key}"` : "";
    return `unknown config key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${key ? `${key}.` : ""}${k}"`).join(", ")}${at}: the experiment's schema does not have ${issue.keys.length > 1 ? "them" : "it"}. Fix: remove ${issue.keys.length > 1 ? "them" : "it"} (or add ${issue.keys.length > 1 ? "them" : "it"} to the schema in <paper>/schema.ts).`;
  }
  const value = valueAt(config, issue.path);
  const shown = value === undefined ? "missing" : JSON.stringify(value);
  // An enum's allowed values become the placeholder; any other rule is quoted as it is worded.
  const values = issue.code === "invalid_value" ? issue.values.map(String) : undefined;
  // "one of none, average, gnmt:<alpha> (e.g. ...)" (a refined string) reads as <none|average|gnmt:<alpha>> too.
  const listed = /^one of (.*?)( \(.*\))?$/.exec(issue.message);
  const placeholder = values ? values.join("|") : listed ? listed[1].split(", ").join("|") : issue.message;
  const presetValue = valueAt(presetConfig, issue.path);
  const presetHint = presetValue !== undefined && JSON.stringify(presetValue) !== JSON.stringify(value) ? ` (the preset's value is ${JSON.stringify(presetValue)})` : "";
  return `config key "${key}" = ${shown} is not allowed: it must be ${issue.message}. Fix: --set ${key}=<${placeholder}>${presetHint}.`;
}

/**
 * Check a fully resolved config against its experiment's schema; throw ConfigError (a usage error, CLI exit
 * code 2) naming the experiment, each bad dotted key, its value, the allowed values or range, and the fix.
 * `presetConfig` (the config without `--set` overrides, computed only on failure) supplies the value a bad override replaced. Never
 * changes `config`: zod's parsed copy is dropped.
 */
export function validateConfig(id: string, preset: string, schema: z.ZodType, config: unknown, presetConfig?: () => unknown): void {
  const parsed = schema.safeParse(config);
  if (parsed.success) return;
  const issues = parsed.error.issues;
  let before: unknown;
  try {
    before = presetConfig?.();
  } catch {
    before = undefined; // the preset itself is bad: no value to suggest
  }
  const shown = issues.slice(0, 10).map((issue) => `  ${describeIssue(issue, config, before)}`);
  if (issues.length > 10) shown.push(`  ... and ${issues.length - 10} more`);
  throw new ConfigError(`${id} (preset "${preset}"): ${issues.length === 1 ? "a config value fails" : `${issues.length} config values fail`} the experiment's schema:\n${shown.join("\n")}`);
}
