/**
 * A live progress display for notebooks: a bar, the latest metrics and a small loss sparkline,
 * redrawn in place (tslab's `newDisplay()` overwrites its own output), at most `maxPerSecond` times a
 * second; `finish()` always draws the final state, which is what the saved notebook keeps: without the
 * elapsed time, so that re-executing a notebook that trains the same thing changes nothing.
 */
export interface UpdatableDisplay {
  html(s: string): void;
}

export interface ProgressState {
  done: number;
  total: number;
  label?: string;
  metrics?: Record<string, number>;
  /** The series drawn as a sparkline (e.g. the loss). */
  curve?: number[];
}

function escape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
}

export function sparklineSvg(values: number[], width = 160, height = 36): string {
  const v = values.filter(Number.isFinite);
  if (v.length < 2) return "";
  const lo = Math.min(...v), hi = Math.max(...v);
  const span = hi - lo || 1;
  const pts = v
    .map((y, i) => `${((i / (v.length - 1)) * (width - 2) + 1).toFixed(1)},${(height - 1 - ((y - lo) / span) * (height - 2)).toFixed(1)}`)
    .join(" ");
  return `<svg width="${width}" height="${height}" style="vertical-align:middle"><polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="${pts}"/></svg>`;
}

export function progressHtml(s: ProgressState, elapsedSeconds?: number): string {
  const frac = s.total > 0 ? Math.min(1, s.done / s.total) : 0;
  const metrics = Object.entries(s.metrics ?? {})
    .map(([k, v]) => `${escape(k)}=${Math.abs(v) >= 100 || Number.isInteger(v) ? v.toFixed(0) : v.toPrecision(4)}`)
    .join(" ");
  let eta = "";
  if (elapsedSeconds !== undefined && frac > 0 && frac < 1) eta = ` · ETA ${Math.round((elapsedSeconds * (1 - frac)) / frac)} s`;
  else if (elapsedSeconds !== undefined) eta = ` · ${elapsedSeconds.toFixed(1)} s`;
  return (
    `<div style="font-family:monospace">${s.label ? escape(s.label) + " " : ""}` +
    `<progress value="${s.done}" max="${s.total}" style="width:200px"></progress> ${s.done}/${s.total}${eta} ` +
    `${metrics} ${sparklineSvg(s.curve ?? [])}</div>`
  );
}

/**
 * `curveMetric` names the metric whose history is drawn as the sparkline (default: the first metric of
 * each update); the history is decimated to at most 200 points so memory stays bounded.
 */
export function liveProgress(display: UpdatableDisplay, opts: { label?: string; maxPerSecond?: number; curveMetric?: string } = {}) {
  const minGapMs = 1000 / (opts.maxPerSecond ?? 4);
  const start = Date.now();
  let last = 0;
  let latest: ProgressState | undefined;
  let history: number[] = [];
  const draw = (timed = true) =>
    latest && display.html(progressHtml({ label: opts.label, curve: history, ...latest }, timed ? (Date.now() - start) / 1000 : undefined));
  return {
    update(s: ProgressState): void {
      const key = opts.curveMetric ?? Object.keys(s.metrics ?? {})[0];
      const v = key === undefined ? undefined : s.metrics?.[key];
      if (v !== undefined) {
        history.push(v);
        if (history.length > 200) history = history.filter((_, i) => i % 2 === 0);
      }
      latest = s;
      const now = Date.now();
      if (now - last >= minGapMs || s.done >= s.total) {
        last = now;
        draw();
      }
    },
    finish(): void {
      draw(false);
    },
  };
}
