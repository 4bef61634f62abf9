/**
 * Subscribers to experiment progress events: a console display (cli-progress bars with ETA on a TTY,
 * throttled plain lines otherwise) and a notebook display (HTML bar, latest metrics, loss sparkline).
 * Trainers and runExperiment only emit events; these are the only places that draw.
 */
import { MultiBar, Presets, type SingleBar } from "cli-progress";
import { liveProgress, type UpdatableDisplay } from "@rnnlab/plots";
import type { ExperimentProgress } from "./types";

export type ProgressListener = ((event: ExperimentProgress) => void) & { finish(): void };

export function formatMetrics(metrics: Record<string, number>): string {
  return Object.entries(metrics)
    // A result file's NaN is stored as null, and an edited one may hold anything: print those as they are.
    .map(([k, v]) => `${k}=${typeof v !== "number" || !Number.isFinite(v) ? String(v) : Math.abs(v) >= 1000 || Number.isInteger(v) ? v.toFixed(0) : v.toPrecision(4)}`)
    .join(" ");
}

function runLabel(e: ExperimentProgress): string {
  const position = e.runCount > 0 ? ` (${e.runIndex + 1}/${e.runCount})` : "";
  return `${e.experimentId} ${e.arm} seed ${e.seed}${position}`;
}

/**
 * Console progress. `tty` defaults to whether `stream` is a terminal. Plain mode prints a line when a
 * run starts or ends and at most every `plainIntervalSeconds` in between (default 10).
 */
export function consoleProgress(
  options: { stream?: NodeJS.WriteStream; tty?: boolean; plainIntervalSeconds?: number } = {},
): ProgressListener {
  const stream = options.stream ?? process.stderr;
  const tty = options.tty ?? Boolean(stream.isTTY);
  if (!tty) {
    const interval = (options.plainIntervalSeconds ?? 10) * 1000;
    const lastPrint = new Map<string, number>();
    const startedAt = new Map<string, number>();
    const printedLast = new Set<string>();
    const listener = ((e: ExperimentProgress) => {
      const key = `${e.arm}/${e.seed}`;
      const label = runLabel(e);
      if (e.kind === "reused") stream.write(`${e.experimentId} ${e.arm} seed ${e.seed}: reused (${formatMetrics(e.metrics)})\n`);
      else if (e.kind === "start") {
        startedAt.set(key, Date.now());
        stream.write(`${label}: started\n`);
      } else if (e.kind === "end") {
        const seconds = (Date.now() - (startedAt.get(key) ?? Date.now())) / 1000;
        stream.write(`${label}: finished in ${seconds.toFixed(1)} s: ${formatMetrics(e.metrics)}\n`);
      } else {
        const now = Date.now();
        // The last step of a split is printed once (a trainer may report it twice: last step, then final evaluation).
        const last = e.step === e.totalSteps && !printedLast.has(`${key}/${e.split}`);
        if (last) printedLast.add(`${key}/${e.split}`);
        if ((now - (lastPrint.get(key) ?? 0) >= interval && e.step !== e.totalSteps) || last) {
          lastPrint.set(key, now);
          const elapsed = (now - (startedAt.get(key) ?? now)) / 1000;
          const eta = e.step > 0 && e.totalSteps > e.step ? ` ETA ${Math.round((elapsed * (e.totalSteps - e.step)) / e.step)} s` : "";
          stream.write(`${label}: ${e.split} step ${e.step}/${e.totalSteps}${eta} ${formatMetrics(e.metrics)}\n`);
        }
      }
    }) as ProgressListener;
    listener.finish = () => undefined;
    return listener;
  }
  const multibar = new MultiBar(
    {
      stream,
      format: "{label} [{bar}] {value}/{total} | ETA {eta_formatted} | {metrics}",
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      etaBuffer: 50,
      fps: 4,
    },
    Presets.shades_classic,
  );
  const bars = new Map<string, SingleBar>();
  const listener = ((e: ExperimentProgress) => {
    const key = `${e.arm}/${e.seed}`;
    if (e.kind === "reused") {
      multibar.log(`${e.experimentId} ${e.arm} seed ${e.seed}: reused (${formatMetrics(e.metrics)})\n`);
      return;
    }
    if (e.kind === "start") {
      bars.set(key, multibar.create(1, 0, { label: runLabel(e), metrics: "" }));
      return;
    }
    const bar = bars.get(key);
    if (!bar) return;
    if (e.kind === "end") {
      bar.update({ metrics: formatMetrics(e.metrics) });
      bar.stop();
      return;
    }
    if (bar.getTotal() !== e.totalSteps) bar.setTotal(e.totalSteps);
    bar.update(e.step, { metrics: `${e.split} ${formatMetrics(e.metrics)}` });
  }) as ProgressListener;
  listener.finish = () => multibar.stop();
  return listener;
}

/**
 * Notebook progress: pass tslab's `newDisplay()` (anything with `.html(string)`). Draws a bar, the
 * latest metrics and a sparkline of `curveMetric` (default "loss") for the current run, at most
 * `maxPerSecond` (default 4) times a second; `finish()` draws the final state.
 */
export function notebookProgress(
  display: UpdatableDisplay,
  options: { maxPerSecond?: number; curveMetric?: string } = {},
): ProgressListener {
  let live: ReturnType<typeof liveProgress> | undefined;
  const reused: string[] = [];
  const finished: string[] = [];
  const summaryHtml = () =>
    [...reused.map((r) => `<div style="font-family:monospace;color:#666">${r}</div>`), ...finished.map((f) => `<div style="font-family:monospace">${f}</div>`)].join("");
  const wrapping: UpdatableDisplay = { html: (s) => display.html(summaryHtml() + s) };
  const listener = ((e: ExperimentProgress) => {
    if (e.kind === "reused") {
      reused.push(`${e.experimentId} ${e.arm} seed ${e.seed}: reused (${formatMetrics(e.metrics)})`);
      display.html(summaryHtml());
      return;
    }
    if (e.kind === "start") {
      live = liveProgress(wrapping, { label: runLabel(e), maxPerSecond: options.maxPerSecond ?? 4, curveMetric: options.curveMetric ?? "loss" });
      return;
    }
    if (e.kind === "end") {
      live?.finish();
      finished.push(`${runLabel(e)}: ${formatMetrics(e.metrics)}`);
      live = undefined;
      display.html(summaryHtml());
      return;
    }
    live?.update({ done: e.step, total: e.totalSteps, metrics: e.metrics });
  }) as ProgressListener;
  listener.finish = () => live?.finish();
  return listener;
}
