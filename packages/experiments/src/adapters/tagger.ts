/**
 * One (arm, seed) of a named-entity tagging experiment: CoNLL-2003 (or generated sentences at the smoke
 * preset) -> word vocabulary -> @rnnlab/train's trainTagger (BiLSTM + softmax) -> test span F1 (conlleval).
 */
import type { DropoutConfig } from "@rnnlab/cells";
import { buildNerVocabularies, loadNerCorpus, type NerDatasetName, type NerSentence } from "@rnnlab/data";
import { evaluateTagger, trainTagger, type TaggedIds } from "@rnnlab/train";
import { generatedNerSentences } from "../generated-data";
import type { ArmContext, ArmOutcome, Curve } from "../types";
import { StepTimer } from "./step-timer";
import { epochTrainerSetup, idsDigest, type EpochTrainingSection } from "./translation";

/**
 * Test hook (issue 17's config-reach test): when set, called with everything an arm hands to the trainer
 * (trainer options, model, a digest of the encoded splits, the checkpoint cadence) just before training
 * starts. Throwing from it stops the arm. Unset in every real run.
 */
export const taggerTrainerProbe: {
  observe?: (seen: Record<string, unknown>) => void;
} = {};

export interface TaggingDataSection {
  /** "dataset" | "generated". */
  source: string;
  dataset: string;
  maxWords: number;
  lowercase: boolean;
  /** Use only the first N sentences of each split (0 = all). */
  trainSentences: number;
  validSentences: number;
  testSentences: number;
}

export interface TaggerModelSection {
  embeddingSize: number;
  hiddenSize: number;
  layers: number;
}

function splits(d: TaggingDataSection): { train: NerSentence[]; valid: NerSentence[]; test: NerSentence[] } {
  if (d.source === "generated") {
    return {
      train: generatedNerSentences({ sentences: d.trainSentences || 200, seedOffset: 0 }),
      valid: generatedNerSentences({ sentences: d.validSentences || 30, seedOffset: 1 }),
      test: generatedNerSentences({ sentences: d.testSentences || 30, seedOffset: 2 }),
    };
  }
  if (d.source !== "dataset") throw new Error(`data.source="${d.source}" must be "dataset" or "generated"`);
  const corpus = loadNerCorpus(d.dataset as NerDatasetName, { scheme: "IOB2" });
  const cap = (s: NerSentence[], n: number) => (n > 0 ? s.slice(0, n) : s);
  return { train: cap(corpus.train.sentences, d.trainSentences), valid: cap(corpus.valid.sentences, d.validSentences), test: cap(corpus.test.sentences, d.testSentences) };
}

export async function runTaggerArm(
  ctx: ArmContext<object>,
  spec: { data: TaggingDataSection; model: TaggerModelSection; train: EpochTrainingSection; dropout?: DropoutConfig },
): Promise<ArmOutcome> {
  const d = spec.data;
  const data = splits(d);
  const vocabularies = buildNerVocabularies(data.train, { maxWords: d.maxWords, lowercase: d.lowercase });
  const norm = (w: string) => (d.lowercase ? w.toLowerCase() : w);
  const ids = (sentences: NerSentence[]): TaggedIds => ({
    words: sentences.map((s) => vocabularies.words.encode(s.words.map(norm), "words")),
    tags: sentences.map((s) => vocabularies.tags.encode(s.tags, "tags")),
  });
  const tagNames = vocabularies.tags.tokens;
  const t = spec.train;
  const model = {
    vocabularySize: vocabularies.words.tokens.length,
    tagCount: tagNames.length,
    embeddingSize: spec.model.embeddingSize,
    hiddenSize: spec.model.hiddenSize,
    layers: spec.model.layers,
    ...(spec.dropout ? { dropout: spec.dropout } : {}),
    padToken: 0,
  };
  const { trainerOptions, checkpoints } = epochTrainerSetup(ctx, t, { model, data: d, trainSentences: data.train.length });
  taggerTrainerProbe.observe?.({
    trainerOptions,
    model,
    checkpointEverySteps: t.checkpointEverySteps,
    train: idsDigest(ids(data.train)),
    valid: idsDigest(ids(data.valid)),
    test: idsDigest(ids(data.test)),
    // The words behind the ids (e.g. data.lowercase can map words one-to-one and leave the ids as they were).
    vocabulary: idsDigest({ references: vocabularies.words.tokens }),
    tagNames,
  });
  const timer = new StepTimer();
  const result = await trainTagger({
    ...trainerOptions,
    model,
    train: ids(data.train),
    valid: ids(data.valid),
    tagNames,
    scheme: "IOB2",
    checkpoints,
    resume: ctx.resume,
    onProgress: (e) => {
      timer.observe(e);
      if (e.kind !== "done") ctx.onProgress({ step: e.step, totalSteps: e.totalSteps ?? 0, split: e.split, metrics: e.metrics });
    },
  });
  try {
    const test = evaluateTagger(result.config, result.params, ids(data.test), tagNames, { scheme: "IOB2" });
    const final: Record<string, number> = {
      ...Object.fromEntries(Object.entries(result.final).filter(([, v]) => typeof v === "number")),
      testF1: test.f1,
      testLoss: test.loss,
      steps: result.steps,
      trainSeconds: result.elapsedMs / 1000,
    };
    if (Number.isFinite(timer.secondsPerStep())) final.secondsPerStep = timer.secondsPerStep();
    const curves: Record<string, Curve> = {
      trainLoss: { step: result.curves.trainLoss.map((p) => p.step), value: result.curves.trainLoss.map((p) => p.value) },
    };
    for (const key of ["f1", "loss"]) {
      const points = result.evaluations.filter((e) => typeof e.metrics[key] === "number");
      if (points.length) curves[key === "f1" ? "validF1" : "validLoss"] = { step: points.map((e) => e.step), value: points.map((e) => e.metrics[key]) };
    }
    return { final, curves, extra: { corpus: d.source === "generated" ? "generated" : d.dataset, trainSentences: data.train.length, vocabulary: model.vocabularySize }, resumedFromStep: result.resumedFromStep };
  } finally {
    result.variables.dispose();
  }
}
