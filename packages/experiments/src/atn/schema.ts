/** Config schemas of the ATN experiments (synthetic tasks, atn/window, char-PTB); shared sections in ../schemas.ts. */
import { z } from "zod";
import { finite, INPUT_INITS, languageModelDataSchema, languageModelSchema, nonNegativeInt, oneOf, positiveInt, RECURRENT_INITS, syntheticTrainingSchema } from "../schemas";

/** synthetic.ts cellOf(): the normalization kinds of @rnnlab/cells' LSTM that the arms map to. */
export const NORMALIZATIONS = ["none", "layer", "assortedTime"] as const;

/** synthetic.ts NormalizationArm. */
export const normalizationArmSchema = z
  .object({ normalization: oneOf(NORMALIZATIONS), window: positiveInt, inputInit: oneOf(INPUT_INITS), recurrentInit: oneOf(RECURRENT_INITS) })
  .strict();

/** synthetic.ts AtnSyntheticConfig (atn/adding, atn/copying, atn/denoise, atn/window). */
export const atnSyntheticSchema = z
  .object({
    task: z.object({ length: positiveInt, dataSymbols: nonNegativeInt }).strict(),
    model: z.object({ hiddenSize: positiveInt, forgetBias: finite }).strict(),
    train: syntheticTrainingSchema,
    arms: z.record(z.string(), normalizationArmSchema),
    windows: z.array(positiveInt, { error: "a list of whole numbers >= 1" }).optional(),
  })
  .strict();

const charPtbArm = normalizationArmSchema.pick({ normalization: true, window: true }).strict();

/** char-ptb.ts AtnCharPtbConfig. */
export const atnCharPtbSchema = z
  .object({
    data: languageModelDataSchema,
    model: languageModelSchema.extend({ recurrentInit: oneOf(RECURRENT_INITS), inputInit: oneOf(INPUT_INITS) }).strict(),
    arms: z.object({ lstm: charPtbArm, layerNorm: charPtbArm, atn: charPtbArm }).strict(),
  })
  .strict();
