/**
 * Optimizers written over tf ops, with state that serializes exactly (tf.train optimizers keep their
 * slots in private, auto-named variables, which makes a bit-exact checkpoint awkward).
 *
 * Conventions follow PyTorch (the papers' code bases use it). With gradient g, parameter p, lr η:
 *   SGD:       v ← μ v + g;  d = g + μ v (Nesterov) or v (classic, or g when μ = 0);  p ← p − η d
 *   Adam:      m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²;  p ← p − η (m/(1−β1^t)) / (sqrt(v/(1−β2^t)) + ε)
 *   RMSprop:   s ← α s + (1−α) g²;  u = g / (sqrt(s) + ε);  b ← μ b + u (μ > 0) ;  p ← p − η (b or u)
 *              (DEVIATION from tf.train.rmsprop, which puts ε inside the sqrt: we follow torch.optim.RMSprop,
 *              the optimizer of the ATN code.)
 *   ASGD:      the SGD step, then the running average of the iterates since averaging started,
 *              a ← a + (p − a)/k (k = number of averaged steps; a = p at k = 1), exactly torch.optim.ASGD
 *              with t0 = 0, λ = 0 as AWD-LSTM uses it (Merity et al. 2017, "NT-ASGD").
 * Weight decay w (document which one a config uses):
 *   L2 ("coupled", decoupledWeightDecay=false, default): g ← g + w p before the update (torch's weight_decay;
 *     AWD-LSTM's 1.2e-6 is this kind).
 *   Decoupled (decoupledWeightDecay=true, Loshchilov & Hutter's AdamW): p ← p − η w p, applied before the
 *     update, independent of the gradient statistics.
 */
import { tf } from "@rnnlab/core";
import type { NamedTensors, NamedVariables } from "./params";
import { type SerializedTensor, serializeTensor, deserializeTensor, sameShape } from "./serialize";

interface WeightDecayOptions {
  /** Weight decay coefficient (default 0). */
  weightDecay?: number;
  /** true: decoupled (AdamW-style) decay; false (default): L2 added to the gradient. */
  decoupledWeightDecay?: boolean;
}

export interface SgdOptions extends WeightDecayOptions {
  kind: "sgd";
  momentum?: number;
  nesterov?: boolean;
}
export interface AdamOptions extends WeightDecayOptions {
  kind: "adam";
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}
export interface RmspropOptions extends WeightDecayOptions {
  kind: "rmsprop";
  /** Smoothing constant α of the squared-gradient average (torch default 0.99). */
  decay?: number;
  momentum?: number;
  epsilon?: number;
}
/** Averaged SGD: plain SGD whose iterates are averaged once `startAveraging()` is called (or from the start). */
export interface AsgdOptions extends WeightDecayOptions {
  kind: "asgd";
  /** Average from the first step (true), or only after startAveraging() (false, default: NT-ASGD). */
  averageFromStart?: boolean;
}
export type OptimizerOptions = SgdOptions | AdamOptions | RmspropOptions | AsgdOptions;

/** Serializable optimizer state: JSON metadata plus named Float32 tensors. */
export interface OptimizerState {
  meta: {
    kind: OptimizerOptions["kind"];
    options: OptimizerOptions;
    stepCount: number;
    averaging: { active: boolean; count: number };
  };
  tensors: Record<string, SerializedTensor>;
}

function checkNumber(name: string, value: number | undefined, lo: number, hi: number, fix: string): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isFinite(value) || value < lo || value > hi)
    throw new Error(`optimizer option ${name}=${value} is out of range [${lo}, ${hi}]: ${fix}`);
}

function validate(o: OptimizerOptions): void {
  const kinds = ["sgd", "adam", "rmsprop", "asgd"];
  if (!kinds.includes(o.kind)) throw new Error(`optimizer kind "${(o as { kind: string }).kind}" is unknown: use one of ${kinds.join(", ")}`);
  checkNumber("weightDecay", o.weightDecay, 0, 1, "use a small non-negative value like 1.2e-6");
  if (o.kind === "sgd") checkNumber("momentum", o.momentum, 0, 0.9999, "use a value in [0, 1)");
  if (o.kind === "sgd" && o.nesterov && !(o.momentum && o.momentum > 0))
    throw new Error("optimizer option nesterov=true needs momentum > 0: set momentum (e.g. 0.9) or nesterov=false");
  if (o.kind === "adam") {
    checkNumber("beta1", o.beta1, 0, 0.99999, "use a value in [0, 1) such as 0.9");
    checkNumber("beta2", o.beta2, 0, 0.9999999, "use a value in [0, 1) such as 0.999");
    checkNumber("epsilon", o.epsilon, 0, 1, "use a small positive value such as 1e-8");
  }
  if (o.kind === "rmsprop") {
    checkNumber("decay", o.decay, 0, 0.99999, "use a value in [0, 1) such as 0.99");
    checkNumber("momentum", o.momentum, 0, 0.9999, "use a value in [0, 1)");
  }
}

/**
 * One optimizer over a fixed set of named variables. `step(grads, lr)` updates the variables in place;
 * names absent from `grads` are left alone. Slots are created lazily with the variable's shape.
 */
export class Optimizer {
  readonly options: OptimizerOptions;
  private slots = new Map<string, tf.Variable>(); // "<slot>/<path>"
  private stepCount = 0;
  private averagingActive: boolean;
  private averageCount = 0;

  constructor(options: OptimizerOptions, readonly variables: NamedVariables) {
    validate(options);
    this.options = { ...options };
    this.averagingActive = options.kind === "asgd" && options.averageFromStart === true;
  }

  get kind(): OptimizerOptions["kind"] {
    return this.options.kind;
  }
  get steps(): number {
    return this.stepCount;
  }
  /** Whether iterate averaging (ASGD) is on. */
  get averaging(): boolean {
    return this.averagingActive;
  }

  /** NT-ASGD's switch: start averaging the iterates from the next step on. Only for kind "asgd". */
  startAveraging(): void {
    if (this.options.kind !== "asgd")
      throw new Error(`startAveraging() needs an optimizer of kind "asgd", this one is "${this.options.kind}": set optimizer.kind="asgd"`);
    this.averagingActive = true;
  }

  private slot(name: string, path: string, like: tf.Tensor): tf.Variable {
    const key = `${name}/${path}`;
    let s = this.slots.get(key);
    if (!s) {
      const zeros = tf.zerosLike(like);
      s = tf.variable(zeros, false);
      zeros.dispose();
      this.slots.set(key, s);
    }
    return s;
  }

  /** Apply one update with learning rate `learningRate`. */
  step(grads: NamedTensors, learningRate: number): void {
    if (!Number.isFinite(learningRate)) throw new Error(`optimizer step: learning rate is ${learningRate}; check the schedule`);
    this.stepCount++;
    const t = this.stepCount;
    const o = this.options;
    const wd = o.weightDecay ?? 0;
    const decoupled = o.decoupledWeightDecay === true;
    for (const [path, g0] of Object.entries(grads)) {
      const p = this.variables[path];
      if (!p) throw new Error(`optimizer step: gradient for unknown parameter "${path}"`);
      if (!sameShape(p.shape, g0.shape)) throw new Error(`optimizer step: gradient for "${path}" has shape [${g0.shape}], parameter has [${p.shape}]`);
      tf.tidy(() => {
        let pv: tf.Tensor = p;
        let g: tf.Tensor = g0;
        if (wd > 0 && decoupled) pv = pv.sub(pv.mul(learningRate * wd));
        else if (wd > 0) g = g.add(p.mul(wd));
        let update: tf.Tensor;
        switch (o.kind) {
          case "sgd": {
            const mu = o.momentum ?? 0;
            if (mu > 0) {
              const v = this.slot("momentum", path, p);
              // torch: the first step sets v = g (no μ·0 term matters since v starts at 0).
              const vNew = v.mul(mu).add(g);
              v.assign(vNew);
              update = o.nesterov ? g.add(vNew.mul(mu)) : vNew;
            } else update = g;
            break;
          }
          case "asgd":
            update = g;
            break;
          case "adam": {
            const b1 = o.beta1 ?? 0.9, b2 = o.beta2 ?? 0.999, eps = o.epsilon ?? 1e-8;
            const m = this.slot("m", path, p), v = this.slot("v", path, p);
            const mNew = m.mul(b1).add(g.mul(1 - b1));
            const vNew = v.mul(b2).add(g.square().mul(1 - b2));
            m.assign(mNew);
            v.assign(vNew);
            const mHat = mNew.div(1 - Math.pow(b1, t));
            const vHat = vNew.div(1 - Math.pow(b2, t));
            update = mHat.div(vHat.sqrt().add(eps));
            break;
          }
          case "rmsprop": {
            const alpha = o.decay ?? 0.99, eps = o.epsilon ?? 1e-8, mu = o.momentum ?? 0;
            const s = this.slot("square", path, p);
            const sNew = s.mul(alpha).add(g.square().mul(1 - alpha));
            s.assign(sNew);
            const u = g.div(sNew.sqrt().add(eps));
            if (mu > 0) {
              const b = this.slot("momentum", path, p);
              const bNew = b.mul(mu).add(u);
              b.assign(bNew);
              update = bNew;
            } else update = u;
            break;
          }
        }
        const pNew = pv.sub(update.mul(learningRate));
        p.assign(pNew);
      });
    }
    if (this.averagingActive) {
      this.averageCount++;
      const k = this.averageCount;
      for (const path of Object.keys(grads)) {
        const p = this.variables[path];
        const a = this.slot("average", path, p);
        tf.tidy(() => a.assign(k === 1 ? p.clone() : a.add(p.sub(a).div(k))));
      }
    }
  }

  /**
   * The averaged parameters (ASGD) as new tensors keyed by path, or undefined when not averaging.
   * Parameters never updated since averaging started are returned as their current value.
   */
  averagedParameters(): NamedTensors | undefined {
    if (!this.averagingActive || this.averageCount === 0) return undefined;
    const out: NamedTensors = {};
    for (const [path, p] of Object.entries(this.variables)) {
      const a = this.slots.get(`average/${path}`);
      out[path] = (a ?? p).clone();
    }
    return out;
  }

  exportState(): OptimizerState {
    const tensors: Record<string, SerializedTensor> = {};
    for (const [k, v] of this.slots) tensors[k] = serializeTensor(v);
    return {
      meta: {
        kind: this.options.kind,
        options: { ...this.options },
        stepCount: this.stepCount,
        averaging: { active: this.averagingActive, count: this.averageCount },
      },
      tensors,
    };
  }

  /** Restore a state from exportState(); the options must agree. */
  importState(state: OptimizerState): void {
    if (state.meta.kind !== this.options.kind)
      throw new Error(`optimizer state is for kind "${state.meta.kind}", this optimizer is "${this.options.kind}": resume with the same optimizer config`);
    for (const s of this.slots.values()) s.dispose();
    this.slots.clear();
    for (const [key, st] of Object.entries(state.tensors)) {
      const path = key.slice(key.indexOf("/") + 1);
      const p = this.variables[path];
      if (!p) throw new Error(`optimizer state has slot "${key}" for unknown parameter "${path}": the model differs from the checkpoint's`);
      if (!sameShape(p.shape, st.shape)) throw new Error(`optimizer state slot "${key}" has shape [${st.shape}], parameter has [${p.shape}]`);
      const t = deserializeTensor(st);
      this.slots.set(key, tf.variable(t, false));
      t.dispose();
    }
    this.stepCount = state.meta.stepCount;
    this.averagingActive = state.meta.averaging.active;
    this.averageCount = state.meta.averaging.count;
  }

  dispose(): void {
    for (const s of this.slots.values()) s.dispose();
    this.slots.clear();
  }
}

export function createOptimizer(options: OptimizerOptions, variables: NamedVariables): Optimizer {
  return new Optimizer(options, variables);
}

/**
 * AWD-LSTM's non-monotone trigger (Merity et al. 2017, NT-ASGD): after each validation, switch to
 * averaging when there are more than `nonmono` past evaluations and the new loss is worse than the best
 * of all evaluations except the last `nonmono`:  len(history) > n  and  loss > min(history[:-n]).
 * Explicit, serializable state.
 */
export interface NonMonotoneState {
  nonmono: number;
  history: number[];
  triggered: boolean;
  /** Evaluation index at which it triggered, or -1. */
  triggeredAt: number;
}

export function nonMonotoneInitial(nonmono: number): NonMonotoneState {
  if (!Number.isInteger(nonmono) || nonmono < 1) throw new Error(`nonmono=${nonmono} must be a positive integer (AWD-LSTM uses 5)`);
  return { nonmono, history: [], triggered: false, triggeredAt: -1 };
}

/** Record a validation loss; returns the new state (`triggered` turns true on the evaluation that fires). */
export function nonMonotoneObserve(state: NonMonotoneState, validationLoss: number): NonMonotoneState {
  const h = state.history;
  const n = state.nonmono;
  let triggered = state.triggered;
  let triggeredAt = state.triggeredAt;
  if (!triggered && h.length > n && validationLoss > Math.min(...h.slice(0, h.length - n))) {
    triggered = true;
    triggeredAt = h.length;
  }
  return { nonmono: n, history: [...h, validationLoss], triggered, triggeredAt };
}

/**
 * Run `fn` with `replacement` values in the variables (e.g. ASGD's averaged weights for evaluation), then
 * restore the originals, even if `fn` throws.
 */
export async function withParameters<T>(variables: NamedVariables, replacement: NamedTensors | undefined, fn: () => T | Promise<T>): Promise<T> {
  if (!replacement) return fn();
  const saved: NamedTensors = {};
  for (const [path, value] of Object.entries(replacement)) {
    const v = variables[path];
    if (!v) continue;
    saved[path] = v.clone();
    v.assign(value);
  }
  try {
    return await fn();
  } finally {
    for (const [path, value] of Object.entries(saved)) {
      variables[path].assign(value);
      value.dispose();
    }
  }
}

/**
 * Clip gradients by their global L2 norm (torch.nn.utils.clip_grad_norm_): when the norm exceeds
 * `maxNorm`, every gradient is scaled by maxNorm / (norm + 1e-6). Returns new tensors (the inputs are not
 * disposed) and the norm before clipping. maxNorm <= 0 or Infinity disables clipping (still measures).
 */
export function clipByGlobalNorm(grads: NamedTensors, maxNorm: number): { grads: NamedTensors; norm: number } {
  const entries = Object.entries(grads);
  if (entries.length === 0) return { grads: {}, norm: 0 };
  const norm = globalNorm(grads);
  const clip = maxNorm > 0 && Number.isFinite(maxNorm) && norm > maxNorm;
  const scale = clip ? maxNorm / (norm + 1e-6) : 1;
  const out: NamedTensors = {};
  for (const [k, g] of entries) out[k] = clip ? tf.tidy(() => g.mul(scale)) : g.clone();
  return { grads: out, norm };
}

/**
 * clipByGlobalNorm without reading anything back: the clip decision and scale are computed on the device,
 * and the norm before clipping is returned as a scalar tensor (caller disposes it), to be read together
 * with the step's loss in one `await tf.stack([loss, norm]).data()`. This is what a trainer should use
 * on the webgpu backend, where a read waits for the GPU (and synchronous reads do not work in Node).
 */
export function clipByGlobalNormOnDevice(grads: NamedTensors, maxNorm: number): { grads: NamedTensors; norm: tf.Scalar } {
  const entries = Object.entries(grads);
  if (entries.length === 0) return { grads: {}, norm: tf.scalar(0) };
  const norm = globalNormTensor(grads);
  const out: NamedTensors = {};
  if (!(maxNorm > 0 && Number.isFinite(maxNorm))) {
    for (const [k, g] of entries) out[k] = g.clone();
    return { grads: out, norm };
  }
  const scale = tf.tidy(() => tf.where(tf.greater(norm, maxNorm), tf.div(maxNorm, tf.add(norm, 1e-6)), tf.scalar(1))); // scalar
  for (const [k, g] of entries) out[k] = tf.mul(g, scale);
  scale.dispose();
  return { grads: out, norm };
}

/** Global L2 norm of a set of gradients, as a scalar tensor (nothing is read back). */
export function globalNormTensor(grads: NamedTensors): tf.Scalar {
  const list = Object.values(grads);
  if (list.length === 0) return tf.scalar(0);
  // Added in order, one pair at a time, not with tf.addN: webgpu's AddN binds every input at once and fails
  // ("Invalid ComputePipeline AddNPackedProgram") beyond the device's storage-buffer limit (8 on many).
  return tf.tidy(() => tf.sqrt(list.map((g) => tf.sum(tf.square(g))).reduce((a, b) => tf.add(a, b))) as tf.Scalar);
}

/** Global L2 norm of a set of gradients, as a number. */
export function globalNorm(grads: NamedTensors): number {
  const list = Object.values(grads);
  if (list.length === 0) return 0;
  const t = globalNormTensor(grads);
  const n = t.dataSync()[0];
  t.dispose();
  return n;
}
