/**
 * scan: the only time loop in rnnlab.
 *
 *   prepared = cell.prepare(params, context)             once per sequence (masks, dropped/orthogonal U, noise rng)
 *   P        = cell.project(params, xs, prepared)        all steps' input projections in one matMul, [T,B,G]
 *   for t in 0..T−1 (or T−1..0 when reverse):
 *     (s', y_t) = cell.step(params, s, P_t, prepared, t)
 *     s   = m_t ? s' : s                                  frozen past a sequence's length (m_t[b] = t < length[b])
 *     y_t = m_t ? y_t : 0
 *   return ys [T,B,outputSize] (input time order), s
 *
 * Memory: every step runs in its own tf.tidy, and the whole scan in one outer tidy, so only ys and the
 * final state survive; the caller owns them. Under tf.grads / tf.variableGrads the engine keeps its
 * own copies of whatever the backward pass needs, so the per-step tidies are safe there too.
 * Nothing here reads tensor values back (no dataSync) unless the caller attaches a gate tracer.
 */
import { tf } from "@rnnlab/core";
import type { Cell, ParamTree, ScanOptions, ScanResult, State, StepOutput } from "./types";
import { checkOptions } from "./validate";

const SCAN_OPTION_KEYS = ["training", "rng", "lengths", "reverse", "tracer", "layerName", "fused"];

export function checkScanInputs(where: string, cell: Cell<any, any, any>, xs: tf.Tensor, initialState: State, options: ScanOptions): void {
  checkOptions(where, options as Record<string, unknown>, SCAN_OPTION_KEYS);
  if (xs.rank !== 3) throw new Error(`${where}: xs must be [time, batch, features], got shape [${xs.shape}].`);
  const [steps, batch, features] = xs.shape;
  if (steps < 1) throw new Error(`${where}: xs has no time steps (shape [${xs.shape}]).`);
  if (features !== cell.inputSize) {
    throw new Error(`${where}: xs has ${features} features but the ${cell.kind} cell has inputSize ${cell.inputSize}.`);
  }
  if (initialState === null || typeof initialState !== "object") throw new Error(`${where}: initialState must be a named state object such as {h, c}.`);
  for (const [name, value] of Object.entries(initialState)) {
    if (value.rank !== 2 || value.shape[0] !== batch) {
      throw new Error(`${where}: initialState.${name} must be [batch=${batch}, n], got [${value.shape}].`);
    }
  }
  if (options.lengths !== undefined) {
    const lengths = options.lengths;
    if (lengths.length !== batch) throw new Error(`${where}: option "lengths" needs one length per batch entry (${batch}), got ${lengths.length}.`);
    for (let b = 0; b < batch; b++) {
      if (!Number.isInteger(lengths[b]) || lengths[b] < 0 || lengths[b] > steps) {
        throw new Error(`${where}: option "lengths"[${b}] must be an integer in [0, ${steps}], got ${lengths[b]}.`);
      }
    }
  }
  if (options.training && options.tracer) {
    throw new Error(`${where}: option "tracer" is evaluation-only (it reads gate values back with dataSync); remove it or set training: false.`);
  }
}

/** [batch, 1] float masks per step, or undefined for steps where every sequence is still running. */
function stepMasks(steps: number, lengths: ArrayLike<number> | undefined): (tf.Tensor2D | undefined)[] {
  const masks: (tf.Tensor2D | undefined)[] = new Array(steps).fill(undefined);
  if (!lengths) return masks;
  const batch = lengths.length;
  for (let t = 0; t < steps; t++) {
    let all = true;
    const m = new Float32Array(batch);
    for (let b = 0; b < batch; b++) {
      m[b] = t < lengths[b] ? 1 : 0;
      if (!m[b]) all = false;
    }
    if (!all) masks[t] = tf.tensor2d(m, [batch, 1]);
  }
  return masks;
}

/**
 * xs [T, B, F] -> T x [B, F]. TF.js 4.22's gradient of Unpack breaks for a single output (it calls
 * stack() on one tensor), so a one-step sequence is reshaped instead.
 */
export function unstackSteps(xs: tf.Tensor3D): tf.Tensor2D[] {
  if (xs.shape[0] === 1) return [tf.reshape(xs, [xs.shape[1], xs.shape[2]]) as tf.Tensor2D];
  return tf.unstack(xs) as tf.Tensor2D[];
}

/** state' where the mask is 1, state where it is 0 (per batch row), for every named entry. */
function freeze<S extends State>(next: S, previous: S, mask: tf.Tensor2D): S {
  const out: State = {};
  for (const name of Object.keys(next)) {
    const value = next[name];
    const condition = tf.cast(tf.broadcastTo(mask, value.shape), "bool"); // [batch, n]
    out[name] = tf.where(condition, value, previous[name]) as tf.Tensor2D;
  }
  return out as S;
}

export function scan<P extends ParamTree, S extends State, R>(
  cell: Cell<P, S, R>,
  params: P,
  xs: tf.Tensor3D,
  initialState: S,
  options: ScanOptions = {},
): ScanResult<S> {
  checkScanInputs("scan", cell, xs, initialState, options);
  const [steps, batch] = xs.shape;
  const training = options.training ?? false;
  const reverse = options.reverse ?? false;
  return tf.tidy(() => {
    const prepared = cell.prepare(params, {
      training,
      rng: options.rng,
      steps,
      batchSize: batch,
      tracer: options.tracer,
      layerName: options.layerName ?? "layer0",
    });
    const inputs = cell.project ? cell.project(params, xs, prepared) : xs; // [T, B, G]
    if (cell.sequence && options.fused !== false && !options.tracer) {
      // A reversed scan is the forward recurrence over the time-reversed sequence, outputs flipped back;
      // lengths become a mask in processing order (a reversed sequence starts at its last valid step).
      let mask: Float32Array | undefined;
      if (options.lengths) {
        const lengths = options.lengths;
        mask = new Float32Array(steps * batch);
        for (let k = 0; k < steps; k++) {
          const t = reverse ? steps - 1 - k : k;
          for (let b = 0; b < batch; b++) mask[k * batch + b] = t < lengths[b] ? 1 : 0;
        }
      }
      const fused = cell.sequence(params, reverse ? (tf.reverse(inputs, 0) as tf.Tensor3D) : inputs, initialState, prepared, mask);
      if (fused) return { ys: reverse ? (tf.reverse(fused.ys, 0) as tf.Tensor3D) : fused.ys, state: fused.state };
    }
    const rows = unstackSteps(inputs); // T x [B, G]
    const masks = stepMasks(steps, options.lengths);
    const ys: tf.Tensor2D[] = new Array(steps);
    const outputs = new Set<tf.Tensor>(); // y is often the state's own h: never dispose those
    let state = initialState;
    for (let k = 0; k < steps; k++) {
      const t = reverse ? steps - 1 - k : k;
      const previous = state;
      const out = tf.tidy((): StepOutput<S> => {
        const result = cell.step(params, previous, rows[t], prepared, t);
        const mask = masks[t];
        if (!mask) return result;
        return { state: freeze(result.state, previous, mask), y: tf.mul(result.y, mask) as tf.Tensor2D };
      });
      state = out.state;
      ys[t] = out.y;
      outputs.add(out.y);
      if (previous !== initialState) {
        // The previous step's state is no longer needed unless an entry was passed through unchanged
        // or is also an output.
        const kept = new Set(Object.values(state));
        for (const value of Object.values(previous)) if (!kept.has(value) && !outputs.has(value)) value.dispose();
      }
    }
    const stacked = tf.stack(ys) as tf.Tensor3D; // [T, B, outputSize]
    // Never hand back a caller's own tensor as "new" state (e.g. every length 0): copy it.
    const finalState: State = {};
    for (const [name, value] of Object.entries(state)) finalState[name] = Object.values(initialState).includes(value) ? tf.clone(value) : value;
    return { ys: stacked, state: finalState as S };
  });
}
