/**
 * G2-LSTM figures and tables, built from result JSON only (docs/papers/g2-lstm.md):
 *   - gate histograms: density of first-layer input/forget gate values on held-out data per arm, with
 *     the shares below 0.1 and above 0.9 in the legend;
 *   - gate map: per-word mean input/forget gate of the same layer over a few example sentences;
 *   - saturation table: shares below 0.1 / above 0.9 per arm and gate;
 *   - sensitivity table: the metric for Original, Round, Round & Clip, SVD, SVD+ with the change from
 *     Original per arm, ours next to the paper's (ICML'18 poster table), the grid step and ranks named.
 */
import { histogramDensity } from "@rnnlab/metrics";
import { lineFigure, type FigureSpec } from "@rnnlab/plots";
import { meanCurve } from "../report";
import type { ExperimentResult, RunRecord } from "../results";
import { compareArms, type ClaimCheck } from "../verdict";
import type { GateMap } from "./gate-map";

type Row = Record<string, string | number | null>;

/** The ICML'18 poster table (docs/papers/g2-lstm.md): Original, Round, Round & Clip, SVD, SVD+ per arm. */
export const G2_PAPER_COMPRESSION: Record<"ptb" | "iwslt14", { metric: string; rows: Record<string, [number, number, number, number, number]> }> = {
  ptb: {
    metric: "test perplexity",
    rows: {
      baseline: [52.8, 53.2, 53.6, 56.6, 65.5],
      sharpened: [53.2, 53.5, 53.6, 54.6, 60.0],
      g2: [52.1, 52.2, 52.8, 53.3, 56.0],
    },
  },
  iwslt14: {
    metric: "test BLEU",
    rows: {
      baseline: [31.0, 28.65, 21.97, 30.52, 29.56],
      sharpened: [29.73, 27.08, 25.14, 29.17, 28.82],
      g2: [31.95, 31.44, 31.44, 31.62, 31.28],
    },
  },
};

const ARM_LABELS: Record<string, string> = { baseline: "baseline LSTM", sharpened: "sharpened sigmoid", g2: "G2-LSTM" };
const armLabel = (arm: string) => ARM_LABELS[arm] ?? arm;

function firstRun(result: ExperimentResult, arm: string): RunRecord | undefined {
  return Object.values(result.arms[arm]?.runs ?? {})[0];
}

function allRuns(result: ExperimentResult, arm: string): RunRecord[] {
  return Object.values(result.arms[arm]?.runs ?? {});
}

function meanStd(xs: number[]): { mean: number; std: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, std };
}

function isTranslation(result: ExperimentResult): boolean {
  return result.id.endsWith("/translation");
}

/** The traced layer the G2 figures use: the decoder's first layer (translation) or the first LM layer. */
export function g2GateLayer(result: ExperimentResult): string {
  return isTranslation(result) ? "decoder.layer0" : "layer0";
}

/**
 * A learning curve per arm (mean over seeds, band = std when there are several). For LM perplexity the
 * trivial baseline is drawn in: a uniform guess over the vocabulary (perplexity = vocabulary size);
 * for translation BLEU, the empty output (BLEU 0).
 */
export function g2CurveFigure(result: ExperimentResult, curve: string): FigureSpec {
  const series = Object.keys(result.arms)
    .map((arm) => meanCurve(result, arm, curve))
    .filter((s): s is NonNullable<typeof s> => s !== undefined)
    .map((s) => ({ ...s, name: armLabel(s.name) }));
  if (series.length === 0) throw new Error(`${result.id}: no arm recorded the curve "${curve}"`);
  const references: { name: string; y: number }[] = [];
  const vocabulary = (firstRun(result, Object.keys(result.arms)[0])?.extra as { vocabularySize?: number } | undefined)?.vocabularySize;
  if (/Perplexity$/.test(curve) && !isTranslation(result) && vocabulary) references.push({ name: `uniform over the ${vocabulary}-word vocabulary`, y: vocabulary });
  if (/Bleu$/.test(curve)) references.push({ name: "empty output (BLEU 0)", y: 0 });
  const seeds = result.seeds.length;
  return lineFigure({
    title: `${result.id}: ${curve} (${result.preset} preset, ${seeds} seed${seeds === 1 ? "" : "s"}${seeds > 1 ? ", mean ± std" : ""})`,
    xTitle: "training step",
    yTitle: curve,
    series,
    references,
    logY: /Perplexity$/.test(curve),
  });
}

interface Saturation {
  shareBelowLow: number;
  shareAboveHigh: number;
  shareSaturated: number;
}

function saturationOf(run: RunRecord | undefined, layer: string, gate: "i" | "f"): Saturation | undefined {
  const s = (run?.extra as { gateSaturation?: Record<string, Saturation> } | undefined)?.gateSaturation;
  return s?.[`${layer}.${gate}`];
}

const percent = (v: number) => `${(100 * v).toFixed(1)}%`;

/**
 * Gate value densities of the first layer, input gate (left) and forget gate (right), for `arms`
 * (default baseline and G2), each legend entry with its share below 0.1 and above 0.9.
 */
export function g2GateHistogramFigure(result: ExperimentResult, arms: string[] = ["baseline", "g2"]): FigureSpec {
  const layer = g2GateLayer(result);
  const data: Record<string, unknown>[] = [];
  const colors: Record<string, string> = { baseline: "#1f77b4", sharpened: "#ff7f0e", g2: "#d62728" };
  (["i", "f"] as const).forEach((gate, panel) => {
    for (const arm of arms) {
      const run = firstRun(result, arm);
      const histograms = (run?.extra as { gateHistograms?: Record<string, Record<string, { min: number; max: number; counts: number[] }>> } | undefined)?.gateHistograms;
      const h = histograms?.[layer]?.[gate];
      if (!h || h.counts.every((c) => c === 0)) continue;
      const d = histogramDensity(h);
      const s = saturationOf(run, layer, gate);
      const shares = s ? ` (<0.1: ${percent(s.shareBelowLow)}, >0.9: ${percent(s.shareAboveHigh)})` : "";
      data.push({
        x: d.centers,
        y: d.densities,
        type: "scatter",
        mode: "lines",
        fill: "tozeroy",
        name: `${armLabel(arm)}, ${gate === "i" ? "input" : "forget"} gate${shares}`,
        line: { color: colors[arm] ?? "#444", dash: gate === "i" ? "solid" : "dot" },
        xaxis: panel === 0 ? "x" : "x2",
        yaxis: panel === 0 ? "y" : "y2",
      });
    }
  });
  if (data.length === 0) throw new Error(`${result.id}: no gate histograms of layer "${layer}" in the result's extra.gateHistograms; rerun the experiment`);
  return {
    data,
    layout: {
      title: { text: `${result.id}: ${layer} gate values on held-out data (${result.preset} preset, seed ${result.seeds[0]})` },
      grid: { rows: 1, columns: 2, pattern: "independent" },
      xaxis: { title: { text: "input gate value" }, range: [0, 1] },
      xaxis2: { title: { text: "forget gate value" }, range: [0, 1] },
      yaxis: { title: { text: "density" } },
      yaxis2: { title: { text: "density" } },
      template: "plotly_white",
      legend: { orientation: "h", y: -0.25 },
      margin: { t: 50, r: 20, b: 110, l: 60 },
    },
  };
}

/** Shares of first-layer gate values below 0.1 and above 0.9, per arm and gate (mean over seeds; `seeds` says how many). */
export function g2GateSaturationRows(result: ExperimentResult): Row[] {
  const layer = g2GateLayer(result);
  const rows: Row[] = [];
  for (const arm of Object.keys(result.arms)) {
    for (const gate of ["i", "f"] as const) {
      const shares = allRuns(result, arm)
        .map((run) => saturationOf(run, layer, gate))
        .filter((x): x is NonNullable<typeof x> => x !== undefined);
      const mean = (f: (x: (typeof shares)[number]) => number) => (shares.length ? meanStd(shares.map(f)).mean : null);
      rows.push({
        arm: armLabel(arm),
        gate: gate === "i" ? "input" : "forget",
        layer,
        "share < 0.1": mean((x) => x.shareBelowLow),
        "share > 0.9": mean((x) => x.shareAboveHigh),
        "share saturated": mean((x) => x.shareSaturated),
        seeds: shares.length,
      });
    }
  }
  return rows;
}

/**
 * Heat map of the per-word mean input and forget gates of each example sentence, one panel per
 * sentence, rows = (arm, gate) for `arms` (default baseline and G2), colour 0 (closed) to 1 (open).
 */
export function g2GateMapFigure(result: ExperimentResult, arms: string[] = ["baseline", "g2"]): FigureSpec {
  const maps = arms.map((arm) => ({ arm, map: (firstRun(result, arm)?.extra as { gateMap?: GateMap } | undefined)?.gateMap }));
  const missing = maps.filter((m) => !m.map).map((m) => m.arm);
  if (missing.length) throw new Error(`${result.id}: no extra.gateMap for arm(s) ${missing.join(", ")}; rerun the experiment`);
  const sentences = maps[0].map!.sentences.length;
  const data: Record<string, unknown>[] = [];
  const layout: Record<string, unknown> = {
    title: { text: `${result.id}: mean ${maps[0].map!.layer} gate value per word (${result.preset} preset)` },
    grid: { rows: sentences, columns: 1, pattern: "independent", ygap: 0.35 },
    template: "plotly_white",
    margin: { t: 50, r: 20, b: 40, l: 170 },
  };
  for (let k = 0; k < sentences; k++) {
    const words = maps[0].map!.sentences[k].words;
    const rowLabels: string[] = [];
    const z: number[][] = [];
    for (const { arm, map } of maps) {
      const s = map!.sentences[k];
      z.push(s.input, s.forget);
      rowLabels.push(`${armLabel(arm)}: input`, `${armLabel(arm)}: forget`);
    }
    const axis = k === 0 ? "" : String(k + 1);
    data.push({
      type: "heatmap",
      z,
      x: words.map((_, t) => t),
      y: rowLabels,
      zmin: 0,
      zmax: 1,
      colorscale: "RdBu",
      reversescale: true,
      showscale: k === 0,
      colorbar: { title: { text: "gate" }, len: 0.5 },
      text: z.map((row) => row.map((v) => v.toFixed(2))),
      texttemplate: "%{text}",
      textfont: { size: 9 },
      xaxis: `x${axis}`,
      yaxis: `y${axis}`,
    });
    layout[`xaxis${axis}`] = { tickvals: words.map((_, t) => t), ticktext: words, tickangle: -30, side: "bottom" };
    layout[`yaxis${axis}`] = { autorange: "reversed" };
  }
  return { data, layout };
}

/** The compression settings a result used (grid steps r, SVD ranks for SVD and SVD+). */
export function g2CompressionSettings(result: ExperimentResult): { roundSteps: number[]; svdRanks: number[] } {
  const c = (result.config as { compression?: { roundSteps?: number[]; svdRankDivisors?: number[]; svdRanks?: number[] } }).compression ?? {};
  const model = (result.config as { model?: { hiddenSize?: number; embeddingSize?: number; tieWeights?: boolean; layers?: number } }).model ?? {};
  const roundSteps = [...(c.roundSteps ?? [])];
  if (isTranslation(result)) return { roundSteps, svdRanks: [...(c.svdRanks ?? [])] };
  // The LM names SVD ranks by the narrowest layer (the tied last layer is embeddingSize wide).
  const width = Math.min(model.hiddenSize ?? Infinity, model.tieWeights ? (model.embeddingSize ?? Infinity) : Infinity);
  return { roundSteps, svdRanks: (c.svdRankDivisors ?? []).map((d) => Math.max(1, Math.floor(width / d))) };
}

function compressionKeys(result: ExperimentResult, roundStep: number, ranks: [number, number]): string[] {
  if (isTranslation(result)) {
    return ["testBleu", `testBleuRound${roundStep}`, `testBleuRoundAndClip${roundStep}`, `testBleuSvdRank${ranks[0]}`, `testBleuSvdRank${ranks[1]}`];
  }
  return ["testPerplexity", `testPerplexity_round${roundStep}`, `testPerplexity_roundAndClip${roundStep}`, `testPerplexity_svdRank${ranks[0]}`, `testPerplexity_svdRank${ranks[1]}`];
}

const fmt = (v: number, digits: number) => v.toFixed(digits);
const signed = (v: number, digits: number) => `${v >= 0 ? "+" : "−"}${Math.abs(v).toFixed(digits)}`;

/**
 * The sensitivity table: per arm, ours (mean over seeds; the change from Original per seed, mean ± std) and the paper's, "value (change from Original)" for
 * Original, Round r, Round & Clip r, SVD (the larger rank) and SVD+ (the smaller rank). `roundStep`
 * defaults to the middle grid step of the result's config.
 */
export function g2CompressionRows(result: ExperimentResult, roundStep?: number): Row[] {
  const { roundSteps, svdRanks } = g2CompressionSettings(result);
  const r = roundStep ?? roundSteps[Math.floor((roundSteps.length - 1) / 2)];
  if (r === undefined || !roundSteps.includes(r)) throw new Error(`${result.id}: grid step ${r} was not evaluated; the config has roundSteps [${roundSteps.join(", ")}]`);
  if (svdRanks.length < 2) throw new Error(`${result.id}: the SVD and SVD+ columns need two SVD ranks; the config has [${svdRanks.join(", ")}]`);
  const ranks: [number, number] = [Math.max(...svdRanks), Math.min(...svdRanks)];
  const translation = isTranslation(result);
  const digits = translation ? 2 : 1;
  const paper = G2_PAPER_COMPRESSION[translation ? "iwslt14" : "ptb"];
  const columns = ["Original", `Round (r=${r})`, `Round & Clip (r=${r}, ±${2 * r})`, `SVD (rank ${ranks[0]})`, `SVD+ (rank ${ranks[1]})`];
  const rows: Row[] = [];
  for (const arm of Object.keys(result.arms)) {
    // Per seed: the compressed value and its change from that seed's Original; shown as mean (change mean ± std).
    const finals = allRuns(result, arm).map((run) => run.final);
    const keys = compressionKeys(result, r, ranks);
    const seeds = finals.length;
    const row: Row = { arm: armLabel(arm), source: `ours (${result.preset}, ${translation ? "test BLEU" : "test perplexity"}${seeds > 1 ? `, mean of ${seeds} seeds (change ± std)` : ""})` };
    keys.forEach((k, j) => {
      const per = finals.filter((f) => typeof f[k] === "number" && typeof f[keys[0]] === "number");
      if (per.length === 0) {
        row[columns[j]] = null;
        return;
      }
      const value = meanStd(per.map((f) => f[k]));
      if (j === 0) {
        row[columns[j]] = per.length > 1 ? `${fmt(value.mean, digits)} ± ${fmt(value.std, digits)}` : fmt(value.mean, digits);
        return;
      }
      const change = meanStd(per.map((f) => f[k] - f[keys[0]]));
      row[columns[j]] = `${fmt(value.mean, digits)} (${signed(change.mean, digits)}${per.length > 1 ? ` ± ${fmt(change.std, digits)}` : ""})`;
    });
    rows.push(row);
    const p = paper.rows[arm];
    if (p) {
      const prow: Row = { arm: armLabel(arm), source: `paper (${translation ? "IWSLT'14 De→En BLEU" : "PTB perplexity"}; r, ranks unknown)` };
      p.forEach((v, j) => {
        prow[columns[j]] = j === 0 ? fmt(v, 2) : `${fmt(v, 2)} (${signed(v - p[0], 2)})`;
      });
      rows.push(prow);
    }
  }
  return rows;
}

/** Every compression the result evaluated, per arm: the value and the change from Original (means over seeds, with the change's std when there are several). */
export function g2CompressionSweepRows(result: ExperimentResult): Row[] {
  const { roundSteps, svdRanks } = g2CompressionSettings(result);
  const translation = isTranslation(result);
  const base = translation ? "testBleu" : "testPerplexity";
  const key = (method: string, p: number) =>
    translation ? `testBleu${method[0].toUpperCase()}${method.slice(1)}${p}` : `testPerplexity_${method}${p}`;
  const settings: [string, string][] = [
    ...roundSteps.flatMap((r): [string, string][] => [
      [`Round r=${r}`, key("round", r)],
      [`Round & Clip r=${r}`, key("roundAndClip", r)],
    ]),
    ...svdRanks.map((k): [string, string] => [`SVD rank ${k}`, key("svdRank", k)]),
  ];
  const rows: Row[] = [];
  for (const arm of Object.keys(result.arms)) {
    const finals = allRuns(result, arm).map((run) => run.final);
    for (const [label, k] of settings) {
      const per = finals.filter((f) => typeof f[k] === "number" && typeof f[base] === "number");
      rows.push({
        arm: armLabel(arm),
        compression: label,
        [base]: per.length ? meanStd(per.map((f) => f[k])).mean : null,
        change: per.length ? meanStd(per.map((f) => f[k] - f[base])).mean : null,
        ...(finals.length > 1 ? { "change std": per.length > 1 ? meanStd(per.map((f) => f[k] - f[base])).std : null, seeds: per.length } : {}),
      });
    }
  }
  return rows;
}

/** A "no loss" claim tolerates a loss of this share of the reference arm's mean (the paper's own arm differences are ~1–2%). */
export const G2_NO_LOSS_MARGIN = 0.02;

/**
 * The paper's three claims, checked on a result's per-seed finals (docs/papers/README.md, "How verdicts are
 * decided"): G2 vs the baseline LSTM on gate saturation (share of first-layer gate values below 0.1 or above
 * 0.9; higher = more binary), on the change under each compression of the results table (Round and
 * Round & Clip at the table's grid step, SVD and SVD+), and on the task metric (no loss).
 */
export function g2Verdicts(result: ExperimentResult, roundStep?: number): { saturation: ClaimCheck[]; compression: ClaimCheck[]; accuracy: ClaimCheck[] } {
  const labels = ARM_LABELS;
  const metric = result.primaryMetric.name;
  const lowerIsBetter = result.primaryMetric.lowerIsBetter;
  const saturation = (["inputGateSaturated", "forgetGateSaturated"] as const).map((m) =>
    compareArms(result, {
      claim: `G2-LSTM's ${m.startsWith("input") ? "input" : "forget"} gate is more often near 0 or 1 than the baseline's`,
      metric: m,
      lowerIsBetter: false,
      arm: "g2",
      baselineArm: "baseline",
      labels,
    }),
  );
  const { roundSteps, svdRanks } = g2CompressionSettings(result);
  const r = roundStep ?? roundSteps[Math.floor((roundSteps.length - 1) / 2)];
  const ranks = svdRanks.length ? [Math.max(...svdRanks), Math.min(...svdRanks)] : [];
  const settings: [string, number | undefined, number][] = [
    ["Round", r, 1],
    ["Round & Clip", r, 2],
    ...ranks.map((k, j): [string, number | undefined, number] => [j === 0 ? "SVD" : "SVD+", k, 3 + j]),
  ];
  const compression: ClaimCheck[] = [];
  for (const [name, p, column] of settings) {
    if (p === undefined) continue;
    const keys = compressionKeys(result, r ?? 0, [ranks[0] ?? 0, ranks[1] ?? 0]);
    const key = keys[column];
    const setting = name.startsWith("SVD") ? `rank ${p}` : `r = ${p}`;
    compression.push(
      compareArms(result, {
        claim: `${name} (${setting}) changes G2-LSTM's test ${translationOr(result, "BLEU", "perplexity")} less than the baseline's`,
        metric: { name: `change under ${name} ${setting}`, of: (f) => (typeof f[key] === "number" && typeof f[keys[0]] === "number" ? f[key] - f[keys[0]] : undefined) },
        lowerIsBetter,
        arm: "g2",
        baselineArm: "baseline",
        labels,
      }),
    );
  }
  const reference = result.arms.baseline?.summary[metric]?.mean;
  const accuracy = ["g2", "sharpened"].map((arm) =>
    compareArms(result, {
      claim: `${labels[arm]} loses no test ${translationOr(result, "BLEU", "perplexity")} against the baseline (tolerated loss: ${G2_NO_LOSS_MARGIN * 100}% of the baseline's mean)`,
      metric,
      lowerIsBetter,
      arm,
      baselineArm: "baseline",
      direction: "noWorse",
      margin: reference !== undefined && Number.isFinite(reference) ? G2_NO_LOSS_MARGIN * Math.abs(reference) : 0,
      labels,
    }),
  );
  return { saturation, compression, accuracy };
}

function translationOr(result: ExperimentResult, translation: string, lm: string): string {
  return isTranslation(result) ? translation : lm;
}
