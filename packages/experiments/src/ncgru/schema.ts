/** Config schemas of the NC-GRU experiments; shared sections in ../schemas.ts. */
import { z } from "zod";
import { bool, CELLS, languageModelDataSchema, languageModelSchema, NCGRU_BIAS_INITS, NCGRU_FORMS, neumannOrder, nonNegativeInt, oneOf, orthogonalSchema, positiveInt, syntheticTrainingSchema } from "../schemas";

/** synthetic.ts CellArm; `cell` is one of @rnnlab/cells' CELL_KINDS. */
export const cellArmSchema = z
  .object({ cell: oneOf(CELLS), hiddenSize: positiveInt, negativeOnes: nonNegativeInt, orthogonalReset: bool, neumannOrder: neumannOrder.optional() })
  .strict();

const task = z.object({ length: positiveInt }).strict();

/** synthetic.ts NcGruSyntheticConfig (ncgru/denoise, ncgru/parenthesis with its gruMatched arm). */
export const ncgruSyntheticSchema = z
  .object({
    task,
    orthogonal: orthogonalSchema,
    train: syntheticTrainingSchema,
    arms: z.object({ gru: cellArmSchema, ncgru: cellArmSchema, ncgruReset: cellArmSchema, lstm: cellArmSchema, scornn: cellArmSchema, gruMatched: cellArmSchema.optional() }).strict(),
  })
  .strict();

/** synthetic.ts NcGruNeumannConfig: each arm sets its own Neumann order. */
export const ncgruNeumannSchema = z
  .object({
    task,
    orthogonal: orthogonalSchema.omit({ neumannOrder: true }).strict(),
    train: syntheticTrainingSchema,
    arms: z.object({ order1: cellArmSchema, order2: cellArmSchema, order3: cellArmSchema }).strict(),
  })
  .strict();

/** char-ptb.ts: the cells its arms build (no scoRNN on char-PTB). */
export const CHAR_PTB_CELLS = ["gru", "lstm", "nc-gru"] as const;
const charPtbArm = cellArmSchema.extend({ cell: oneOf(CHAR_PTB_CELLS) }).strict();

/** char-ptb.ts NcGruCharPtbConfig. */
export const ncgruCharPtbSchema = z
  .object({
    data: languageModelDataSchema,
    model: languageModelSchema.omit({ embeddingSize: true, hiddenSize: true }).strict(),
    orthogonal: orthogonalSchema,
    ncgruCandidate: z.object({ form: oneOf(NCGRU_FORMS), biasInit: oneOf(NCGRU_BIAS_INITS) }).strict(),
    arms: z.object({ gru: charPtbArm, ncgru: charPtbArm, ncgruReset: charPtbArm, lstm: charPtbArm }).strict(),
  })
  .strict();
