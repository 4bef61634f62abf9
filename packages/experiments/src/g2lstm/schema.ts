/** Config schemas of the G2-LSTM experiments; shared sections in ../schemas.ts. */
import { z } from "zod";
import {
  decayFactor,
  dropoutRate,
  epochTrainingSchema,
  languageModelCompressionSchema,
  languageModelDataSchema,
  languageModelDropoutSchema,
  languageModelSchema,
  nonNegativeInt,
  oneOf,
  positive,
  positiveInt,
  probability,
  translationCompressionSchema,
  translationDataSchema,
  translationDecodingSchema,
  translationModelSchema,
} from "../schemas";

/** common.ts g2GateConfig(): the gate kinds of @rnnlab/cells' GateConfig. */
export const GATES = ["sigmoid", "sharpened", "gumbel"] as const;

/** common.ts GateArm. */
export const gateArmSchema = z.object({ gate: oneOf(GATES), temperature: positive, noiseProbability: probability }).strict();

const gateArms = z.object({ baseline: gateArmSchema, sharpened: gateArmSchema, g2: gateArmSchema }).strict();
const gateMap = z.object({ sentences: positiveInt, maxWords: positiveInt }).strict();

/** ptb.ts G2PtbConfig. */
export const g2PtbSchema = z
  .object({
    data: languageModelDataSchema,
    model: languageModelSchema,
    dropout: languageModelDropoutSchema,
    compression: languageModelCompressionSchema,
    learningRateDecay: z.object({ factor: decayFactor, patience: nonNegativeInt }).strict(),
    gateMap,
    arms: gateArms,
  })
  .strict();

/** translation.ts dropoutOf(): dropout on the non-recurrent connections of encoder and decoder. */
export const TRANSLATION_DROPOUT_KINDS = ["none", "elementwise", "locked"] as const;

/** translation.ts G2TranslationConfig. */
export const g2TranslationSchema = z
  .object({
    data: translationDataSchema,
    model: translationModelSchema,
    train: epochTrainingSchema,
    decoding: translationDecodingSchema,
    compression: translationCompressionSchema,
    dropout: z.object({ kind: oneOf(TRANSLATION_DROPOUT_KINDS), rate: dropoutRate }).strict(),
    gateMap,
    arms: gateArms,
  })
  .strict();
