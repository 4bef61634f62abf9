/** Config schema of sg/ptb (synthetic gradients / DNI); shared sections in ../schemas.ts. */
import { z } from "zod";
import { atLeastOne, bool, languageModelDataSchema, languageModelDropoutSchema, languageModelSchema, nonNegative, oneOf, positive, positiveInt } from "../schemas";

/** ptb.ts dni(): "none" is plain truncated BPTT; the others are @rnnlab/train DniConfig modes. */
export const GRADIENTS = ["none", "synthetic", "alternating"] as const;
/** ptb.ts schedule(). */
export const SCHEDULES = ["constant", "sgdr"] as const;
/** @rnnlab/train DniConfig synthesizer kinds. */
export const SYNTHESIZERS = ["linear", "elementwise"] as const;

/** ptb.ts SgArm. */
export const sgArmSchema = z.object({ gradients: oneOf(GRADIENTS), schedule: oneOf(SCHEDULES), bpttMultiplier: positiveInt }).strict();

/** ptb.ts SgPtbConfig. */
export const sgPtbSchema = z
  .object({
    data: languageModelDataSchema,
    model: languageModelSchema,
    dropout: languageModelDropoutSchema,
    synthesizer: z
      .object({ kind: oneOf(SYNTHESIZERS), scale: positive, learningRate: positive, elementwiseUnits: positiveInt, noiseStd: nonNegative })
      .strict(),
    restarts: z.object({ period: positive, periodMultiplier: atLeastOne, repeatFirstCycle: bool, minLearningRate: nonNegative }).strict(),
    arms: z.object({ bptt: sgArmSchema, dni: sgArmSchema, dniRestarts: sgArmSchema, alternating: sgArmSchema, bpttLong: sgArmSchema }).strict(),
  })
  .strict();
