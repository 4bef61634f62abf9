/**
 * g2lstm/ptb — G2-LSTM (Li et al., ICML 2018) on word-level PTB: baseline LSTM vs sharpened sigmoid
 * vs Gumbel-sigmoid ("G2") input and forget gates; evaluation always with the plain sigmoid.
 *
 * Training gates (docs/papers/g2-lstm.md, authors' code language-modeling/g2_lstm.py):
 *   f, i = σ((a + B·N)/τ),  B ~ Bernoulli(p = 0.2),  N = log(U + 1e-3) − log(1 + 1e-3 − U),  U ~ U(0,1)
 *   sharpened baseline: f, i = σ(a/τ);  test time: σ(a) (no noise, no temperature)
 * Measured besides perplexity: the share of first-layer i/f gate values below 0.1 or above 0.9 on valid.
 *
 * DEVIATION: no ASGD fine-tuning and no continuous cache pointer (the paper's PTB numbers very likely
 * include both, docs/papers/g2-lstm.md); the `cpu` preset is a 2-layer 128-unit model trained for 400 steps
 * (~30% of an epoch) without dropout, evaluated on the first 20k validation/test tokens.
 * Compression (no retraining): Round, Round & Clip and SVD of the i/f blocks (./../adapters/lm-compression.ts),
 * test perplexity of each, on the selected parameters (best validation by default, issue 17; under NT-ASGD the
 * averaged ones once averaging has started), the same parameters as testPerplexity.
 */
import type { RecurrentCellConfig } from "@rnnlab/train";
import { runLanguageModelArm, type DropoutSection, type LanguageModelDataSection, type LanguageModelSection } from "../adapters/language-model";
import { languageModelFromCheckpoint, type LanguageModelCompressionSection } from "../adapters/lm-compression";
import { registerExperiment } from "../registry";
import { g2GateConfig, smokeLanguageModel, type GateArm } from "./common";
import { exampleSentences, languageModelGateMap } from "./gate-map";

export interface G2PtbConfig {
  data: LanguageModelDataSection;
  model: LanguageModelSection;
  dropout: DropoutSection;
  compression: LanguageModelCompressionSection;
  /** The gate map figure: how many test sentences (of at most maxWords tokens, <eos> included). */
  gateMap: { sentences: number; maxWords: number };
  arms: { baseline: GateArm; sharpened: GateArm; g2: GateArm };
}

/** The paper's setup: AWD-LSTM defaults of the authors' language-modeling/main.py (docs/papers/g2-lstm.md). */
export const g2PtbBase: G2PtbConfig = {
  data: { source: "dataset", dataset: "ptb", generatedVocabularySize: 60, generatedTrainTokens: 4000, maxEvaluationTokens: 0 },
  model: {
    embeddingSize: 400, // emsize 400
    hiddenSize: 1150, // nhid 1150; the tied last layer has 400
    layers: 3,
    tieWeights: true,
    batchSize: 80,
    evaluationBatchSize: 10,
    bptt: 70, // N(70, 5), 35 with p = 0.05, lr scaled by L/70
    variableLength: true,
    epochs: 500, // AWD-LSTM's PTB epochs; the paper's own count is unknown [U]
    maxStepsPerEpoch: 0,
    optimizer: "asgd", // SGD, switching to averaging (NT-ASGD, nonmono 5)
    learningRate: 30,
    weightDecay: 1.2e-6,
    clipNorm: 0.25,
    evaluateEverySteps: 0,
    checkpointEverySteps: 500,
    activationRegularization: 2, // AWD main.py --alpha 2 (docs/papers/g2-lstm.md, "Language model")
    temporalActivationRegularization: 1, // --beta 1
  },
  // dropout 0.4, dropouth 0.3, dropouti 0.65, dropoute 0.1, wdrop 0.5
  dropout: { kind: "locked", embedding: 0.1, input: 0.65, hidden: 0.3, output: 0.4, weightDrop: 0.5 },
  // The paper's r and ranks are unknown [U]; our CPU plan in docs/papers/g2-lstm.md: r ∈ {0.05, 0.1, 0.2}, ranks H/4, H/16.
  compression: { roundSteps: [0.05, 0.1, 0.2], svdRankDivisors: [4, 16] },
  gateMap: { sentences: 3, maxWords: 16 },
  arms: {
    baseline: { gate: "sigmoid", temperature: 1, noiseProbability: 0 },
    // τ: the code default is 1.0; 0.9 is recalled from the paper [R] (docs/papers/g2-lstm.md, "Temperature").
    sharpened: { gate: "sharpened", temperature: 0.9, noiseProbability: 0 },
    g2: { gate: "gumbel", temperature: 0.9, noiseProbability: 0.2 }, // p = 0.2 (README: every experiment)
  },
};

registerExperiment<G2PtbConfig>({
  id: "g2lstm/ptb",
  title: "G2-LSTM on word-level PTB: baseline vs sharpened sigmoid vs Gumbel gates",
  claim:
    "Gumbel-sigmoid training pushes input/forget gates to 0 or 1 (more saturated gates) at the same or slightly better perplexity.",
  base: g2PtbBase,
  presets: {
    smoke: { ...smokeLanguageModel, compression: { roundSteps: [0.1], svdRankDivisors: [4, 8] }, gateMap: { sentences: 2, maxWords: 12 } },
    // our CPU plan in docs/papers/g2-lstm.md: 2-layer tied LSTM, bptt 35, batch 20, Adam, clip 0.25.
    // Sized for ~25 min for all three arms on this shared 2-core box (G2: ~1 s/step on the readable path
    // under load): 400 steps = 280k training tokens, about 30% of one PTB epoch, so no dropout (nothing
    // to regularise yet). Validation and test are cut to their first 20k tokens so that the ~10
    // evaluations per arm (curve, final, gate histograms, 8 compressions) stay cheap.
    // AR α = 2 / TAR β = 1 come from the base (the authors'). Issue 17: without them this dropout-free Adam
    // model drove every gate to saturation (c grew by ±1 per step, max |c| in the thousands over an
    // evaluation pass) and its carried-state perplexities depended on the batch layout (test 25% above valid);
    // with them, a 2x64 probe at Adam 0.01 kept max |c| ≈ 30-40 and test/valid at the count models' 0.96.
    cpu: {
      data: { maxEvaluationTokens: 20000 },
      model: {
        embeddingSize: 128,
        hiddenSize: 128,
        layers: 2,
        batchSize: 20,
        evaluationBatchSize: 20,
        bptt: 35,
        variableLength: false,
        epochs: 1,
        maxStepsPerEpoch: 400,
        evaluateEverySteps: 100,
        optimizer: "adam",
        learningRate: 0.003,
        weightDecay: 0,
        clipNorm: 0.25,
        checkpointEverySteps: 100,
      },
      dropout: { kind: "locked", embedding: 0, input: 0, hidden: 0, output: 0, weightDrop: 0 },
      // Grid steps r and SVD ranks H/4 = 32 (SVD) and H/16 = 8 (SVD+); the paper's are unknown [U].
      compression: { roundSteps: [0.02, 0.05, 0.1], svdRankDivisors: [4, 16] },
    },
    paper: {},
  },
  defaultSeeds: { smoke: [0], cpu: [0], paper: [0, 1, 2] },
  data: { kind: "dataset", datasets: ["ptb"], smoke: "generated bigram corpus (60 words)" },
  reported: {
    source: "docs/papers/g2-lstm.md, ICML'18 poster table, PTB 'Result' column",
    metric: "test perplexity",
    ourMetric: "testPerplexity",
    lowerIsBetter: true,
    values: { baseline: 52.8, sharpened: 53.2, g2: 52.1 },
    note:
      "The paper's numbers very likely include ASGD fine-tuning and the continuous cache pointer on a 3-layer AWD-LSTM [R]; ours do not. " +
      "Compressed (baseline / sharpened / G2): Round 53.2 / 53.5 / 52.2; Round & Clip 53.6 / 53.6 / 52.8; SVD 56.6 / 54.6 / 53.3; SVD+ 65.5 / 60.0 / 56.0 (r and ranks unknown [U]); ours: testPerplexity_<method>.",
  },
  primaryMetric: { name: "testPerplexity", lowerIsBetter: true },
  plotCurves: ["validPerplexity", "trainLoss"],
  runArm: (ctx) =>
    runLanguageModelArm(ctx, {
      data: ctx.config.data,
      level: "word",
      model: ctx.config.model,
      dropout: ctx.config.dropout,
      // forgetBias 0: the authors' code is AWD-LSTM's torch.nn.LSTM, which has no forget-gate offset (issue 17).
      // DEVIATION: its biases are U(±1/√H) (b_ih and b_hh), ours 0.
      cell: { kind: "lstm", gate: g2GateConfig(ctx.config.arms[ctx.arm as keyof G2PtbConfig["arms"]]), forgetBias: 0 } as RecurrentCellConfig,
      gateHistograms: true,
      compression: { roundSteps: [...ctx.config.compression.roundSteps], svdRankDivisors: [...ctx.config.compression.svdRankDivisors] },
      // The gate map: per-word mean i/f gates of the first layer over the first few test sentences.
      evaluateTrained: ({ architecture, checkpoint, corpus }) => {
        const tokens = corpus.vocabulary.tokens;
        const end = tokens.indexOf("<eos>");
        const sentences = exampleSentences(corpus.test, end, ctx.config.gateMap.sentences, 6, ctx.config.gateMap.maxWords);
        const trained = languageModelFromCheckpoint(architecture, checkpoint);
        try {
          return { gateMap: languageModelGateMap(trained.model, trained.params, sentences, tokens, "layer0") };
        } finally {
          trained.dispose();
        }
      },
    }),
});
