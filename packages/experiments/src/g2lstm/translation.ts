/**
 * g2lstm/translation — G2-LSTM in an attentional LSTM encoder-decoder (docs/papers/g2-lstm.md, authors'
 * machine-translation/ Theano code): baseline vs sharpened sigmoid vs Gumbel-sigmoid gates on every LSTM,
 * evaluated with plain σ; then the compression table: BLEU after "precision" rounding
 * round(clip(w,−1,1)·k)/k and after rank-r SVD of the i and f blocks of every recurrent matrix U and the
 * decoder's context matrix (input matrices W untouched, as in utils.py:load_params_v2). Gate equations in ./ptb.ts.
 *
 * DEVIATION: IWSLT'14 De→En is not available offline here; the `cpu` preset uses Multi30k De→En as its
 * offline substitute (the shared data README's fallback; 29k training pairs instead of 153k), word-level
 * vocabularies instead of 25k BPE, and Adam instead of Adadelta (not in @rnnlab/train).
 * DEVIATION: the encoder is unidirectional (rnnlab's seq2seq model has no bidirectional encoder; the issue
 * asks for one and the authors' dl4mt encoder is bidirectional); the cpu preset uses 2 layers per side instead.
 */
import type { DropoutConfig } from "@rnnlab/cells";
import { runTranslationArm, type CompressionSection, type EpochTrainingSection, type TranslationDataSection, type TranslationDecodingSection, type TranslationModelSection } from "../adapters/translation";
import { registerExperiment } from "../registry";
import { g2TranslationSchema } from "./schema";
import { g2GateConfig, type GateArm } from "./common";
import { translationGateMap } from "./gate-map";

export interface G2TranslationConfig {
  data: TranslationDataSection;
  model: TranslationModelSection;
  train: EpochTrainingSection;
  /** Decoding of test BLEU and of every compressed model's BLEU. */
  decoding: TranslationDecodingSection;
  compression: CompressionSection;
  /** Dropout on non-recurrent connections of encoder and decoder: kind "none" | "elementwise" | "locked". */
  dropout: { kind: string; rate: number };
  /** The gate map figure: the first `sentences` test pairs whose reference has at most maxWords words. */
  gateMap: { sentences: number; maxWords: number };
  arms: { baseline: GateArm; sharpened: GateArm; g2: GateArm };
}

/** train_nmt.py defaults: dim 512, dim_word 512, 1+1 layers, batch 128, clip 1.0, maxlen 80, vocab 30k (IWSLT: 25k BPE). */
export const g2TranslationBase: G2TranslationConfig = {
  data: { source: "dataset", dataset: "iwslt14_de_en", maxVocabulary: 25000, maxLength: 80, trainPairs: 0, validPairs: 0, testPairs: 0 },
  model: { embeddingSize: 512, hiddenSize: 512, layers: 1, inputFeeding: true },
  train: {
    epochs: 20, // [U]: the paper's epoch count is unknown; our choice
    batchSize: 128,
    optimizer: "adam", // DEVIATION: the code uses Adadelta (lr 1.0)
    learningRate: 1e-3,
    weightDecay: 0,
    clipNorm: 1,
    checkpointEverySteps: 1000,
  },
  // The authors' BLEU (machine-translation/libs/utility/translate.py, translate_dev_get_bleu, called by
  // translate_compressed.py with alpha = 1.0): beam search, k = 5 (_translate_whole's default; translate.py's
  // main() too), the best finished hypothesis by score / len^alpha = log P / length with EOS counted, which is
  // our "average". Issue 17: reported BLEU must not be greedy.
  decoding: { beamSize: 5, lengthPenalty: "average" },
  // The NMT script's commented-out calls use k ∈ {10000, 1000, 100, 1} and ranks {256, 128, 32, 16}.
  compression: { precisionLevels: [1000, 100, 1], svdRanks: [128, 32], roundSteps: [] },
  // train_nmt.py: use_dropout is off for models of two layers or fewer (docs/papers/g2-lstm.md "Translation").
  dropout: { kind: "none", rate: 0 },
  gateMap: { sentences: 3, maxWords: 15 },
  arms: {
    baseline: { gate: "sigmoid", temperature: 1, noiseProbability: 0 },
    sharpened: { gate: "sharpened", temperature: 0.9, noiseProbability: 0 },
    g2: { gate: "gumbel", temperature: 0.9, noiseProbability: 0.2 },
  },
};

registerExperiment<G2TranslationConfig>({
  id: "g2lstm/translation",
  title: "G2-LSTM in attentional NMT (De→En): BLEU, gate saturation and BLEU under gate compression",
  claim: "G2-LSTM matches or beats the baseline's BLEU and loses much less BLEU when the i/f gate weights are rounded or low-rank compressed.",
  base: g2TranslationBase,
  schema: g2TranslationSchema,
  presets: {
    smoke: {
      data: { source: "generated", trainPairs: 120, validPairs: 10, testPairs: 10, maxVocabulary: 100 },
      model: { embeddingSize: 8, hiddenSize: 8 },
      train: { epochs: 1, batchSize: 16, learningRate: 0.01, checkpointEverySteps: 4 },
      // Beam 2 keeps the smoke run fast and still exercises beam search with length normalisation.
      decoding: { beamSize: 2 },
      compression: { precisionLevels: [], roundSteps: [0.1], svdRanks: [4, 2] },
      gateMap: { sentences: 2, maxWords: 15 },
    },
    // Issue 20: a converged small-scale reproduction (the 3-epoch pilot was still climbing at BLEU 12-13).
    // Settings and sources:
    // - Multi30k De→En, the offline substitute for IWSLT'14 De→En (DEVIATION above): all 29k training pairs of
    //   at most 50 tokens (almost all of them; the pilot's 25 dropped the long tail), word vocabularies of at
    //   most 8,000 per side (about Multi30k's words seen twice or more), the full validation (1,014) and test
    //   (1,000) sets.
    // - 2 layers of 256 per side (the issue: 1-2 layers of 256; 2 because the encoder cannot be bidirectional
    //   here, DEVIATION above), embedding 256, Luong attention with input feeding; G2 gates in every layer.
    // - dropout 0.3 elementwise on non-recurrent connections (OpenNMT's default, our choice): the authors use
    //   none at <= 2 layers on 153k IWSLT pairs, but 29k Multi30k pairs overfit a 2x256 model within a few
    //   epochs without it. DEVIATION from the authors' no-dropout setting.
    // - Adam 1e-3 (base; DEVIATION: Adadelta), batch 64, clip 5, 15 epochs with best-validation selection by
    //   validation BLEU (the translation trainer's default when it can detokenize; greedy validation BLEU).
    // - test BLEU with beam 5, log P / length (the base, the authors' translate.py).
    // - compression fixed before the run (issue 20): Round and Round & Clip at r in {0.05, 0.1, 0.2}, SVD at
    //   rank H/4 = 64 ("SVD") and H/16 = 16 ("SVD+"), on the best-validation parameters; each is one beam-5
    //   decode of the test set.
    // COST (extrapolation from a timed short measurement on the loaded 2-core machine, see
    // docs/papers/g2-lstm.md "cpu preset"): not measured yet (issue 20's session ran out of time on the loaded machine): time ~25
    // steps per arm and a beam-5 decode of a few test sentences before starting the 9 runs.
    cpu: {
      data: { dataset: "multi30k_de_en", maxVocabulary: 8000, maxLength: 50, trainPairs: 0, validPairs: 0, testPairs: 0 },
      model: { embeddingSize: 256, hiddenSize: 256, layers: 2 },
      train: { epochs: 15, batchSize: 64, learningRate: 1e-3, clipNorm: 5, checkpointEverySteps: 200 },
      dropout: { kind: "elementwise", rate: 0.3 },
      compression: { precisionLevels: [], roundSteps: [0.05, 0.1, 0.2], svdRanks: [64, 16] },
    },
    paper: {},
  },
  defaultSeeds: { smoke: [0], cpu: [0, 1, 2], paper: [0, 1, 2] },
  data: { kind: "dataset", datasets: ["iwslt14_de_en", "multi30k_de_en (cpu preset)"], smoke: "generated reversal + word-substitution corpus" },
  reported: {
    source: "docs/papers/g2-lstm.md, ICML'18 poster table, IWSLT'14 De→En 'Result' column (BLEU)",
    metric: "test BLEU",
    ourMetric: "testBleu",
    lowerIsBetter: false,
    values: { baseline: 31.0, sharpened: 29.73, g2: 31.95 },
    note:
      "Compressed columns (baseline / sharpened / G2): Round 28.65 / 27.08 / 31.44; Round & Clip 21.97 / 25.14 / 31.44; SVD 30.52 / 29.17 / 31.62; SVD+ 29.56 / 28.82 / 31.28; their r, k and ranks are unknown [U]. Ours are on Multi30k at the cpu preset.",
  },
  primaryMetric: { name: "testBleu", lowerIsBetter: false },
  plotCurves: ["validBleu", "trainLoss"],
  runArm: (ctx) => {
    const c = ctx.config;
    return runTranslationArm(ctx, {
      data: c.data,
      model: c.model,
      train: c.train,
      decoding: c.decoding,
      gate: g2GateConfig(c.arms[ctx.arm as keyof G2TranslationConfig["arms"]]),
      ...dropoutOf(c.dropout),
      compression: { precisionLevels: [...c.compression.precisionLevels], svdRanks: [...c.compression.svdRanks], roundSteps: [...(c.compression.roundSteps ?? [])] },
      // The gate map: per-position mean i/f gates of the decoder's first layer, teacher-forced on test pairs.
      evaluateTrained: ({ config, params, test, targetTokens }) => {
        const pairs = test.source
          .map((source, k) => ({ source: Array.from(source), target: Array.from(test.target[k]) }))
          .filter((p) => p.source.length > 0 && p.target.length > 0 && p.target.length <= c.gateMap.maxWords)
          .slice(0, c.gateMap.sentences);
        return { gateMap: translationGateMap(config, params, pairs, targetTokens, "decoder.layer0") };
      },
    });
  },
});

/** The model's dropout from the config section ({} for none); a rate that would be ignored is an error. */
function dropoutOf(d: Readonly<G2TranslationConfig["dropout"]>): { dropout?: DropoutConfig } {
  if (d.kind === "none") {
    if (d.rate !== 0) throw new Error(`dropout.rate=${d.rate} has no effect with dropout.kind "none": set it to 0`);
    return {};
  }
  if (d.kind !== "elementwise" && d.kind !== "locked") throw new Error(`dropout.kind="${d.kind}" must be none, elementwise or locked`);
  return { dropout: { kind: d.kind, rate: d.rate } };
}
