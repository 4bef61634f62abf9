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

/** Logistic noise as in the G2-LSTM code: log(U + 1e-3) − log(1 + 1e-3 − U). */
export function logisticNoise(shape: number[], seed: number): tf.Tensor {
  return tf.tidy(() => {
    const u = tf.randomUniform(shape, 0, 1, "float32", seed);
    return tf.sub(tf.log(tf.add(u, 1e-3)), tf.log(tf.sub(1 + 1e-3, u)));
  });
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
      const p = config.noiseProbability ?? 0.2;
      const noise = logisticNoise(preActivation.shape, rng.tfSeed()); // [batch, H]
      const selected = tf.cast(tf.less(tf.randomUniform(preActivation.shape, 0, 1, "float32", rng.tfSeed()), p), "float32");
      return tf.sigmoid(tf.div(tf.add(preActivation, tf.mul(selected, noise)), config.temperature)) as tf.Tensor2D;
    }
  }
}
