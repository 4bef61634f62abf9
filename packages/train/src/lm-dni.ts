/**
 * DNI as a wrapper around the language model's truncated-BPTT step (./lm-step.ts), the way AWD-LSTM keeps
 * its regularizers outside the LSTM: the step asks the wrapper to
 *   bindStates     make s_0 (the carried h, c) variables, so the backward pass gives δ*_0 = ∂loss/∂s_0
 *   objective      add the surrogate term Σ stopGradient(scale·δ̂_T) ⊙ s_T ("synthetic" mode only)
 *   takeTarget     take δ*_0 out of the gradients (the model's optimizer never sees it)
 *   train          after the model's update: one synthesizer step towards δ*_0 at s_0, then advance the
 *                  elementwise synthesizer's memory with s_T; the loss stays on the device
 * The synthesizer itself and the equations are ./dni.ts.
 */
import { tf, type Rng } from "@rnnlab/core";
import type { State } from "@rnnlab/cells";
import { Synthesizer, flattenStates, type DniConfig, type GradientMode } from "./dni";
import { takeTensors, type CheckpointPart } from "./loop-checkpoint";
import type { NamedTensors, NamedVariables } from "./params";
import { sgdrCycleIndex, type ScheduleOptions } from "./schedules";

export class DniWrapper {
  readonly synthesizer: Synthesizer;
  private readonly stateVariables: tf.Variable[][];
  private finalFlat?: tf.Tensor2D;
  private target?: tf.Tensor2D;

  /**
   * `stateEntries[l]`: the carried entries of layer l ("h", "c"); `rng()`: the DNI stream (read at call
   * time, since a resume replaces it).
   */
  constructor(
    readonly config: DniConfig,
    private readonly stateEntries: string[][],
    layerSizes: number[],
    batchSize: number,
    scope: string,
    initRng: Rng,
    private readonly rng: () => Rng,
  ) {
    const stateSize = layerSizes.reduce((acc, h, l) => acc + h * stateEntries[l].length, 0);
    this.synthesizer = new Synthesizer(config, stateSize, initRng);
    this.stateVariables = layerSizes.map((h, l) => stateEntries[l].map((k) => tf.tidy(() => tf.variable(tf.zeros([batchSize, h]), true, `${scope}/state${l}.${k}`))));
  }

  /** "real" or "synthetic" at a position; "alternating" flips at each SGDR restart, starting real. */
  mode(schedule: ScheduleOptions, epochPosition: number): GradientMode {
    if (this.config.mode !== "alternating") return this.config.mode;
    if (schedule.kind !== "sgdr") throw new Error(`config.dni.mode="alternating" switches at SGDR restarts: set config.schedule.kind="sgdr"`);
    return sgdrCycleIndex(schedule, epochPosition) % 2 === 0 ? "real" : "synthetic";
  }

  /** The step's input states with s_0 as variables; adds them to `gradVariables` as "#state/<l>/<k>". */
  bindStates(carried: State[], gradVariables: NamedVariables): State[] {
    return carried.map((s, l) => {
      const out: State = { ...s };
      this.stateEntries[l].forEach((k, j) => {
        const v = this.stateVariables[l][j];
        v.assign(s[k]);
        out[k] = v as tf.Tensor as tf.Tensor2D;
        gradVariables[`#state/${l}/${k}`] = v;
      });
      return out;
    });
  }

  /** Inside the gradient scope: keeps s_T, and in "synthetic" mode adds the surrogate term (its gradient w.r.t. s_T is scale·δ̂). */
  objective(objective: tf.Scalar, finalStates: State[], mode: GradientMode): tf.Scalar {
    // A copy: with one carried entry (a 1-layer GRU) flattenStates returns the state tensor itself, which the step disposes.
    this.finalFlat = tf.keep(flattenStates(finalStates, this.stateEntries).clone());
    if (mode !== "synthetic") return objective;
    const predicted = this.synthesizer.injected(this.finalFlat, this.rng());
    return tf.add(objective, tf.sum(tf.mul(predicted, this.finalFlat))) as tf.Scalar;
  }

  /** Moves δ*_0 ([B, D]) out of `grads`. */
  takeTarget(grads: NamedTensors): void {
    const keys = this.stateEntries.flatMap((entries, l) => entries.map((k) => `#state/${l}/${k}`));
    this.target = tf.tidy(() => (keys.length === 1 ? grads[keys[0]].clone() : tf.concat(keys.map((k) => grads[k]), 1)) as tf.Tensor2D);
    for (const k of Object.keys(grads)) if (k.startsWith("#state/")) { grads[k].dispose(); delete grads[k]; }
  }

  /** After the model's update: the synthesizer's step at s_0 = `carried`; returns its loss on the device (caller disposes). */
  train(carried: State[]): tf.Scalar {
    const s0 = tf.tidy(() => flattenStates(carried, this.stateEntries).clone());
    try {
      const loss = this.synthesizer.trainOnDevice(s0, this.target!, this.rng());
      this.synthesizer.advance(this.finalFlat!);
      return loss;
    } finally {
      tf.dispose([s0, this.target!, this.finalFlat!]);
      this.target = undefined;
      this.finalFlat = undefined;
    }
  }

  resetMemory(): void {
    this.synthesizer.resetMemory();
  }

  /** The synthesizer in meta.dni and under "dni/". */
  part(): CheckpointPart {
    return {
      save: (ck) => {
        const st = this.synthesizer.exportState();
        ck.meta.dni = st.meta;
        for (const [k, v] of Object.entries(st.tensors)) ck.tensors[`dni/${k}`] = v;
      },
      restore: (ck) => {
        const meta = ck.meta.dni as Parameters<Synthesizer["importState"]>[0]["meta"];
        this.synthesizer.importState({ meta, tensors: takeTensors(ck.tensors, "dni/") });
      },
    };
  }

  dispose(): void {
    tf.dispose([this.finalFlat, this.target].filter((t): t is tf.Tensor2D => t !== undefined));
    for (const l of this.stateVariables) for (const v of l) v.dispose();
    this.synthesizer.dispose();
  }
}
