/**
 * Checkpoint encode/restore for the training loop (./loop.ts), built from parts. A trainer's checkpoint is
 * `{ meta, tensors }` (./checkpoint.ts writes it); each part owns a few meta keys and a tensor prefix:
 *   parametersPart("param/")   the trained variables
 *   optimizerPart              meta.optimizer + "opt/<slot>/<path>"
 *   orthogonalPart             meta.orthogonal (NC-GRU's float64 A, inverse, U and A's optimizer)
 *   curvesPart                 meta.curves (the bounded step curves)
 *   ModelSelector.part         "best/<path>" (the best-validation copy, ./loop-selection.ts)
 * plus the trainer's own parts (data position, carried state, RNG streams, DNI). Restoring runs the same
 * parts in the same order, so a trainer's layout is declared once and a resume is exact. The layouts of
 * the language-model and synthetic checkpoints are those written before this module existed, so their
 * old checkpoints still restore.
 */
import type { CheckpointData, CheckpointManager } from "./checkpoint";
import { configHash } from "./checkpoint";
import { DecimatedCurve, type CurvePoint } from "./events";
import type { Optimizer } from "./optim";
import type { OrthogonalUpdater, OrthogonalUpdaterState } from "./orthogonal";
import type { NamedTensors, NamedVariables } from "./params";
import { deserializeTensor, serializeNamed, type SerializedTensor } from "./serialize";

/** One piece of a trainer's checkpoint: what it writes into `ck`, and how it reads it back. */
export interface CheckpointPart {
  save(ck: CheckpointData): void;
  restore(ck: CheckpointData, file: string): void;
}

export function encodeParts(meta: Record<string, unknown>, parts: readonly CheckpointPart[]): CheckpointData {
  const ck: CheckpointData = { meta: { ...meta }, tensors: {} };
  for (const part of parts) part.save(ck);
  return ck;
}

export function restoreParts(ck: CheckpointData, file: string, parts: readonly CheckpointPart[]): void {
  for (const part of parts) part.restore(ck, file);
}

/** Add `tensors` under `prefix` (e.g. "param/"). */
export function putTensors(into: Record<string, SerializedTensor>, prefix: string, tensors: NamedTensors): void {
  for (const [k, v] of Object.entries(serializeNamed(tensors))) into[`${prefix}${k}`] = v;
}

/** The stored tensors under `prefix`, with the prefix removed. */
export function takeTensors(from: Record<string, SerializedTensor>, prefix: string): Record<string, SerializedTensor> {
  const out: Record<string, SerializedTensor> = {};
  for (const [k, v] of Object.entries(from)) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v;
  return out;
}

/** Refuse a checkpoint of another trainer kind or another trainer config (never a silent restart). */
export function checkCheckpointIdentity(ck: CheckpointData, file: string, kind: string, what: string, config: unknown): void {
  const meta = ck.meta as { kind?: string; config?: unknown };
  if (meta.kind !== kind) throw new Error(`checkpoint ${file} is not a ${what} checkpoint (kind ${meta.kind}); delete it or use another checkpoint directory`);
  if (configHash(meta.config) !== configHash(config))
    throw new Error(`checkpoint ${file} was written with a different trainer config; resume with the same config, or delete it / use another checkpoint directory to start fresh`);
}

/** The trained variables under "param/" (every variable must be present on restore). */
export function parametersPart(variables: NamedVariables, prefix = "param/"): CheckpointPart {
  return {
    save: (ck) => putTensors(ck.tensors, prefix, variables),
    restore(ck, file) {
      for (const [k, v] of Object.entries(variables)) {
        const st = ck.tensors[`${prefix}${k}`];
        if (!st) throw new Error(`checkpoint ${file} has no parameter "${k}": the model differs; delete the checkpoint to start fresh`);
        const t = deserializeTensor(st);
        v.assign(t);
        t.dispose();
      }
    },
  };
}

/** Optimizer slots under "opt/" and its counters in meta.optimizer. */
export function optimizerPart(optimizer: Optimizer): CheckpointPart {
  return {
    save(ck) {
      const st = optimizer.exportState();
      ck.meta.optimizer = st.meta;
      Object.assign(ck.tensors, Object.fromEntries(Object.entries(st.tensors).map(([k, v]) => [`opt/${k}`, v])));
    },
    restore(ck) {
      const meta = ck.meta.optimizer as Parameters<Optimizer["importState"]>[0]["meta"];
      optimizer.importState({ meta, tensors: takeTensors(ck.tensors, "opt/") });
    },
  };
}

/** NC-GRU's orthogonal updater in meta.orthogonal (absent when the model has none). */
export function orthogonalPart(orthogonal: OrthogonalUpdater | undefined): CheckpointPart {
  return {
    save(ck) {
      if (orthogonal) ck.meta.orthogonal = orthogonal.exportState();
    },
    restore(ck) {
      const state = ck.meta.orthogonal as OrthogonalUpdaterState | undefined;
      if (orthogonal && state) orthogonal.importState(state);
    },
  };
}

/**
 * Named bounded step curves, each fed by one step metric (e.g. curve "train" from metric "loss"). The
 * checkpoint keeps them in meta.curves under the curve names.
 */
export class CurveSet {
  private curves: Record<string, DecimatedCurve>;
  constructor(private readonly sources: Record<string, string>, capacity = 512) {
    this.curves = Object.fromEntries(Object.keys(sources).map((name) => [name, new DecimatedCurve(capacity)]));
  }
  /** Add each metric that feeds a curve. */
  record(step: number, metrics: Record<string, number>): void {
    for (const [name, metric] of Object.entries(this.sources)) if (metrics[metric] !== undefined) this.curves[name].add(step, metrics[metric]);
  }
  values(name: string): CurvePoint[] {
    return this.curves[name].values();
  }
  part(): CheckpointPart {
    return {
      save: (ck) => {
        ck.meta.curves = Object.fromEntries(Object.entries(this.curves).map(([k, c]) => [k, c.toJSON()]));
      },
      restore: (ck, file) => {
        const stored = ck.meta.curves as Record<string, ReturnType<DecimatedCurve["toJSON"]>>;
        for (const name of Object.keys(this.curves)) {
          if (!stored?.[name]) throw new Error(`checkpoint ${file} has no "${name}" curve: it was written by another trainer; delete it to start fresh`);
          this.curves[name] = DecimatedCurve.fromJSON(stored[name]);
        }
      },
    };
  }
}

/** Load a manager's checkpoint (undefined when there is none or resuming is off). */
export function loadForResume(checkpoints: CheckpointManager | undefined, resume: boolean | undefined): CheckpointData | undefined {
  if (!checkpoints || !(resume ?? true)) return undefined;
  return checkpoints.load();
}

/** Deserialize named tensors (the caller disposes them). */
export function tensorsFrom(stored: Record<string, SerializedTensor>): NamedTensors {
  return Object.fromEntries(Object.entries(stored).map(([k, v]) => [k, deserializeTensor(v)]));
}

