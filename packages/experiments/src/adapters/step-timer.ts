/**
 * Training time per optimizer step, measured from the trainers' progress events: only intervals between
 * two consecutive "step" events count, so evaluation passes (and checkpoint writes that follow them) do
 * not inflate it. Structured dropout's claim is about this number; the training-speed bench takes the
 * median of the per-step intervals.
 */
import type { ProgressEvent } from "@rnnlab/train";

export class StepTimer {
  private lastKind = "";
  private lastStep = 0;
  private lastTime = 0;
  private seconds = 0;
  private steps = 0;
  private readonly intervals: number[] = [];

  observe(event: Pick<ProgressEvent, "kind" | "step">): void {
    const now = performance.now();
    if (event.kind === "step" && this.lastKind === "step" && event.step > this.lastStep) {
      this.seconds += (now - this.lastTime) / 1000;
      this.steps += event.step - this.lastStep;
      this.intervals.push((now - this.lastTime) / (event.step - this.lastStep));
    }
    this.lastKind = event.kind;
    this.lastStep = event.step;
    this.lastTime = now;
  }

  /** Mean seconds per step over the measured intervals (NaN before two consecutive step events). */
  secondsPerStep(): number {
    return this.steps > 0 ? this.seconds / this.steps : NaN;
  }

  /** Milliseconds per step of each measured interval, in order (the first interval is the second step). */
  stepIntervalsMs(): number[] {
    return this.intervals.slice();
  }
}
