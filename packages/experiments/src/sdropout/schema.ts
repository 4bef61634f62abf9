/** Config schemas of the structured-dropout experiments; shared sections in ../schemas.ts. */
import { z } from "zod";
import {
  decayFactor,
  dropoutRate,
  epochTrainingSchema,
  languageModelDataSchema,
  languageModelSchema,
  nonNegativeInt,
  oneOf,
  positive,
  positiveInt,
  taggerModelSchema,
  taggingDataSchema,
  translationDataSchema,
  translationDecodingSchema,
  translationModelSchema,
} from "../schemas";

/** ptb.ts lmDropout() and sequence-tasks.ts dropoutOf(). */
export const DROPOUT_ARM_KINDS = ["elementwise", "structured", "none"] as const;
/** @rnnlab/train's fast path switch ("off": the readable scan path). */
export const FAST_PATHS = ["auto", "off"] as const;

/** ptb.ts DropoutArm. */
export const dropoutArmSchema = z.object({ kind: oneOf(DROPOUT_ARM_KINDS), rate: dropoutRate }).strict();
/** ptb.ts LmDropoutArm. */
export const lmDropoutArmSchema = dropoutArmSchema.extend({ maskSteps: nonNegativeInt }).strict();

/** ptb.ts StructuredDropoutLmConfig (sdropout/ptb with its four arms, sdropout/rate-sweep with any). */
export function structuredDropoutLmSchema<A extends z.ZodType>(arms: A) {
  return z
    .object({
      data: languageModelDataSchema,
      model: languageModelSchema,
      learningRateDecay: z.object({ factor: decayFactor, every: positiveInt, start: nonNegativeInt }).strict(),
      implementation: z.object({ fastPath: oneOf(FAST_PATHS) }).strict(),
      profile: z.object({ steps: nonNegativeInt }).strict(),
      target: z.object({ validPerplexity: positive }).strict(),
      arms,
    })
    .strict();
}

export const sdPtbSchema = structuredDropoutLmSchema(
  z.object({ elementwise: lmDropoutArmSchema, structured: lmDropoutArmSchema, "structured-window": lmDropoutArmSchema, none: lmDropoutArmSchema }).strict(),
);
export const sdSweepSchema = structuredDropoutLmSchema(z.record(z.string(), lmDropoutArmSchema));

const sequenceArms = z.object({ elementwise: dropoutArmSchema, structured: dropoutArmSchema, none: dropoutArmSchema }).strict();

/** sequence-tasks.ts SdTranslationConfig. */
export const sdTranslationSchema = z
  .object({ data: translationDataSchema, model: translationModelSchema, train: epochTrainingSchema, decoding: translationDecodingSchema, arms: sequenceArms })
  .strict();

/** sequence-tasks.ts SdNerConfig. */
export const sdNerSchema = z.object({ data: taggingDataSchema, model: taggerModelSchema, train: epochTrainingSchema, arms: sequenceArms }).strict();
