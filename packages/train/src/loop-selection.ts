/**
 * Model selection for every trainer (AWD-LSTM's main.py keeps the model at the best validation loss):
 * each validation evaluation that improves on the best so far keeps a copy of the evaluated parameters
 * (NT-ASGD's averages when averaging). At the end the trainer reports the metrics of the selected
 * parameters and records which they are (`ModelSelection`); the selected parameters are written beside
 * the run's checkpoint as `selected.rnnlab` (`param/<name>`), and the copy travels in the run's checkpoint
 * under "best/" so a resumed run selects exactly what an uninterrupted one does.
 */
import { CheckpointManager } from "./checkpoint";
import { putTensors, takeTensors, tensorsFrom, type CheckpointPart } from "./loop-checkpoint";
import { disposeNamed, type NamedTensors, type NamedVariables } from "./params";

export type SelectionRule = "best-valid" | "last";

/** The validation metric that selects (default: the loss, lower is better). */
export interface SelectionCriterion {
  metric: string;
  higherIsBetter: boolean;
}

export const LOSS_CRITERION: SelectionCriterion = { metric: "loss", higherIsBetter: false };

export interface ModelSelection {
  rule: SelectionRule;
  /** "best": the kept best-validation copy; "last": the final parameters. Either is in selected.rnnlab. */
  parameters: "best" | "last";
  step: number;
  epoch: number;
  /** The copy holds NT-ASGD's averaged parameters. */
  averaged: boolean;
  /** Loss of the selected parameters on the split that selects (the validation split; a synthetic task's evaluation set). */
  validLoss: number;
  /** When another metric than the loss selects (e.g. "f1", "bleu"): its name and the selected parameters' value. */
  metric?: string;
  value?: number;
}

/** Where and on what the best evaluation so far was. */
export interface BestEvaluation {
  /** The validation loss of that evaluation. */
  loss: number;
  step: number;
  epoch: number;
  averaged: boolean;
  /** The selecting metric's value, when the criterion is not the loss. */
  value?: number;
}

/**
 * The checkpoint beside a run's checkpoint that holds the parameters `final` reports (`param/<name>`): the
 * best-validation copy, or the final parameters (NT-ASGD's averages when averaging) under rule "last".
 */
export function selectedModelCheckpoints(checkpoints: CheckpointManager): CheckpointManager {
  return new CheckpointManager({ ...checkpoints.options, everySteps: 0, name: "selected" });
}

/** Write `selected.rnnlab`: the selected parameters under "param/", with the trainer kind, config and best record. */
export function writeSelectedModel(checkpoints: CheckpointManager, kind: string, config: unknown, params: NamedTensors, best: BestEvaluation | undefined): void {
  const tensors = {};
  putTensors(tensors, "param/", params);
  selectedModelCheckpoints(checkpoints).save({ meta: { kind: `${kind}-selected`, config, best: best ?? null }, tensors });
}

export class ModelSelector {
  /** The best validation evaluation so far (its parameters are kept when the rule is "best-valid"). */
  best?: BestEvaluation;
  private kept?: NamedTensors;

  constructor(readonly rule: SelectionRule = "best-valid", readonly criterion: SelectionCriterion = LOSS_CRITERION) {
    if (rule !== "best-valid" && rule !== "last") throw new Error(`config.modelSelection="${rule}" must be "best-valid" or "last"`);
  }

  private get byLoss(): boolean {
    return this.criterion.metric === "loss" && !this.criterion.higherIsBetter;
  }

  /** Whether `value` of the selecting metric improves strictly on the best so far. */
  improves(value: number): boolean {
    if (!this.best) return true;
    const best = this.byLoss ? this.best.loss : this.best.value!;
    return this.criterion.higherIsBetter ? value > best : value < best;
  }

  /**
   * A validation evaluation of `evaluated` (the live variables, or the averaged copies standing in for
   * them) at `at`: kept when it improves on the best (rule "best-valid" only). `value` is the selecting
   * metric's value when the criterion is not the loss.
   */
  observe(loss: number, at: Omit<BestEvaluation, "loss" | "value">, variables: NamedVariables, evaluated: NamedTensors | undefined, value = loss): void {
    if (this.rule !== "best-valid" || !this.improves(value)) return;
    disposeNamed(this.kept);
    this.kept = {};
    for (const [k, v] of Object.entries(variables)) this.kept[k] = (evaluated?.[k] ?? v).clone();
    this.best = this.byLoss ? { loss, ...at } : { loss, ...at, value };
  }

  /**
   * The kept copy when it is what `final` reports: the rule is best-valid and the best evaluation is not
   * the last one (the last epoch's validation saw the final parameters, so an earlier best is strictly better).
   */
  selectedCopy(lastStep: number): NamedTensors | undefined {
    return this.rule === "best-valid" && this.kept && this.best && this.best.step !== lastStep ? this.kept : undefined;
  }

  /** The record of what `final` reports: the kept copy (`useBest`) or the last parameters at `last`. */
  selection(useBest: boolean, last: Omit<BestEvaluation, "loss"> & { validLoss: number }, bestValidLoss: number): ModelSelection {
    const metric = this.byLoss ? {} : { metric: this.criterion.metric };
    if (useBest && this.best)
      return { rule: this.rule, parameters: "best", step: this.best.step, epoch: this.best.epoch, averaged: this.best.averaged, validLoss: bestValidLoss, ...metric, ...(this.byLoss ? {} : { value: this.best.value }) };
    return { rule: this.rule, parameters: "last", step: last.step, epoch: last.epoch, averaged: last.averaged, validLoss: last.validLoss, ...metric, ...(this.byLoss ? {} : { value: last.value }) };
  }

  /** The kept copy under "best/" (its record lives in the trainer's progress meta, see `best`). */
  part(variables: NamedVariables): CheckpointPart {
    return {
      save: (ck) => {
        if (this.kept) putTensors(ck.tensors, "best/", this.kept);
      },
      restore: (ck, file) => {
        disposeNamed(this.kept);
        this.kept = undefined;
        const stored = takeTensors(ck.tensors, "best/");
        if (Object.keys(stored).length === 0) return;
        const missing = Object.keys(variables).find((k) => !stored[k]);
        if (missing) throw new Error(`checkpoint ${file} has no best-model parameter "${missing}": delete the checkpoint to start fresh`);
        this.kept = tensorsFrom(stored);
      },
    };
  }

  dispose(): void {
    disposeNamed(this.kept);
    this.kept = undefined;
  }
}
