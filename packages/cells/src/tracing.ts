/**
 * Gate tracing: an opt-in recorder of gate activations per (layer, gate) that streams into fixed-bin
 * histograms, so memory does not grow with the number of steps traced.
 *
 * Cost when off: none (cells test `prepared.tracer` before doing anything). When on, every record
 * reads the gate values back with dataSync, so tracing is evaluation-only; scan rejects a tracer in
 * training mode.
 */
import { Histogram, type HistogramJSON, type tf } from "@rnnlab/core";
import { checkOptions, checkInteger } from "./validate";

export interface GateTracerOptions {
  /** Bins per histogram over the gate's range; default 100. */
  bins?: number;
}

/** Range of each gate's values: sigmoid gates in [0, 1], the tanh candidate g in [−1, 1]. */
const GATE_RANGES: Record<string, [number, number]> = { g: [-1, 1] };

export class GateTracer {
  readonly bins: number;
  private readonly store = new Map<string, Map<string, Histogram>>();

  constructor(options: GateTracerOptions = {}) {
    checkOptions("GateTracer", options as Record<string, unknown>, ["bins"]);
    this.bins = options.bins ?? 100;
    checkInteger("GateTracer", "bins", this.bins, 1);
  }

  /** Record a gate tensor (any shape). Synchronous read-back: evaluation only. */
  record(layerName: string, gate: string, values: tf.Tensor): void {
    let layer = this.store.get(layerName);
    if (!layer) this.store.set(layerName, (layer = new Map()));
    let histogram = layer.get(gate);
    if (!histogram) {
      const [min, max] = GATE_RANGES[gate] ?? [0, 1];
      layer.set(gate, (histogram = new Histogram(min, max, this.bins)));
    }
    histogram.add(values.dataSync() as Float32Array);
  }

  histogram(layerName: string, gate: string): Histogram | undefined {
    return this.store.get(layerName)?.get(gate);
  }

  layers(): string[] {
    return [...this.store.keys()];
  }

  gates(layerName: string): string[] {
    return [...(this.store.get(layerName)?.keys() ?? [])];
  }

  clear(): void {
    this.store.clear();
  }

  toJSON(): Record<string, Record<string, HistogramJSON>> {
    const out: Record<string, Record<string, HistogramJSON>> = {};
    for (const [layerName, gates] of this.store) {
      out[layerName] = {};
      for (const [gate, h] of gates) out[layerName][gate] = h.toJSON();
    }
    return out;
  }
}
