/**
 * Progress events: trainers report through an `onProgress` callback and print nothing. Console bars,
 * JSONL logs and notebook displays are subscribers. Also bounded curves, so a long run's memory does not
 * grow with the number of steps.
 */

export type ProgressKind = "step" | "eval" | "epoch" | "done";
export type Split = "train" | "valid" | "test";

export interface ProgressEvent {
  kind: ProgressKind;
  /** Optimizer steps done so far (global, across epochs). */
  step: number;
  /** Current epoch (0-based). */
  epoch: number;
  split: Split;
  /** Named scalars: loss, perplexity, bpc, gradientNorm, learningRate, orthogonalityError, ... */
  metrics: Record<string, number>;
  /** Wall time since the trainer started (excluding time before a resume). */
  elapsedMs: number;
  /** Total steps planned, when known (for progress bars). */
  totalSteps?: number;
  /** DNI gradient mode in force: "real" | "synthetic". */
  gradientMode?: string;
  /** Free-form details (e.g. gate histograms on "eval", the final result on "done"). */
  details?: Record<string, unknown>;
}

export type OnProgress = (event: ProgressEvent) => void;

/** Emit safely: a throwing subscriber must not corrupt training state, but must not be hidden either. */
export function emit(onProgress: OnProgress | undefined, event: ProgressEvent): void {
  if (onProgress) onProgress(event);
}

/** A tiny stopwatch that survives resume: `offsetMs` is the elapsed time already recorded in a checkpoint. */
export class Stopwatch {
  private readonly started = Date.now();
  constructor(private readonly offsetMs = 0) {}
  elapsedMs(): number {
    return this.offsetMs + (Date.now() - this.started);
  }
}

export interface CurvePoint {
  step: number;
  value: number;
}

/**
 * A step curve with bounded memory: keeps at most `capacity` points by doubling its stride and dropping
 * every other point when full (so it always spans the whole run at a uniform spacing).
 */
export class DecimatedCurve {
  private points: CurvePoint[] = [];
  private stride = 1;
  private seen = 0;
  constructor(readonly capacity = 512) {
    if (capacity < 2) throw new Error(`DecimatedCurve capacity=${capacity} must be >= 2`);
  }
  add(step: number, value: number): void {
    if (this.seen++ % this.stride !== 0) return;
    this.points.push({ step, value });
    if (this.points.length >= this.capacity) {
      this.points = this.points.filter((_, i) => i % 2 === 0);
      this.stride *= 2;
    }
  }
  values(): CurvePoint[] {
    return this.points.slice();
  }
  toJSON(): { capacity: number; stride: number; seen: number; points: CurvePoint[] } {
    return { capacity: this.capacity, stride: this.stride, seen: this.seen, points: this.points };
  }
  static fromJSON(j: { capacity: number; stride: number; seen: number; points: CurvePoint[] }): DecimatedCurve {
    const c = new DecimatedCurve(j.capacity);
    c.stride = j.stride;
    c.seen = j.seen;
    c.points = j.points.map((p) => ({ ...p }));
    return c;
  }
}
