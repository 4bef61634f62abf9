/** Config schema of env/tiny; shared rules in ../schemas.ts. */
import { z } from "zod";
import { momentum, nonNegative, positive, positiveInt } from "../schemas";

/** env/tiny's config; tiny.ts's TinyConfig is inferred from it. */
export const tinySchema = z
  .object({
    data: z.object({ inputSize: positiveInt, teacherHiddenSize: positiveInt, trainExamples: positiveInt, testExamples: positiveInt, noise: nonNegative }).strict(),
    model: z.object({ hiddenSize: positiveInt }).strict(),
    train: z
      .object({
        steps: positiveInt,
        batchSize: positiveInt,
        learningRate: positive,
        evalEvery: positiveInt,
        checkpointEvery: positiveInt,
        /** Sleep per step, only to make interruption testable and demos watchable; 0 otherwise. */
        stepDelayMs: nonNegative,
      })
      .strict(),
    arms: z.object({ sgd: z.object({ momentum }).strict(), momentum: z.object({ momentum }).strict() }).strict(),
  })
  .strict();
