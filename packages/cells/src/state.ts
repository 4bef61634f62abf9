/**
 * State helpers for truncated BPTT: carry the values of a segment's final state into the next segment
 * with the gradient cut, and dispose states explicitly.
 */
import { tf } from "@rnnlab/core";
import type { State } from "./types";

const stopGradientOp = tf.customGrad((...inputs) => {
  const x = inputs[0] as tf.Tensor;
  return { value: tf.clone(x), gradFunc: (dy: tf.Tensor | tf.Tensor[]) => tf.zerosLike(dy as tf.Tensor) };
});

/** A stop-gradient (tfjs has none): identity forward, zero gradient backward. */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  return stopGradientOp(x) as T;
}

/**
 * A copy of `state` that no gradient flows through, marked tf.keep so it survives the tidy of the
 * tf.variableGrads call (or tidy) it was made in. The caller owns it: dispose it with disposeState
 * once the next segment has used it.
 */
export function detachState<S extends State>(state: S): S {
  const out: State = {};
  for (const [name, value] of Object.entries(state)) out[name] = tf.keep(stopGradient(value));
  return out as S;
}

export function disposeState(state: State | State[] | undefined): void {
  if (!state) return;
  for (const s of Array.isArray(state) ? state : [state]) for (const value of Object.values(s)) value.dispose();
}

/**
 * An LSTM/ATN state with the ATN window emptied (counter and sums zeroed), h and c kept: what a
 * trainer passes at the start of a new BPTT segment so the window resets per sequence. Entries other
 * than atn* are returned as they are (not copied).
 */
export function resetWindow<S extends State>(state: S): S {
  const out: State = {};
  for (const [name, value] of Object.entries(state)) out[name] = name.startsWith("atn") ? tf.zerosLike(value) : value;
  return out as S;
}
