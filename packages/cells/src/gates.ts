/**
 * Gate order (written down once) and gate functions.
 *
 * LSTM gate order is PyTorch's: i, f, g, o. GRU: r, z, n. `splitGates` is the one function that cuts
 * a fused [batch, k·H] pre-activation into its gate blocks.
 *
 * Gate functions for the LSTM input and forget gates (G2-LSTM, Li et al. ICML 2018, docs/papers/g2-lstm.md):
 *   sigmoid     σ(a)
 *   sharpened   σ(a/τ)                       (training and evaluation; code `divide_temp`)
 *   gumbel      training:   σ((a + B·N)/τ),  B ~ Bernoulli(p) per entry, N = log(U+1e-3) − log(1+1e-3−U), U ~ U(0,1)
 *               evaluation: σ(a)  (no noise, no temperature), or 1[a ≥ 0] with evaluation: "hard"
 *               (U and the selection are drawn on the host from the run's Rng: `gumbelNoise`)
 * The output gate o and the candidate g are never changed.
 */
import { tf, type Rng } from "@rnnlab/core";
import { checkFinite, checkKind, checkOptions, checkPositive } from "./validate";

export const LSTM_GATES = ["i", "f", "g", "o"] as const;
export const GRU_GATES = ["r", "z", "n"] as const;
export type LstmGate = (typeof LSTM_GATES)[number];
export type GruGate = (typeof GRU_GATES)[number];

/** Split [batch, gateCount·H] into gateCount tensors [batch, H], in column-block order. */
export function splitGates(fused: tf.Tensor2D, gateCount: number): tf.Tensor2D[] {
  return tf.split(fused, gateCount, 1) as tf.Tensor2D[]; // gateCount x [batch, H]
}

export type GateConfig =
  | { kind: "sigmoid" }
  | { kind: "sharpened"; temperature: number }
  | { kind: "gumbel"; temperature: number; noiseProbability?: number; evaluation?: "sigmoid" | "hard" };

export const GATE_KINDS = ["sigmoid", "sharpened", "gumbel"] as const;

/** Validate and fill defaults. */
export function resolveGateConfig(where: string, config: GateConfig | undefined): GateConfig {
  if (config === undefined) return { kind: "sigmoid" };
  const kind = checkKind(where, "gate", config, GATE_KINDS);
  if (kind === "sigmoid") {
    checkOptions(`${where} gate`, config, ["kind"]);
    return { kind };
  }
  if (kind === "sharpened") {
    checkOptions(`${where} gate (sharpened)`, config, ["kind", "temperature"]);
    const c = config as { temperature: number };
    checkPositive(`${where} gate`, "temperature", c.temperature);
    return { kind, temperature: c.temperature };
  }
  checkOptions(`${where} gate (gumbel)`, config, ["kind", "temperature", "noiseProbability", "evaluation"]);
  const c = config as { temperature: number; noiseProbability?: number; evaluation?: string };
  checkPositive(`${where} gate`, "temperature", c.temperature);
  const noiseProbability = c.noiseProbability ?? 0.2;
  checkFinite(`${where} gate`, "noiseProbability", noiseProbability);
  if (noiseProbability < 0 || noiseProbability > 1) {
    throw new Error(`${where} gate: option "noiseProbability" must be in [0, 1], got ${noiseProbability}.`);
  }
  const evaluation = c.evaluation ?? "sigmoid";
  if (evaluation !== "sigmoid" && evaluation !== "hard") {
    throw new Error(`${where} gate: option "evaluation" must be "sigmoid" or "hard", got ${JSON.stringify(evaluation)}.`);
  }
  return { kind, temperature: c.temperature, noiseProbability, evaluation };
}

/**
 * The fast LSTM path's view of a gate config: the i/f temperatures (lstmRecurrence's scales), whether
 * the caller must add Gumbel noise (training), or undefined when the fast path cannot express it
 * (Gumbel's "hard" evaluation).
 */
export function fastGateScales(config: GateConfig | undefined, training: boolean): { inputScale: number; forgetScale: number; noise: boolean } | undefined {
  if (!config || config.kind === "sigmoid") return { inputScale: 1, forgetScale: 1, noise: false };
  if (config.kind === "sharpened") return { inputScale: 1 / config.temperature, forgetScale: 1 / config.temperature, noise: false };
  if (!training) return config.evaluation === "hard" ? undefined : { inputScale: 1, forgetScale: 1, noise: false };
  return { inputScale: 1 / config.temperature, forgetScale: 1 / config.temperature, noise: true };
}

/**
 * One gate's Gumbel noise B·N for a [batch, hidden] block, drawn on the host from `rng` (uniforms for N,
 * then uniforms for the selection B ~ Bernoulli(p)), written into `out` at `offset` with row stride
 * `stride` (so a caller can fill a block of a wider fused tensor). One host pass instead of a dozen
 * small TF.js ops per step and gate.
 */
function fillGumbelNoise(out: Float32Array, offset: number, stride: number, batch: number, hidden: number, p: number, rng: Rng): void {
  const u = rng.fillUniform(new Float32Array(batch * hidden));
  const selection = rng.fillUniform(new Float32Array(batch * hidden));
  for (let b = 0; b < batch; b++)
    for (let j = 0; j < hidden; j++) {
      const k = b * hidden + j;
      out[offset + b * stride + j] = selection[k] < p ? Math.log(u[k] + 1e-3) - Math.log(1 + 1e-3 - u[k]) : 0;
    }
}

/** The Gumbel noise B·N of one gate, [batch, hidden] (the readable path's per-step draw). */
export function gumbelNoise(config: GateConfig & { kind: "gumbel" }, batch: number, hidden: number, rng: Rng): tf.Tensor2D {
  const out = new Float32Array(batch * hidden);
  fillGumbelNoise(out, 0, hidden, batch, hidden, config.noiseProbability ?? 0.2, rng);
  return tf.tensor2d(out, [batch, hidden]);
}

/**
 * Gumbel gate noise for a whole sequence, laid out like the fused LSTM pre-activation [T, B, 4H]:
 * B·N in the i and f blocks, zeros in g and o. The draws are `gumbelNoise`'s in the readable path's
 * order (per step: the i gate, then the f gate), so the fast path and the readable path see identical noise.
 */
export function gumbelGateNoise(config: GateConfig, steps: number, batch: number, hidden: number, rng: Rng): tf.Tensor3D {
  if (config.kind !== "gumbel") throw new Error(`gumbelGateNoise: gate kind is "${config.kind}", not "gumbel".`);
  const p = config.noiseProbability ?? 0.2;
  const out = new Float32Array(steps * batch * 4 * hidden);
  for (let t = 0; t < steps; t++) {
    const base = t * batch * 4 * hidden;
    fillGumbelNoise(out, base, 4 * hidden, batch, hidden, p, rng); // i block
    fillGumbelNoise(out, base + hidden, 4 * hidden, batch, hidden, p, rng); // f block
  }
  return tf.tensor3d(out, [steps, batch, 4 * hidden]);
}

/**
 * Apply the configured gate function to an input- or forget-gate pre-activation.
 * `rng` is only used for the Gumbel gate in training (two TF random-op seeds per call).
 */
export function controlGate(config: GateConfig, preActivation: tf.Tensor2D, training: boolean, rng: Rng | undefined): tf.Tensor2D {
  switch (config.kind) {
    case "sigmoid":
      return tf.sigmoid(preActivation);
    case "sharpened":
      return tf.sigmoid(tf.div(preActivation, config.temperature)) as tf.Tensor2D;
    case "gumbel": {
      if (!training) {
        if (config.evaluation === "hard") return tf.cast(tf.greaterEqual(preActivation, 0), "float32") as tf.Tensor2D;
        return tf.sigmoid(preActivation);
      }
      if (!rng) throw new Error("Gumbel gate in training needs an Rng: pass options.rng to scan.");
      const [batch, hidden] = preActivation.shape;
      const noise = gumbelNoise(config, batch, hidden, rng); // [batch, H] = B·N
      return tf.sigmoid(tf.div(tf.add(preActivation, noise), config.temperature)) as tf.Tensor2D;
    }
  }
}
