/** Shared pieces of the G2-LSTM experiments: the gate arm settings and the smoke-size LM. */
import type { GateConfig } from "@rnnlab/cells";
import type { DeepPartial } from "../config";
import type { DropoutSection, LanguageModelDataSection, LanguageModelSection } from "../adapters/language-model";

export interface GateArm {
  /** "sigmoid" | "sharpened" | "gumbel". */
  gate: string;
  temperature: number;
  /** Gumbel only: the share of gate entries that get logistic noise. */
  noiseProbability: number;
}

export function g2GateConfig(arm: Readonly<GateArm>): GateConfig {
  // Every arm setting must act: a temperature or noise that the gate would ignore is an error.
  if (arm.gate !== "gumbel" && arm.noiseProbability !== 0)
    throw new Error(`arms.*.noiseProbability=${arm.noiseProbability} only applies to gate "gumbel" (got "${arm.gate}"): set it to 0`);
  if (arm.gate === "sigmoid" && arm.temperature !== 1)
    throw new Error(`arms.*.temperature=${arm.temperature} does not apply to gate "sigmoid" (use "sharpened"): set it to 1`);
  if (arm.gate === "sigmoid") return { kind: "sigmoid" };
  if (arm.gate === "sharpened") return { kind: "sharpened", temperature: arm.temperature };
  if (arm.gate === "gumbel") return { kind: "gumbel", temperature: arm.temperature, noiseProbability: arm.noiseProbability, evaluation: "sigmoid" };
  throw new Error(`arms.*.gate="${arm.gate}" must be sigmoid, sharpened or gumbel`);
}

/** A seconds-long LM on the generated corpus (every LM experiment's smoke preset starts from this). */
export const smokeLanguageModel: {
  data: Partial<LanguageModelDataSection>;
  model: Partial<LanguageModelSection>;
  dropout: Partial<DropoutSection>;
} = {
  data: { source: "generated", generatedVocabularySize: 60, generatedTrainTokens: 4000 },
  model: {
    embeddingSize: 16,
    hiddenSize: 16,
    layers: 1,
    batchSize: 4,
    evaluationBatchSize: 4,
    bptt: 10,
    variableLength: false,
    epochs: 1,
    maxStepsPerEpoch: 6,
    optimizer: "adam",
    learningRate: 0.01,
    weightDecay: 0,
    checkpointEverySteps: 3,
  },
  dropout: { embedding: 0, input: 0.1, hidden: 0.1, output: 0.1, weightDrop: 0 },
};
export type SmokeLanguageModel = DeepPartial<typeof smokeLanguageModel>;
