/**
 * One place that turns a cell configuration into a cell: every model (language model, synthetic tasks,
 * translation, tagger, the DNI synthesizer) builds its cells here, so a variant lands in one place and
 * every model gets it.
 *
 *   createCell({ kind: "lstm", gate, normalization, forgetBias, recurrentInit }, inputSize, hiddenSize, { inputDropout, recurrence })
 *   createCell({ kind: "gru" }, ...)    createCell({ kind: "nc-gru", negativeOnes, orthogonalReset, candidate, candidateBiasInit }, ...)
 *   createCell({ kind: "scornn", negativeOnes }, ...)
 *
 * NC-GRU's and scoRNN's training-only settings (Neumann order, recompute interval, the learning rate on A) belong to
 * its trainer's orthogonal updater and are accepted here so that one config describes the cell.
 */
import { createLstm, type LstmCell } from "./lstm";
import { createGru } from "./gru";
import { createNcGru, type NcGruCandidateBiasInit, type NcGruCandidateForm } from "./ncgru";
import { createScoRnn } from "./scornn";
import type { Cell } from "./types";
import type { GateConfig } from "./gates";
import type { NormalizationConfig } from "./norms";
import type { DropoutConfig } from "./dropout";
import type { RecurrenceConfig } from "./recurrence";

export type CellConfig =
  | {
      kind: "lstm";
      gate?: GateConfig;
      normalization?: NormalizationConfig;
      forgetBias?: number;
      recurrentInit?: "uniform" | "identity";
      inputInit?: "uniform" | "orthogonal";
    }
  | { kind: "gru" }
  | {
      kind: "nc-gru";
      /** ρ: number of −1 entries of D (default round(0.4·hidden)). */
      negativeOnes?: number;
      /** NC-GRU(U_c, U_r): the reset gate's recurrent matrix U_r is orthogonal too (default false). */
      orthogonalReset?: boolean;
      /** ĉ = x W_c + (r ⊙ h) U_c ("resetBeforeProduct", default, TF code) or x W_c + r ⊙ (h U_c) ("resetAfterProduct", PyTorch char-PTB code). */
      candidate?: NcGruCandidateForm;
      /** modReLU bias b_c at init: "uniform" U(±0.1) (default, TF code) or "zero" (PyTorch char-PTB code). */
      candidateBiasInit?: NcGruCandidateBiasInit;
      /** Training (the orthogonal updater): Neumann series order (default 2). */
      neumannOrder?: 1 | 2 | 3;
      /** Training: exact recompute of (I+A)^{-1} every K steps (default 49, the NC-GRU scripts' value). */
      recomputeEvery?: number;
      /** Training: learning rate of the optimizer on A (default: the main learning rate). */
      orthogonalLearningRate?: number;
    }
  | {
      /** scoRNN: h' = modReLU(x W + h U, b), U Cayley-orthogonal (cells' scornn.ts). */
      kind: "scornn";
      /** ρ: number of −1 entries of D (default floor(0.4·hidden)). */
      negativeOnes?: number;
      /** Training (the orthogonal updater, as NC-GRU): Neumann series order (default 2). */
      neumannOrder?: 1 | 2 | 3;
      /** Training: exact recompute of (I+A)^{-1} every K steps (default 49). */
      recomputeEvery?: number;
      /** Training: learning rate of the optimizer on A (default: the main learning rate). */
      orthogonalLearningRate?: number;
    };

export const CELL_KINDS = ["lstm", "gru", "nc-gru", "scornn"] as const;

/** Cell kinds with Cayley-orthogonal recurrent matrices that a trainer's orthogonal updater must own. */
export const ORTHOGONAL_CELL_KINDS: readonly string[] = ["nc-gru", "scornn"];

export interface CellBuildOptions {
  /** Dropout on the cell's input, inside its input projection (default none). */
  inputDropout?: DropoutConfig;
  /** The recurrent kernel: dense (default) or weight-dropped. NC-GRU's is orthogonal and refuses weight drop. */
  recurrence?: RecurrenceConfig;
}

/** An LSTM config gives the LSTM's own cell type (its parameters, state and prepared constants typed). */
export function createCell(config: Extract<CellConfig, { kind: "lstm" }>, inputSize: number, hiddenSize: number, options?: CellBuildOptions): LstmCell;
export function createCell(config: CellConfig, inputSize: number, hiddenSize: number, options?: CellBuildOptions): Cell;
export function createCell(config: CellConfig, inputSize: number, hiddenSize: number, options: CellBuildOptions = {}): Cell {
  const { inputDropout, recurrence } = options;
  switch (config.kind) {
    case "lstm":
      return createLstm({
        inputSize, hiddenSize, inputDropout, recurrence,
        gate: config.gate, normalization: config.normalization, forgetBias: config.forgetBias, recurrentInit: config.recurrentInit,
        inputInit: config.inputInit,
      });
    case "gru":
      return createGru({ inputSize, hiddenSize, inputDropout, recurrence });
    case "nc-gru":
      if (recurrence && recurrence.kind !== "dense")
        throw new Error(`createCell: cell.kind "nc-gru" keeps U_c orthogonal, so recurrence "${recurrence.kind}" (weight drop) is not supported: set it to 0`);
      return createNcGru({
        inputSize, hiddenSize, inputDropout,
        negativeOnes: config.negativeOnes, orthogonalReset: config.orthogonalReset, candidate: config.candidate, candidateBiasInit: config.candidateBiasInit,
      });
    case "scornn":
      if (recurrence && recurrence.kind !== "dense")
        throw new Error(`createCell: cell.kind "scornn" keeps U orthogonal, so recurrence "${recurrence.kind}" (weight drop) is not supported: set it to 0`);
      return createScoRnn({ inputSize, hiddenSize, inputDropout, negativeOnes: config.negativeOnes });
    default:
      throw new Error(`createCell: cell.kind="${(config as { kind?: string }).kind}" must be one of ${CELL_KINDS.join(", ")}`);
  }
}
