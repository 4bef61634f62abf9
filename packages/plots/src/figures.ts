/**
 * Plotly figure specs built from plain data (result JSON); pure functions, no rendering.
 */
import type { FigureSpec } from "./render";

export interface Series {
  name: string;
  x: number[];
  y: number[];
  /** Optional symmetric band (e.g. std over seeds) drawn as a shaded area. */
  band?: number[];
  dash?: "solid" | "dash" | "dot";
}

export interface LineFigureOptions {
  title: string;
  xTitle: string;
  yTitle: string;
  series: Series[];
  /** Horizontal reference lines, e.g. a trivial baseline. */
  references?: { name: string; y: number }[];
  logY?: boolean;
}

const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];

/**
 * A log axis whose tick labels are numbers: over less than a few decades Plotly's own choice labels the
 * ticks between powers of ten with bare digits (2000…9000 as "2 … 9"). Under a decade: every digit, in
 * full; up to 4 decades: 1, 2 and 5 per decade, in full; wider: Plotly's powers of ten.
 */
export function logAxis(values: number[]): Record<string, unknown> {
  const positive = values.filter((v) => Number.isFinite(v) && v > 0);
  const decades = positive.length ? Math.log10(Math.max(...positive) / Math.min(...positive)) : 0;
  if (decades >= 4) return { type: "log" };
  return { type: "log", tickformat: "~g", ...(decades >= 1 ? { dtick: "D2" } : {}) };
}

export function lineFigure(o: LineFigureOptions): FigureSpec {
  const data: Record<string, unknown>[] = [];
  o.series.forEach((s, k) => {
    const color = PALETTE[k % PALETTE.length];
    if (s.band) {
      const upper = s.y.map((v, i) => v + s.band![i]);
      const lower = s.y.map((v, i) => v - s.band![i]);
      data.push({
        x: [...s.x, ...[...s.x].reverse()],
        y: [...upper, ...lower.reverse()],
        fill: "toself",
        fillcolor: color + "33",
        line: { width: 0 },
        hoverinfo: "skip",
        showlegend: false,
        type: "scatter",
      });
    }
    data.push({ x: s.x, y: s.y, name: s.name, type: "scatter", mode: "lines", line: { color, dash: s.dash ?? "solid" } });
  });
  const xs = o.series.flatMap((s) => s.x);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  for (const r of o.references ?? []) {
    data.push({ x: [x0, x1], y: [r.y, r.y], name: r.name, type: "scatter", mode: "lines", line: { color: "#444", dash: "dot" } });
  }
  return {
    data,
    layout: {
      title: { text: o.title },
      xaxis: { title: { text: o.xTitle } },
      yaxis: { title: { text: o.yTitle }, ...(o.logY ? logAxis([...o.series.flatMap((s) => s.y), ...(o.references ?? []).map((r) => r.y)]) : { type: "linear" }) },
      template: "plotly_white",
      legend: { orientation: "h", y: -0.2 },
      margin: { t: 50, r: 20, b: 80, l: 60 },
    },
  };
}
