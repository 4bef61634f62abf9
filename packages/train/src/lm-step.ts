/**
 * The language model's training step, one truncated-BPTT window: forward from the carried state,
 * backward, the loop's update (clip -> optimizer -> NC-GRU's orthogonal step), then the state carried to
 * the next window (h and c kept, cut from the graph; every other entry fresh). DNI wraps the step
 * (./lm-dni.ts). The cross-entropy, the gradient norm and the synthesizer loss stay on the device until
 * the loop's logging-interval read.
 */
import { tf, type Rng } from "@rnnlab/core";
import type { State } from "@rnnlab/cells";
import type { LanguageModel, LanguageModelParams } from "./model";
import { computeGradients, type NamedVariables, type VariableSet } from "./params";
import type { GradientUpdater } from "./loop-hooks";
import type { DniWrapper } from "./lm-dni";
import type { GradientMode } from "./dni";
import type { CheckpointPart } from "./loop-checkpoint";
import { putTensors } from "./loop-checkpoint";
import { deserializeTensor } from "./serialize";

/** Keep h and c across windows; every other state entry (e.g. the ATN window) starts fresh per window. */
export const CARRIED = ["h", "c"];

export function carryStates(model: LanguageModel, states: State[], batch: number): State[] {
  return tf.tidy(() =>
    states.map((s, l) => {
      const fresh = model.cells[l].initialState(batch) as State;
      const out: State = {};
      for (const k of Object.keys(fresh)) out[k] = CARRIED.includes(k) && s[k] ? (s[k].clone() as tf.Tensor2D) : fresh[k];
      return out;
    }),
  ) as State[];
}

export function disposeStates(states: State[] | undefined): void {
  if (states) for (const s of states) tf.dispose(Object.values(s));
}

/** The carried entries of each layer (for DNI's flattened state). */
export function carriedEntries(model: LanguageModel): string[][] {
  const probe = model.initialStates(1);
  const entries = probe.map((s) => Object.keys(s).filter((k) => CARRIED.includes(k)));
  disposeStates(probe);
  return entries;
}

/** The step's device scalars: cross-entropy first (the loop checks it), then the gradient norm. */
export type LanguageModelStepScalars = { loss: tf.Scalar; gradientNorm: tf.Scalar; synthesizerLoss?: tf.Scalar };

export class LanguageModelStepper {
  carried: State[];

  constructor(
    readonly model: LanguageModel,
    readonly set: VariableSet<LanguageModelParams>,
    readonly batchSize: number,
    readonly updater: GradientUpdater,
    private readonly trainRng: () => Rng,
    readonly dni?: DniWrapper,
  ) {
    this.carried = model.initialStates(batchSize);
  }

  private get params(): LanguageModelParams {
    return this.set.tree;
  }

  /** Forward and backward of one window; the objective adds the model's regularizer (AR/TAR) and DNI's surrogate term. */
  private gradients(inputs: tf.Tensor2D, targets: tf.Tensor2D, mode: GradientMode) {
    const gradVariables: NamedVariables = { ...this.set.variables };
    const statesIn = this.dni ? this.dni.bindStates(this.carried, gradVariables) : this.carried;
    let newStates: State[] = [];
    let crossEntropy: tf.Scalar | undefined;
    const { loss, grads } = computeGradients(() => {
      const r = this.model.forward(this.params, inputs, targets, statesIn, { training: true, rng: this.trainRng() });
      newStates = r.states.map((s) => {
        for (const t of Object.values(s)) tf.keep(t);
        return s;
      });
      crossEntropy = tf.keep(r.loss.clone());
      const objective = r.regularizer ? (tf.add(r.loss, r.regularizer) as tf.Scalar) : r.loss;
      return this.dni ? this.dni.objective(objective, r.states, mode) : objective;
    }, gradVariables);
    loss.dispose();
    return { grads, newStates, crossEntropy: crossEntropy! };
  }

  async step(inputs: tf.Tensor2D, targets: tf.Tensor2D, learningRate: number, mode: GradientMode): Promise<LanguageModelStepScalars> {
    const { grads, newStates, crossEntropy } = this.gradients(inputs, targets, mode);
    let gradientNorm: tf.Scalar | undefined;
    try {
      this.dni?.takeTarget(grads);
      gradientNorm = await this.updater.apply(grads, learningRate);
      const synthesizerLoss = this.dni?.train(this.carried);
      const next = carryStates(this.model, newStates, this.batchSize);
      disposeStates(this.carried);
      this.carried = next;
      return synthesizerLoss ? { loss: crossEntropy, gradientNorm, synthesizerLoss } : { loss: crossEntropy, gradientNorm };
    } catch (e) {
      tf.dispose([crossEntropy, ...(gradientNorm ? [gradientNorm] : [])]);
      throw e;
    } finally {
      disposeStates(newStates);
    }
  }

  /** A fresh zero state (each epoch starts from one). */
  resetState(): void {
    disposeStates(this.carried);
    this.carried = this.model.initialStates(this.batchSize);
    this.dni?.resetMemory();
  }

  /** The carried state under "state/<layer>/<entry>" (entries absent from a checkpoint start fresh). */
  statePart(): CheckpointPart {
    return {
      save: (ck) => this.carried.forEach((s, l) => putTensors(ck.tensors, `state/${l}/`, s)),
      restore: (ck) => {
        disposeStates(this.carried);
        this.carried = this.model.initialStates(this.batchSize).map((s, l) => {
          const out: State = {};
          for (const k of Object.keys(s)) {
            const st = ck.tensors[`state/${l}/${k}`];
            out[k] = st ? (deserializeTensor(st) as tf.Tensor2D) : s[k];
            if (st) s[k].dispose();
          }
          return out;
        });
      },
    };
  }

  dispose(): void {
    disposeStates(this.carried);
    this.dni?.dispose();
  }
}
