/**
 * What an experiment is: a typed base config with presets, named arms, seeds, a data requirement, a
 * trainer call for one (arm, seed), and the paper's reported numbers for comparison.
 */
import type { Rng } from "@rnnlab/core";
import type { z } from "zod";
import type { DeepPartial, DeepReadonly } from "./config";

export const PRESET_NAMES = ["smoke", "cpu", "paper"] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

/** Numbers from a paper (docs/papers/<paper>.md); null where the paper's value is unknown, with a note saying so. */
export interface ReportedNumbers {
  /** Where they come from, e.g. "docs/papers/g2-lstm.md, ICML poster table (test perplexity)". */
  source: string;
  /** The metric the values are in, and the key of our final metric they compare with. */
  metric: string;
  ourMetric: string;
  lowerIsBetter: boolean;
  /** By our arm name. */
  values: Record<string, number | null>;
  note?: string;
}

export type DataRequirement =
  | { kind: "synthetic"; task: string }
  | {
      kind: "dataset";
      /** Dataset names as the data package knows them (e.g. "ptb-word"). */
      datasets: string[];
      /** What the smoke preset uses instead, so CI without data still runs it. */
      smoke: string;
    };

/** One progress event from a trainer, as the experiment layer forwards it. */
export interface TrainerProgress {
  step: number;
  totalSteps: number;
  split: string;
  metrics: Record<string, number>;
}

/** A progress event with the run it belongs to. */
export interface ExperimentProgress extends TrainerProgress {
  experimentId: string;
  arm: string;
  seed: number;
  /** 0-based index of this (arm, seed) among the runs being trained now, and their count. */
  runIndex: number;
  runCount: number;
  kind: "progress" | "start" | "end" | "reused";
}

export interface ArmContext<C> {
  experimentId: string;
  preset: PresetName;
  config: DeepReadonly<C>;
  configHash: string;
  arm: string;
  seed: number;
  /** Seeded stream for this run (same for every arm of a seed: paired comparisons). */
  rng: Rng;
  /** Checkpoints for exact resume go here; the directory exists. */
  runDir: string;
  /** True when a checkpoint in runDir should be continued. */
  resume: boolean;
  onProgress: (event: TrainerProgress) => void;
}

export interface Curve {
  step: number[];
  value: number[];
}

export interface ArmOutcome {
  /** Final metrics (e.g. validPerplexity, testPerplexity, secondsPerEpoch). */
  final: Record<string, number>;
  /** Named curves over training steps (bounded in the result file by downsampling). */
  curves: Record<string, Curve>;
  /** Small extra data for figures (histograms, compression tables). */
  extra?: Record<string, unknown>;
  /** The step a resumed run continued from (0 or absent: from scratch). */
  resumedFromStep?: number;
}

export interface ExperimentDefinition<C extends object = any> {
  /** "<paper>/<name>", e.g. "g2lstm/ptb". */
  id: string;
  title: string;
  /** The claim being reproduced, one or two sentences. */
  claim: string;
  base: C;
  /**
   * The config's schema (zod, `<paper>/schema.ts`): every resolved config (base <- preset <- `--set`) is checked
   * against it before use, so a bad value is a ConfigError naming the key and the allowed values. Every
   * experiment of the project has one; only test fixtures go without.
   */
  schema?: z.ZodType<C>;
  presets: Record<PresetName, DeepPartial<C>>;
  defaultSeeds: Record<PresetName, number[]>;
  /** Arm names for a resolved config (default: the keys of `config.arms`). */
  arms?: (config: DeepReadonly<C>) => string[];
  data: DataRequirement;
  reported: ReportedNumbers;
  /** The final metric summarised first in the report, and its direction. */
  primaryMetric: { name: string; lowerIsBetter: boolean };
  /** Curves to plot (names in ArmOutcome.curves); the first is the main figure. */
  plotCurves: string[];
  /** The report adds a "speedup vs the first arm" column (time per step), e.g. for structured dropout. */
  compareSpeed?: boolean;
  /** Train and evaluate one (arm, seed). */
  runArm(ctx: ArmContext<C>): Promise<ArmOutcome>;
  /** When set, the experiment cannot run yet (e.g. a trainer it needs has not landed); the reason. */
  unavailable?: string;
}
