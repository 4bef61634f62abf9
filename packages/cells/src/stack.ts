/**
 * Composition of scans: stacked layers and bidirectional layers. Neither loops over time itself.
 *
 * Stack: layer l reads layer l−1's outputs. Dropout between layers is the upper layer's
 * `inputDropout` option, so structured dropout fuses into that layer's input projection.
 * Bidirectional: a forward scan and a reverse scan over the same input, outputs concatenated on the
 * feature axis ([T, B, H_forward + H_backward]). With `lengths`, the reverse scan of each sequence
 * starts at its last valid step (scan keeps the state frozen over the padding).
 */
import { tf } from "@rnnlab/core";
import type { Layer, ScanOptions, State } from "./types";
import { scan } from "./scan";
import { checkOptions } from "./validate";

export type StackScanOptions = Omit<ScanOptions, "layerName" | "reverse"> & {
  /** Tracer names are `${layerNamePrefix}${index}`; default "layer". */
  layerNamePrefix?: string;
};

export interface StackScanResult {
  /** The last layer's outputs, [T, B, H_last]. */
  ys: tf.Tensor3D;
  /** Final state per layer. */
  states: State[];
  /** Every layer's outputs (the last one is `ys` itself), for AR/TAR-style penalties. */
  layerOutputs: tf.Tensor3D[];
}

export function stackScan(layers: Layer<any, any, any>[], xs: tf.Tensor3D, initialStates: State[], options: StackScanOptions = {}): StackScanResult {
  checkOptions("stackScan", options as Record<string, unknown>, ["training", "rng", "lengths", "tracer", "layerNamePrefix", "fused"]);
  if (layers.length < 1) throw new Error("stackScan: need at least one layer.");
  if (initialStates.length !== layers.length) {
    throw new Error(`stackScan: need one initial state per layer (${layers.length}), got ${initialStates.length}.`);
  }
  for (let l = 1; l < layers.length; l++) {
    if (layers[l].cell.inputSize !== layers[l - 1].cell.outputSize) {
      throw new Error(`stackScan: layer ${l} has inputSize ${layers[l].cell.inputSize} but layer ${l - 1} outputs ${layers[l - 1].cell.outputSize}.`);
    }
  }
  const { layerNamePrefix = "layer", ...scanOptions } = options;
  const states: State[] = [];
  const layerOutputs: tf.Tensor3D[] = [];
  let input = xs;
  layers.forEach((layer, l) => {
    const out = scan(layer.cell, layer.params, input, initialStates[l], { ...scanOptions, layerName: `${layerNamePrefix}${l}` });
    states.push(out.state);
    layerOutputs.push(out.ys);
    input = out.ys;
  });
  return { ys: input, states, layerOutputs };
}

export interface BidirectionalResult {
  /** [T, B, H_forward + H_backward]. */
  ys: tf.Tensor3D;
  state: { forward: State; backward: State };
}

export function bidirectionalScan(
  forward: Layer<any, any, any>,
  backward: Layer<any, any, any>,
  xs: tf.Tensor3D,
  initialStates: { forward: State; backward: State },
  options: StackScanOptions = {},
): BidirectionalResult {
  checkOptions("bidirectionalScan", options as Record<string, unknown>, ["training", "rng", "lengths", "tracer", "layerNamePrefix", "fused"]);
  const { layerNamePrefix = "layer0", ...scanOptions } = options;
  const f = scan(forward.cell, forward.params, xs, initialStates.forward, { ...scanOptions, layerName: `${layerNamePrefix}.forward` });
  const b = scan(backward.cell, backward.params, xs, initialStates.backward, { ...scanOptions, reverse: true, layerName: `${layerNamePrefix}.backward` });
  const ys = tf.concat([f.ys, b.ys], 2) as tf.Tensor3D; // [T, B, Hf + Hb]
  f.ys.dispose();
  b.ys.dispose();
  return { ys, state: { forward: f.state, backward: b.state } };
}
