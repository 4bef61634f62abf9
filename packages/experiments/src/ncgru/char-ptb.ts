/**
 * ncgru/char-ptb — NC-GRU vs GRU on character-level PTB (authors' character_Penn_TreeBank/run.sh),
 * bits per character. Equations in ./synthetic.ts; here the inverse is recomputed every 100 batches.
 *
 * Candidate form (`ncgruCandidate`, issues 17 and 24): the authors' PyTorch char-PTB code (model.py NCGRUCell,
 * docs/papers/nc-gru.md) uses ĉ = W_c x + r ⊙ (U_c h) with the modReLU bias b_c = 0, unlike the TF scripts of the
 * synthetic tasks (U_c (r ⊙ h), b_c ~ U(±0.1)); every preset here uses the PyTorch form (cells' NC-GRU options
 * candidate "resetAfterProduct", candidateBiasInit "zero"). That form has no fused native recurrence, so its NC-GRU
 * arms step through the sequence (slower per step than GRU and LSTM, which use fused kernels).
 * DEVIATION (cpu preset): width at most 200 instead of 435 and 2 epochs instead of 100 (see the preset).
 */
import { NCGRU_CANDIDATE_BIAS_INITS, NCGRU_CANDIDATE_FORMS, type NcGruCandidateBiasInit, type NcGruCandidateForm } from "@rnnlab/cells";
import { runLanguageModelArm, type LanguageModelDataSection, type LanguageModelSection } from "../adapters/language-model";
import { smokeLanguageModel } from "../g2lstm/common";
import { registerExperiment } from "../registry";
import { ncgruCharPtbSchema } from "./schema";
import { trackOrthogonalityError, type CellArm } from "./synthetic";

export interface NcGruCharPtbConfig {
  data: LanguageModelDataSection;
  /** The layer width (embedding = hidden, tied) is each arm's `hiddenSize`. */
  model: Omit<LanguageModelSection, "embeddingSize" | "hiddenSize">;
  orthogonal: { neumannOrder: number; recomputeEvery: number; orthogonalLearningRate: number };
  /** The NC-GRU arms' candidate: `form` "resetAfterProduct" r ⊙ (U_c h) or "resetBeforeProduct" U_c (r ⊙ h); `biasInit` of b_c "zero" or "uniform". */
  ncgruCandidate: { form: string; biasInit: string };
  arms: { gru: CellArm; ncgru: CellArm; ncgruReset: CellArm; lstm: CellArm };
}

/** run.sh: 1 layer, emsize 435 tied (hidden 435), bptt 100, batch 32, Adam 7e-4, A Adam 7e-4, 100 epochs, no dropout/clipping, ρ 50, order 2. */
export const ncgruCharPtbBase: NcGruCharPtbConfig = {
  data: { source: "dataset", dataset: "ptb-char", generatedVocabularySize: 40, generatedTrainTokens: 4000 },
  model: {
    layers: 1,
    tieWeights: true,
    batchSize: 32,
    evaluationBatchSize: 32,
    bptt: 100,
    variableLength: false,
    epochs: 100,
    maxStepsPerEpoch: 0,
    optimizer: "adam",
    learningRate: 7e-4,
    weightDecay: 0,
    clipNorm: 0,
    evaluateEverySteps: 0,
    checkpointEverySteps: 500,
  },
  orthogonal: { neumannOrder: 2, recomputeEvery: 100, orthogonalLearningRate: 7e-4 },
  // model.py NCGRUCell: c = modrelu(W_c x + r * (U_c h)), modReLU bias initialised to 0.
  ncgruCandidate: { form: "resetAfterProduct", biasInit: "zero" },
  // run.sh's NC-GRU size for both NC-GRU variants; GRU and LSTM at the same width (the README gives no sizes for them).
  arms: {
    gru: { cell: "gru", hiddenSize: 435, negativeOnes: 0, orthogonalReset: false },
    ncgru: { cell: "nc-gru", hiddenSize: 435, negativeOnes: 50, orthogonalReset: false },
    ncgruReset: { cell: "nc-gru", hiddenSize: 435, negativeOnes: 50, orthogonalReset: true },
    lstm: { cell: "lstm", hiddenSize: 435, negativeOnes: 0, orthogonalReset: false },
  },
};

const { embeddingSize: _e, hiddenSize: _h, ...smokeModelWithoutWidths } = smokeLanguageModel.model;

registerExperiment<NcGruCharPtbConfig>({
  id: "ncgru/char-ptb",
  title: "NC-GRU vs GRU on character-level PTB (bits per character)",
  claim: "NC-GRU reaches lower bits per character than GRU (the authors' README: ≈1.385 BPC for NC-GRU).",
  base: ncgruCharPtbBase,
  schema: ncgruCharPtbSchema,
  presets: {
    smoke: {
      data: smokeLanguageModel.data,
      model: smokeModelWithoutWidths,
      arms: { gru: { hiddenSize: 16 }, ncgru: { hiddenSize: 16, negativeOnes: 6 }, ncgruReset: { hiddenSize: 16, negativeOnes: 6 }, lstm: { hiddenSize: 16 } },
    },
    // A converged small-scale run (issue 24): the authors' bptt 100, batch 32, Adam 7e-4 (main and A), recompute every
    // 100 batches, no dropout or clipping (run.sh), for 2 full epochs (maxStepsPerEpoch 0: every window).
    // DEVIATION: 2 epochs instead of 100 and width at most 200 instead of 435 (2-core budget). Widths, ours,
    // parameter-matched by trainable count (an orthogonal matrix counted by its skew A; vocabulary 49, tied):
    //   NC-GRU(U_c) 200: 230.3k (the anchor: the paper's model at the width cap); GRU 192: 231.8k; LSTM 166: 229.3k;
    //   NC-GRU(U_c, U_r) 200: 210.2k (9 % fewer: matching it would need width 210, over the cap).
    // ρ 23 = the authors' 50/435 of the width (run.sh --nono 50 at 435), not the synthetic presets' 40 %.
    // Per-epoch cost, measured (5 step intervals per arm at these sizes, bptt 100 x batch 32, with both cores busy with
    // other training runs, nice 19; not a full epoch): GRU 0.73 s/step, NC-GRU(U_c) 0.95, NC-GRU(U_c, U_r) 1.44 (both
    // stepping: this candidate form has no fused kernel), LSTM 0.26. One epoch is ≈1,590 steps (5.1M characters /
    // 3,200), so ≈19 / 25 / 38 / 7 minutes per epoch and arm, ≈ 9 hours of one core for 2 epochs x 3 seeds x 4 arms.
    cpu: {
      model: { batchSize: 32, evaluationBatchSize: 256, bptt: 100, epochs: 2, maxStepsPerEpoch: 0, evaluateEverySteps: 0, checkpointEverySteps: 100, learningRate: 7e-4 },
      orthogonal: { orthogonalLearningRate: 7e-4 },
      arms: { gru: { hiddenSize: 192 }, ncgru: { hiddenSize: 200, negativeOnes: 23 }, ncgruReset: { hiddenSize: 200, negativeOnes: 23 }, lstm: { hiddenSize: 166 } },
    },
    paper: {},
  },
  defaultSeeds: { smoke: [0], cpu: [0, 1, 2], paper: [0, 1, 2] },
  data: { kind: "dataset", datasets: ["ptb-char"], smoke: "generated bigram corpus, character level" },
  reported: {
    source: "docs/papers/nc-gru.md, the authors' README (character_Penn_TreeBank)",
    metric: "test bits per character",
    ourMetric: "testBitsPerCharacter",
    lowerIsBetter: true,
    values: { gru: null, ncgru: 1.385, ncgruReset: null, lstm: null },
    note: "≈1.385 BPC is the README's NC-GRU figure after 100 epochs at 435 units; the GRU baseline's value is unknown [U].",
  },
  primaryMetric: { name: "testBitsPerCharacter", lowerIsBetter: true },
  plotCurves: ["validBitsPerCharacter", "orthogonalityError", "trainLoss"],
  runArm: async (ctx) => {
    const c = ctx.config;
    const arm = c.arms[ctx.arm as keyof NcGruCharPtbConfig["arms"]];
    const o = c.orthogonal;
    // Every arm setting must act: NC-GRU's settings on another cell are an error, not ignored.
    if (!["gru", "lstm", "nc-gru"].includes(arm.cell)) throw new Error(`arms.${ctx.arm}.cell="${arm.cell}" must be gru, lstm or nc-gru`);
    if (arm.cell !== "nc-gru" && (arm.negativeOnes !== 0 || arm.orthogonalReset))
      throw new Error(`arms.${ctx.arm}: negativeOnes and orthogonalReset only apply to cell "nc-gru" (got "${arm.cell}"): set them to 0 / false`);
    const { form, biasInit } = c.ncgruCandidate;
    if (!NCGRU_CANDIDATE_FORMS.includes(form as NcGruCandidateForm)) throw new Error(`ncgruCandidate.form="${form}" must be one of ${NCGRU_CANDIDATE_FORMS.join(", ")}`);
    if (!NCGRU_CANDIDATE_BIAS_INITS.includes(biasInit as NcGruCandidateBiasInit)) throw new Error(`ncgruCandidate.biasInit="${biasInit}" must be one of ${NCGRU_CANDIDATE_BIAS_INITS.join(", ")}`);
    const cell =
      arm.cell === "nc-gru"
        ? {
            kind: "nc-gru" as const,
            negativeOnes: arm.negativeOnes,
            orthogonalReset: arm.orthogonalReset,
            candidate: form as NcGruCandidateForm,
            candidateBiasInit: biasInit as NcGruCandidateBiasInit,
            neumannOrder: o.neumannOrder as 1 | 2 | 3,
            recomputeEvery: o.recomputeEvery,
            orthogonalLearningRate: o.orthogonalLearningRate,
          }
        : arm.cell === "lstm"
          ? { kind: "lstm" as const, forgetBias: 0 } // the AWD-based PyTorch code's nn.LSTM has no forget-gate offset (issue 17)
          : { kind: "gru" as const };
    // Tied weights: the layer width is the embedding size, so each arm's hidden size sets both.
    const tracked = trackOrthogonalityError(ctx);
    const outcome = await runLanguageModelArm(tracked, { data: c.data, level: "character", model: { ...c.model, hiddenSize: arm.hiddenSize, embeddingSize: arm.hiddenSize }, cell });
    if (arm.cell === "nc-gru") outcome.final.maxOrthogonalityError = tracked.largest(outcome);
    // The trainer counts every entry of U_c (and U_r); an orthogonal matrix has H(H−1)/2 free parameters (its skew A).
    const H = arm.hiddenSize;
    const orthogonalMatrices = arm.cell === "nc-gru" ? (arm.orthogonalReset ? 2 : 1) : 0;
    outcome.final.parameters = outcome.final.parameterCount - orthogonalMatrices * (H * H - (H * (H - 1)) / 2);
    return outcome;
  },
});
