/**
 * atn/char-ptb — ATN on character-level PTB (authors' ptb/ AWD-based code): a 1-layer tied LSTM,
 * LN-LSTM (window 1) vs ATN-LSTM (window k = 20), bits per character.
 * ATN memory resets at every BPTT segment (docs/papers/atn.md); equations in ./synthetic.ts.
 *
 * Initialisation as the authors' (docs/papers/atn.md): W orthogonal (model.inputInit), U = [I I I I]
 * (model.recurrentInit "identity"), biases 0 (forgetBias 0); norm gains γ = 1, β = 0.
 *
 * DEVIATION (cpu preset): a 64-unit model, bptt 50 and 60 steps instead of 200 units, 150 epochs at bptt 220.
 */
import { runLanguageModelArm, type LanguageModelDataSection, type LanguageModelSection } from "../adapters/language-model";
import { smokeLanguageModel } from "../g2lstm/common";
import { registerExperiment } from "../registry";
import { atnCharPtbSchema } from "./schema";
import type { NormalizationArm } from "./synthetic";

type CharPtbArm = Pick<NormalizationArm, "normalization" | "window">;

export interface AtnCharPtbConfig {
  data: LanguageModelDataSection;
  model: LanguageModelSection & { recurrentInit: string; inputInit: string };
  /** Initialisation is model-wide here (model.inputInit / recurrentInit), so the arms choose the norm only. */
  arms: { lstm: CharPtbArm; layerNorm: CharPtbArm; atn: CharPtbArm };
}

/** ptb/main.py: 1 layer, emsize 200, tied (effective hidden 200), Adam 1e-2, clip 3, batch 32, bptt 220, 150 epochs, k = 20. */
export const atnCharPtbBase: AtnCharPtbConfig = {
  data: { source: "dataset", dataset: "ptb-char", generatedVocabularySize: 40, generatedTrainTokens: 4000 },
  model: {
    embeddingSize: 200,
    hiddenSize: 200,
    layers: 1,
    tieWeights: true,
    batchSize: 32,
    evaluationBatchSize: 32,
    bptt: 220,
    variableLength: true,
    epochs: 150,
    maxStepsPerEpoch: 0,
    optimizer: "adam",
    learningRate: 1e-2,
    weightDecay: 0,
    clipNorm: 3,
    evaluateEverySteps: 0,
    checkpointEverySteps: 500,
    recurrentInit: "identity",
    inputInit: "orthogonal", // docs/papers/atn.md "Initialisation": W orthogonal, U = [I I I I], biases 0
  },
  arms: {
    lstm: { normalization: "none", window: 1 },
    layerNorm: { normalization: "layer", window: 1 }, // the LN baseline is --max_length 1
    atn: { normalization: "assortedTime", window: 20 },
  },
};

registerExperiment<AtnCharPtbConfig>({
  id: "atn/char-ptb",
  title: "ATN on character-level PTB: LSTM vs LN-LSTM vs ATN-LSTM (bits per character)",
  claim: "ATN-LSTM reaches lower bits per character than LN-LSTM.",
  base: atnCharPtbBase,
  schema: atnCharPtbSchema,
  presets: {
    smoke: { data: smokeLanguageModel.data, model: { ...smokeLanguageModel.model }, arms: { atn: { window: 3 } } },
    // DEVIATION (cpu): embedding = hidden 64 (paper 200), bptt 50 without random lengths (220), 60 steps of
    // batch 32 (≈100k characters, a tenth of an epoch; paper 150 epochs), k = 20 as in the paper; validation
    // and test once at the end with evaluation batch 256 (full splits). ≈ 4 min per seed (3 arms) here.
    cpu: {
      model: { embeddingSize: 64, hiddenSize: 64, bptt: 50, variableLength: false, epochs: 1, maxStepsPerEpoch: 60, evaluationBatchSize: 256, evaluateEverySteps: 0, checkpointEverySteps: 100 },
    },
    paper: {},
  },
  defaultSeeds: { smoke: [0], cpu: [0, 1, 2], paper: [0, 1, 2] },
  data: { kind: "dataset", datasets: ["ptb-char"], smoke: "generated bigram corpus, character level" },
  reported: {
    source: "docs/papers/atn.md (results not reachable)",
    metric: "test bits per character",
    ourMetric: "testBitsPerCharacter",
    lowerIsBetter: true,
    values: { lstm: null, layerNorm: null, atn: null },
    note: "The ATN paper's char-PTB numbers are unknown [U].",
  },
  primaryMetric: { name: "testBitsPerCharacter", lowerIsBetter: true },
  plotCurves: ["validBitsPerCharacter", "trainLoss"],
  runArm: (ctx) => {
    const c = ctx.config;
    const arm = c.arms[ctx.arm as keyof AtnCharPtbConfig["arms"]];
    // Every arm setting must act: the window only exists for ATN (layer norm is ATN's window 1).
    if (!["none", "layer", "assortedTime"].includes(arm.normalization))
      throw new Error(`arms.${ctx.arm}.normalization="${arm.normalization}" must be none, layer or assortedTime`);
    if (arm.normalization !== "assortedTime" && arm.window !== 1)
      throw new Error(`arms.${ctx.arm}.window=${arm.window} only applies to normalization "assortedTime" (layer norm is its window 1): set it to 1`);
    const normalization =
      arm.normalization === "layer" ? { kind: "layer" as const } : arm.normalization === "assortedTime" ? { kind: "assortedTime" as const, window: arm.window } : { kind: "none" as const };
    return runLanguageModelArm(ctx, {
      data: c.data,
      level: "character",
      model: c.model,
      // forgetBias 0: the ATN code's biases are 0 (docs/papers/atn.md "Initialisation", issue 17).
      cell: { kind: "lstm", normalization, recurrentInit: c.model.recurrentInit as "identity" | "uniform", forgetBias: 0 },
    });
  },
});
