/**
 * Recurrent-matrix variants (configuration, not copies of a cell):
 *   dense       h·U
 *   weightDrop  DropConnect on U (Wan et al. 2013; AWD-LSTM's WeightDrop, Merity et al. 2018):
 *               one Bernoulli mask over all entries of U per sequence, drawn in `prepare`, training only;
 *               U_dropped = U ⊙ M / (1−p).
 * The Cayley-orthogonal recurrence of NC-GRU is a parametrisation of a square matrix that is
 * maintained outside autodiff; see ./orthogonal.ts.
 */
import { tf, type Rng } from "@rnnlab/core";
import { dropoutMask } from "./dropout";
import { checkKind, checkOptions, checkRate, requireRng } from "./validate";

export type RecurrenceConfig = { kind: "dense" } | { kind: "weightDrop"; rate: number };

export const RECURRENCE_KINDS = ["dense", "weightDrop"] as const;

export function resolveRecurrenceConfig(where: string, config: RecurrenceConfig | undefined): RecurrenceConfig {
  if (config === undefined) return { kind: "dense" };
  const kind = checkKind(where, "recurrence", config, RECURRENCE_KINDS);
  if (kind === "dense") {
    checkOptions(`${where} recurrence`, config, ["kind"]);
    return { kind };
  }
  checkOptions(`${where} recurrence (weightDrop)`, config, ["kind", "rate"]);
  const rate = (config as { rate: number }).rate;
  checkRate(`${where} recurrence`, "rate", rate);
  return { kind, rate };
}

/** The recurrent kernel to use for one sequence. */
export function prepareRecurrentKernel(config: RecurrenceConfig, kernel: tf.Tensor2D, training: boolean, rng: Rng | undefined, where: string): tf.Tensor2D {
  if (config.kind === "dense" || !training) return kernel;
  const r = requireRng(where, rng);
  return tf.tidy(() => tf.mul(kernel, dropoutMask(kernel.shape, config.rate, r))) as tf.Tensor2D;
}
