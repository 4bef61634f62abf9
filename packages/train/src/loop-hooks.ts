/**
 * The update and the hooks of the training loop (./loop.ts):
 *   GradientUpdater   clip by global norm (on the device) -> optimizer step -> post-step hooks
 *   OrthogonalHook    a post-step hook: NC-GRU's orthogonal update of the matrices the optimizer does not own
 *   ScheduleHook      the learning rate at a position; the plateau reducer observes validation losses
 *   NtAsgdHook        NT-ASGD's non-monotone trigger: observes validation losses, starts averaging
 * Validation hooks run on the loop's epoch-end validation (not on mid-epoch evaluations), in the order given.
 * Nothing here reads the device synchronously: the gradient norm stays a tensor until the loop's
 * logging-interval read, and the orthogonal update reads its gradients with `await data()`.
 */
import type { tf } from "@rnnlab/core";
import { clipByGlobalNormOnDevice, nonMonotoneInitial, nonMonotoneObserve, type NonMonotoneState, type Optimizer } from "./optim";
import type { OrthogonalUpdater } from "./orthogonal";
import { disposeNamed, type NamedTensors, type NamedVariables } from "./params";
import { learningRateAt, plateauInitial, plateauObserve, type PlateauState, type ScheduleOptions } from "./schedules";

/** Runs after the optimizer step, on the gradients of the parameters it owns (which the optimizer skips). */
export interface PostStepHook {
  owns(path: string): boolean;
  step(grads: NamedTensors, learningRate: number): Promise<void>;
  /** Host metrics of the step (e.g. orthogonalityError), added to the step event. */
  metrics(): Record<string, number>;
}

/** A hook that observes each epoch-end validation loss (lower is better). */
export interface ValidationHook {
  observeValidation(loss: number, step: number): void;
}

/** The variables a main optimizer steps: all but those a post-step hook owns. */
export function optimizedVariables(variables: NamedVariables, hooks: readonly PostStepHook[]): NamedVariables {
  return Object.fromEntries(Object.entries(variables).filter(([k]) => !hooks.some((h) => h.owns(k))));
}

/** clip -> optimizer -> post-step hooks. */
export class GradientUpdater {
  constructor(readonly optimizer: Optimizer, readonly clipNorm: number, readonly hooks: readonly PostStepHook[] = []) {}

  /** One update from `grads` (disposed here); returns the gradient norm before clipping, on the device (caller disposes). */
  async apply(grads: NamedTensors, learningRate: number): Promise<tf.Scalar> {
    const owned = this.hooks.map(() => ({}) as NamedTensors);
    const mine: NamedTensors = {};
    for (const [k, g] of Object.entries(grads)) {
      const h = this.hooks.findIndex((hook) => hook.owns(k));
      if (h >= 0) owned[h][k] = g;
      else mine[k] = g;
    }
    const clipped = clipByGlobalNormOnDevice(mine, this.clipNorm);
    try {
      this.optimizer.step(clipped.grads, learningRate);
      for (let h = 0; h < this.hooks.length; h++) await this.hooks[h].step(owned[h], learningRate);
    } catch (e) {
      clipped.norm.dispose();
      throw e;
    } finally {
      disposeNamed(clipped.grads);
      disposeNamed(grads);
    }
    return clipped.norm;
  }

  /** The post-step hooks' host metrics of the last step. */
  metrics(): Record<string, number> {
    return Object.assign({}, ...this.hooks.map((h) => h.metrics()));
  }
}

/** NC-GRU: the orthogonal update after each optimizer step, and ‖UᵀU − I‖_F as "orthogonalityError". */
export class OrthogonalHook implements PostStepHook {
  constructor(readonly updater: OrthogonalUpdater) {}
  owns(path: string): boolean {
    return this.updater.owns(path);
  }
  step(grads: NamedTensors, learningRate: number): Promise<void> {
    return this.updater.stepAsync(grads, learningRate);
  }
  metrics(): Record<string, number> {
    return { orthogonalityError: this.updater.orthogonalityError() };
  }
}

/** The learning rate at a (fractional) position; "plateau" follows the reducer fed by validation losses. */
export class ScheduleHook implements ValidationHook {
  plateau?: PlateauState;
  constructor(readonly schedule: ScheduleOptions) {
    this.plateau = schedule.kind === "plateau" ? plateauInitial(schedule) : undefined;
  }
  learningRate(position: number): number {
    return learningRateAt(this.schedule, position, this.plateau);
  }
  observeValidation(loss: number): void {
    if (this.plateau && this.schedule.kind === "plateau") this.plateau = plateauObserve(this.schedule, this.plateau, loss);
  }
}

/** NT-ASGD (AWD-LSTM): after a non-monotone validation loss, the optimizer starts averaging its iterates. */
export class NtAsgdHook implements ValidationHook {
  state: NonMonotoneState;
  averagingStartedAtStep = -1;
  constructor(private readonly optimizer: Optimizer, nonmono: number) {
    this.state = nonMonotoneInitial(nonmono);
  }
  observeValidation(loss: number, step: number): void {
    if (this.state.triggered) return;
    this.state = nonMonotoneObserve(this.state, loss);
    if (this.state.triggered) {
      this.optimizer.startAveraging();
      this.averagingStartedAtStep = step;
    }
  }
}
