/**
 * g2lstm/ptb — G2-LSTM (Li et al., ICML 2018) on word-level PTB: baseline LSTM vs sharpened sigmoid
 * vs Gumbel-sigmoid ("G2") input and forget gates; evaluation always with the plain sigmoid.
 *
 * Training gates (docs/papers/g2-lstm.md, authors' code language-modeling/g2_lstm.py):
 *   f, i = σ((a + B·N)/τ),  B ~ Bernoulli(p = 0.2),  N = log(U + 1e-3) − log(1 + 1e-3 − U),  U ~ U(0,1)
 *   sharpened baseline: f, i = σ(a/τ);  test time: σ(a) (no noise, no temperature)
 * Measured besides perplexity: the share of i/f gate values below 0.1 and above 0.9 per layer on the test
 * split (finals inputGateBelow0.1_layer0, ..., from the selected parameters' test pass), gate histograms.
 *
 * DEVIATION: no ASGD fine-tuning and no continuous cache pointer (the paper's PTB numbers very likely
 * include both, docs/papers/g2-lstm.md); the `cpu` preset is a 2-layer tied 200-unit model (Zaremba's small
 * width) with the authors' five dropouts at half their rates, Adam with a plateau-halved learning rate
 * instead of NT-ASGD, 15 epochs with best-validation selection instead of 500.
 * Compression (no retraining): Round, Round & Clip and SVD of the i/f blocks (./../adapters/lm-compression.ts),
 * test perplexity of each, on the selected parameters (best validation by default, issue 17; under NT-ASGD the
 * averaged ones once averaging has started), the same parameters as testPerplexity.
 */
import type { RecurrentCellConfig, ScheduleOptions } from "@rnnlab/train";
import { runLanguageModelArm, type DropoutSection, type LanguageModelDataSection, type LanguageModelSection } from "../adapters/language-model";
import { languageModelFromCheckpoint, type LanguageModelCompressionSection } from "../adapters/lm-compression";
import { registerExperiment } from "../registry";
import { g2PtbSchema } from "./schema";
import { g2GateConfig, smokeLanguageModel, type GateArm } from "./common";
import { exampleSentences, languageModelGateMap } from "./gate-map";

export interface G2PtbConfig {
  data: LanguageModelDataSection;
  model: LanguageModelSection;
  dropout: DropoutSection;
  compression: LanguageModelCompressionSection;
  /**
   * Learning rate × factor after each validation (end of epoch) that does not improve on the best (torch's
   * ReduceLROnPlateau, `patience` evaluations of grace); factor 1: a constant rate (the paper preset, NT-ASGD).
   */
  learningRateDecay: { factor: number; patience: number };
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
  learningRateDecay: { factor: 1, patience: 0 }, // NT-ASGD at a constant lr 30 (AWD main.py has no decay)
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
  schema: g2PtbSchema,
  presets: {
    smoke: { ...smokeLanguageModel, compression: { roundSteps: [0.1], svdRankDivisors: [4, 8] }, gateMap: { sentences: 2, maxWords: 12 } },
    // Issue 20: a converged small-scale reproduction (the earlier 400-step, 128-unit pilot sat at a unigram
    // model's perplexity, so nothing could be tested). Every setting and its source:
    // - 2-layer tied LSTM of 200 units (embedding 200 = the tied last layer): Zaremba et al.'s "small" width,
    //   whose 114.5 test perplexity (untied, no dropout, 13 epochs) is the reference for "at most 120";
    //   200 rather than 256 because the cost per step grows ~quadratically in H and 9 runs share 2 busy cores.
    // - batch 20, BPTT 35 fixed: Zaremba small (AWD's 80 / N(70, 5) belong to the 1150-unit model).
    // - dropout: the authors' AWD rates (output 0.4, between layers 0.3, input 0.65, embedding 0.1, DropConnect
    //   on W_hh 0.5; docs/papers/g2-lstm.md "Language model") at half their value. Reason: a 200-unit model has
    //   ~1/30 of AWD's recurrent weights and trains 15 epochs instead of 500, so the full rates would leave it
    //   underfitted at the end of the budget; without any dropout a 2x200 model overfits after ~5 epochs
    //   (Zaremba small: train perplexity far below valid). Half keeps every one of the authors' five on.
    // - AR α = 2 / TAR β = 1 from the base (the authors'; they reach the trainer, config-reach.test.ts).
    // - Adam 2e-3 with clip 0.25 (the authors' clip), the rate halved after each epoch whose validation loss
    //   does not improve (plateau, patience 0). DEVIATION: the authors' NT-ASGD at lr 30 needs hundreds of
    //   epochs; Adam converges in the ~10-15 epochs the issue budgets.
    // - 15 epochs (1,327 windows of 20x35 each) with best-validation selection (the trainer's default):
    //   "trained until validation stops improving" inside the budget; the LM trainer has no early stop, so
    //   epochs after the best cost time but do not change the reported parameters. Validation once per epoch.
    // - full validation (73,760 tokens) and test (82,430 tokens) splits; test at batch 1 (testBatchSize).
    // - compression fixed before the run (issue 20): Round and Round & Clip at r in {0.05, 0.1, 0.2} (the
    //   paper's r is unknown [U]; trained gate weights of a 200-unit LSTM are of order 0.1-0.5, so 0.05 is
    //   mild and 0.2 leaves a few levels), SVD at rank H/4 = 50 ("SVD") and H/16 = 12 ("SVD+", the smaller
    //   rank); all on the best-validation parameters (selected.rnnlab), same test layout as testPerplexity.
    // COST (extrapolation from a timed short measurement on the loaded 2-core machine, see
    // docs/papers/g2-lstm.md "cpu preset"): 25 training steps of the baseline arm (seed 0, with two 4,000-token validation passes) took 247 s of
    // trainer wall clock at load average ~9 on the 2 cores (two long runs plus a test): ~10 s per step. Extrapolated:
    // 1,327 steps ≈ 3.6 h per epoch, ≈ 55 h per 15-epoch run at that load. Uncontested, the same 2x200 model runs
    // ~0.45 s per step on one core (results/bench/lstm-lm.json "small", as sdropout/ptb's cpu comment): ≈ 10 min per
    // epoch, ≈ 2.5-3 h per run plus evaluation. The sharpened and G2 arms and the batch-1 test/compression passes
    // were not timed (the measurement was stopped for lack of time); run it uncontested before committing to 9 runs.
    cpu: {
      data: { maxEvaluationTokens: 0 },
      model: {
        embeddingSize: 200,
        hiddenSize: 200,
        layers: 2,
        batchSize: 20,
        evaluationBatchSize: 20,
        bptt: 35,
        variableLength: false,
        epochs: 15,
        maxStepsPerEpoch: 0,
        evaluateEverySteps: 0,
        optimizer: "adam",
        learningRate: 0.002,
        weightDecay: 0,
        clipNorm: 0.25,
        checkpointEverySteps: 500,
      },
      dropout: { kind: "locked", embedding: 0.05, input: 0.325, hidden: 0.15, output: 0.2, weightDrop: 0.25 },
      compression: { roundSteps: [0.05, 0.1, 0.2], svdRankDivisors: [4, 16] },
      learningRateDecay: { factor: 0.5, patience: 0 },
    },
    paper: {},
  },
  defaultSeeds: { smoke: [0], cpu: [0, 1, 2], paper: [0, 1, 2] },
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
      schedule: learningRateSchedule(ctx.config.model.learningRate, ctx.config.learningRateDecay),
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

/** The trainer's schedule from `learningRateDecay`: constant at factor 1, else the plateau reducer. */
function learningRateSchedule(learningRate: number, decay: Readonly<G2PtbConfig["learningRateDecay"]>): ScheduleOptions {
  if (!(decay.factor > 0 && decay.factor <= 1)) throw new Error(`learningRateDecay.factor=${decay.factor} must be in (0, 1] (1: constant learning rate)`);
  if (!(Number.isInteger(decay.patience) && decay.patience >= 0)) throw new Error(`learningRateDecay.patience=${decay.patience} must be a whole number >= 0`);
  if (decay.factor === 1) {
    if (decay.patience !== 0) throw new Error(`learningRateDecay.patience=${decay.patience} has no effect at factor 1 (constant rate): set it to 0`);
    return { kind: "constant", learningRate };
  }
  return { kind: "plateau", learningRate, factor: decay.factor, patience: decay.patience };
}
