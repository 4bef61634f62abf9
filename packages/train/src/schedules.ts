/**
 * Learning-rate schedules as pure functions of the training position, plus one small reducer with
 * explicit state (decay on plateau). Positions are measured in epochs; `epoch` may be fractional
 * (epoch + batchIndex/batchesPerEpoch) for per-step cosine schedules.
 *
 *   constant:      η(e) = η0
 *   step decay:    η(e) = η0 · γ^k,  k = 0 for e < start, else floor((e − start)/every) + 1
 *                  (start defaults to `every`, which is torch's StepLR; Zaremba et al. 2014 decay after epoch
 *                  4 by 0.5 each epoch: {every: 1, start: 4, factor: 0.5})
 *   SGDR:          Loshchilov & Hutter 2017, cosine annealing with warm restarts. Cycle i has length
 *                  T_i = T_0 · T_mult^i (T_mult = 2: cycles double); inside a cycle at position t_cur,
 *                  η = η_min + (η_max − η_min)/2 · (1 + cos(π t_cur / T_i)).
 *                  `repeatFirstCycle` gives the alternating-SG code's 5, 5, 10, 20, … (Shang & Zhang 2019,
 *                  `--restart_base 5`): the first cycle is repeated once before doubling.
 *   plateau:       torch's ReduceLROnPlateau (mode min, relative threshold): after `patience` evaluations
 *                  without improving on the best by more than threshold·|best|, η ← max(η·γ, η_min).
 */

export interface ConstantSchedule {
  kind: "constant";
  learningRate: number;
}
export interface StepDecaySchedule {
  kind: "step";
  learningRate: number;
  /** Multiplier γ applied at each decay. */
  factor: number;
  /** Epochs between decays. */
  every: number;
  /** Epoch of the first decay (default `every`). */
  start?: number;
}
export interface CosineRestartsSchedule {
  kind: "sgdr";
  /** η_max, the rate at each restart. */
  learningRate: number;
  /** η_min (default 0). */
  minLearningRate?: number;
  /** T_0, the first cycle's length in epochs. */
  period: number;
  /** T_mult (default 2). */
  periodMultiplier?: number;
  /** Repeat the first cycle once before growing (alternating-SG convention). Default false. */
  repeatFirstCycle?: boolean;
}
export interface PlateauSchedule {
  kind: "plateau";
  learningRate: number;
  factor: number;
  patience: number;
  /** Relative improvement needed to count as better (default 0). */
  threshold?: number;
  minLearningRate?: number;
}
export type ScheduleOptions = ConstantSchedule | StepDecaySchedule | CosineRestartsSchedule | PlateauSchedule;

function positive(name: string, v: number | undefined): void {
  if (v === undefined || !Number.isFinite(v) || v <= 0) throw new Error(`schedule option ${name}=${v} must be a positive number`);
}

export function validateSchedule(s: ScheduleOptions): void {
  const kinds = ["constant", "step", "sgdr", "plateau"];
  if (!kinds.includes(s.kind)) throw new Error(`schedule kind "${(s as { kind: string }).kind}" is unknown: use one of ${kinds.join(", ")}`);
  if (!Number.isFinite(s.learningRate) || s.learningRate < 0) throw new Error(`schedule option learningRate=${s.learningRate} must be a non-negative number`);
  if (s.kind === "step") {
    positive("factor", s.factor);
    positive("every", s.every);
  }
  if (s.kind === "sgdr") {
    positive("period", s.period);
    if (s.periodMultiplier !== undefined && !(s.periodMultiplier >= 1)) throw new Error(`schedule option periodMultiplier=${s.periodMultiplier} must be >= 1`);
  }
  if (s.kind === "plateau") {
    positive("factor", s.factor);
    if (!Number.isInteger(s.patience) || s.patience < 0) throw new Error(`schedule option patience=${s.patience} must be a non-negative integer`);
  }
}

export function constantLearningRate(s: ConstantSchedule): number {
  return s.learningRate;
}

export function stepDecayLearningRate(s: StepDecaySchedule, epoch: number): number {
  const start = s.start ?? s.every;
  const k = epoch < start ? 0 : Math.floor((epoch - start) / s.every) + 1;
  return s.learningRate * Math.pow(s.factor, k);
}

/** Length of SGDR cycle i (0-based). */
export function sgdrCycleLength(s: CosineRestartsSchedule, cycle: number): number {
  const m = s.periodMultiplier ?? 2;
  const exponent = s.repeatFirstCycle ? Math.max(0, cycle - 1) : cycle;
  return s.period * Math.pow(m, exponent);
}

/** Where `epoch` falls in the SGDR cycles. */
export function sgdrPosition(s: CosineRestartsSchedule, epoch: number): { cycle: number; cycleStart: number; cycleLength: number; positionInCycle: number } {
  if (epoch < 0) throw new Error(`sgdrPosition: epoch ${epoch} < 0`);
  let cycle = 0;
  let start = 0;
  for (;;) {
    const len = sgdrCycleLength(s, cycle);
    // The small tolerance keeps an epoch that lands on a boundary in the new cycle despite float sums.
    if (epoch < start + len - 1e-9) return { cycle, cycleStart: start, cycleLength: len, positionInCycle: epoch - start };
    start += len;
    cycle++;
    if (cycle > 10000) throw new Error("sgdrPosition: too many cycles; check period/periodMultiplier");
  }
}

export function sgdrLearningRate(s: CosineRestartsSchedule, epoch: number): number {
  const { cycleLength, positionInCycle } = sgdrPosition(s, epoch);
  const lo = s.minLearningRate ?? 0;
  return lo + ((s.learningRate - lo) / 2) * (1 + Math.cos((Math.PI * positionInCycle) / cycleLength));
}

/** Restart epochs strictly after 0 and at most `untilEpoch` (e.g. T0=1, mult 2 → 1, 3, 7, 15, …). */
export function sgdrRestartEpochs(s: CosineRestartsSchedule, untilEpoch: number): number[] {
  const out: number[] = [];
  let t = 0;
  for (let i = 0; ; i++) {
    t += sgdrCycleLength(s, i);
    if (t > untilEpoch + 1e-9) return out;
    out.push(t);
  }
}

/** The SGDR cycle index (0-based) containing `epoch`: the alternating-gradient mode flips when it changes. */
export function sgdrCycleIndex(s: CosineRestartsSchedule, epoch: number): number {
  return sgdrPosition(s, epoch).cycle;
}

/** Explicit state of the plateau reducer. */
export interface PlateauState {
  learningRate: number;
  best: number;
  badEvaluations: number;
}

export function plateauInitial(s: PlateauSchedule): PlateauState {
  return { learningRate: s.learningRate, best: Infinity, badEvaluations: 0 };
}

/** Observe one validation metric (lower is better); returns the new state. */
export function plateauObserve(s: PlateauSchedule, state: PlateauState, metric: number): PlateauState {
  const threshold = s.threshold ?? 0;
  const improved = state.best === Infinity || metric < state.best - threshold * Math.abs(state.best);
  if (improved) return { learningRate: state.learningRate, best: metric, badEvaluations: 0 };
  const bad = state.badEvaluations + 1;
  if (bad > s.patience) {
    return { learningRate: Math.max(state.learningRate * s.factor, s.minLearningRate ?? 0), best: state.best, badEvaluations: 0 };
  }
  return { learningRate: state.learningRate, best: state.best, badEvaluations: bad };
}

/**
 * The learning rate at a position, for every schedule kind. Plateau needs its state (the rate is whatever
 * the reducer says); the others are pure in `epoch`.
 */
export function learningRateAt(s: ScheduleOptions, epoch: number, plateau?: PlateauState): number {
  switch (s.kind) {
    case "constant":
      return constantLearningRate(s);
    case "step":
      return stepDecayLearningRate(s, epoch);
    case "sgdr":
      return sgdrLearningRate(s, epoch);
    case "plateau":
      return (plateau ?? plateauInitial(s)).learningRate;
  }
}
