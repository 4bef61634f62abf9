/**
 * The cell contract (see ../README.md). Everything in @rnnlab/cells is built on these types.
 *
 * A cell is a plain object of pure functions. Parameters live outside the cell (a tree of tensors the
 * trainer owns and differentiates), state is a named record of [batch, n] tensors, and per-sequence
 * constants (dropout masks, a weight-dropped recurrent matrix, noise streams) come from `prepare`.
 * `scan` (./scan.ts) is the only time loop.
 */
import type { tf, Rng } from "@rnnlab/core";
import type { GateTracer } from "./tracing";

export type Tensor = tf.Tensor;
export type Tensor1D = tf.Tensor1D;
export type Tensor2D = tf.Tensor2D;
export type Tensor3D = tf.Tensor3D;

/**
 * A tree of parameter tensors (or tf.Variables). Names are fixed per cell; see each cell file. Lists of
 * subtrees (e.g. a model's `layers: [{...}, {...}]`) let a whole model's parameters be one tree.
 */
export type ParamTree = { [name: string]: tf.Tensor | ParamTree | ParamTree[] };

/**
 * Named recurrent state. Every entry is 2-D with the batch first: [batch, n]. scan freezes every
 * entry past a sequence's length, so extra entries (e.g. the ATN window) are masked for free.
 */
export type State = { [name: string]: tf.Tensor2D };

/** What `prepare` sees: one call per sequence (per scan call). */
export interface CellContext {
  /** Training mode: dropout and Gumbel noise are active only when true. */
  training: boolean;
  /** Source of every random draw (masks, indices, TF random-op seeds). Required when training with any stochastic option. */
  rng?: Rng;
  /** Number of time steps in this sequence (T of xs). */
  steps: number;
  batchSize: number;
  /** Optional gate recorder (evaluation only; it reads values back with dataSync). */
  tracer?: GateTracer;
  /** Name used by the tracer, e.g. "layer0". */
  layerName: string;
}

/** A type alias (not an interface) so that it is a tf.TensorContainer: `tf.tidy` can return it as is. */
export type StepOutput<S extends State = State> = {
  state: S;
  /** The step's output, [batch, outputSize] (h for LSTM/GRU). */
  y: tf.Tensor2D;
};

export interface Cell<P extends ParamTree = ParamTree, S extends State = State, R = unknown> {
  /** Update-rule name, e.g. "lstm", "gru", "nc-gru". */
  readonly kind: string;
  readonly inputSize: number;
  readonly hiddenSize: number;
  /** Width of y. */
  readonly outputSize: number;
  /** The validated, frozen options the cell was built from. */
  readonly options: Readonly<Record<string, unknown>>;
  /** Fresh parameters. All randomness from rng. */
  init(rng: Rng): P;
  /** Zero state for a batch. */
  initialState(batchSize: number): S;
  /** Per-sequence constants. Called by scan inside its tidy, so tensors made here are disposed by scan. */
  prepare(params: P, context: CellContext): R;
  /**
   * Input projection for all steps at once, [time, batch, inputSize] -> [time, batch, projectedSize].
   * When present, scan passes the projected row for step t as `x` to `step`.
   */
  project?(params: P, xs: tf.Tensor3D, prepared: R): tf.Tensor3D;
  /** One time step. `x` is [batch, inputSize], or [batch, projectedSize] when `project` exists. `t` is the time index of x. */
  step(params: P, state: S, x: tf.Tensor2D, prepared: R, t: number): StepOutput<S>;
  /**
   * Optional fused recurrence over a whole (projected) sequence, equal to running `step` for t = 0..T-1
   * (same equations, same random draws in the same order, same gradients; a test holds each equal), but
   * with a hand-written backward pass, and native kernels where the backend has them. scan uses it
   * when it can (no tracer, `fused` not false); it returns undefined for configurations it does not
   * cover, and scan then steps. `mask` [T·B] (time-major, in processing order) is 0 where a sequence has
   * ended (scan's `lengths`): the row's state freezes and its output is 0.
   */
  sequence?(params: P, projected: tf.Tensor3D, state: S, prepared: R, mask?: Float32Array): { ys: tf.Tensor3D; state: S } | undefined;
}

/** A cell together with its parameters: what stack/bidirectional compose. */
export interface Layer<P extends ParamTree = ParamTree, S extends State = State, R = unknown> {
  cell: Cell<P, S, R>;
  params: P;
}

export interface ScanOptions {
  /** Default false (evaluation). */
  training?: boolean;
  /** Required when training with dropout / Gumbel gates. */
  rng?: Rng;
  /**
   * Per-sequence lengths (batch entries). Past its length a sequence's state is frozen and its
   * outputs are zero. Also correct for reverse scans: a reversed sequence starts at its last valid step.
   */
  lengths?: ArrayLike<number>;
  /** Run from the last step to the first. Outputs keep the input's time order. */
  reverse?: boolean;
  /** Use the cell's fused `sequence` when it has one (default true); false always steps (the readable reference). */
  fused?: boolean;
  /** Gate recorder (evaluation only). */
  tracer?: GateTracer;
  /** Name for the tracer; default "layer0". */
  layerName?: string;
}

export interface ScanResult<S extends State = State> {
  /** [time, batch, outputSize], in input time order. */
  ys: tf.Tensor3D;
  /** State after the last processed step (per sequence: after its last valid step). */
  state: S;
}
