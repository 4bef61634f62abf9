/**
 * The translation model's configuration (validation and defaults), its LSTM cells, its parameter tree and
 * initialisation, and padded time-major batches; the model itself is ./seq2seq.ts (which re-exports this).
 */
import { tf, type Rng } from "@rnnlab/core";
import { createCell, type DropoutConfig, type GateConfig, type LstmCell } from "@rnnlab/cells";

/** A sentence as token ids: a plain array or the Int32Array that @rnnlab/data's Vocabulary.encode returns. */
export type TokenIds = readonly number[] | Int32Array;

export interface TranslationModelConfig {
  sourceVocabularySize: number;
  targetVocabularySize: number;
  embeddingSize: number;
  hiddenSize: number;
  /** LSTM layers in the encoder and in the decoder (the bridge copies layer l to layer l). */
  layers: number;
  /** Luong's score function; default "general". */
  attentionScore?: "general" | "dot";
  /** Feed h̃_{t-1} into the decoder's first layer (Luong §3.3); default true. */
  inputFeeding?: boolean;
  /** Input/forget gate function; default plain sigmoid. */
  gate?: GateConfig;
  /** Which LSTM layers use `gate`; default "decoderFirst". */
  gateLayers?: "decoderFirst" | "all";
  /** Dropout on non-recurrent connections; default none. */
  dropout?: DropoutConfig;
  /** Forget-gate bias at initialisation (cells' default 1). */
  forgetBias?: number;
  /** Uniform init range for embeddings (OpenNMT's param_init); default 0.1. */
  embeddingInitRange?: number;
  /** Padding id (both sides), begin-of-sentence and end-of-sentence ids (target side). */
  padToken: number;
  beginToken: number;
  endToken: number;
}

export type ResolvedTranslationConfig = Readonly<Required<Omit<TranslationModelConfig, "gate" | "dropout">>> & {
  readonly gate: GateConfig;
  readonly dropout: DropoutConfig;
};

export type LstmLayerParams = { inputKernel: tf.Tensor2D; recurrentKernel: tf.Tensor2D; bias: tf.Tensor1D; contextKernel?: tf.Tensor2D };

/** A type alias (not an interface), so that it is a cells ParamTree and a tf.TensorContainer as it stands. */
export type TranslationParams = {
  sourceEmbedding: tf.Tensor2D;
  targetEmbedding: tf.Tensor2D;
  encoder: LstmLayerParams[];
  decoder: LstmLayerParams[];
  attention: { scoreKernel?: tf.Tensor2D; combineKernel: tf.Tensor2D };
  output: { kernel: tf.Tensor2D; bias: tf.Tensor1D };
};

const CONFIG_KEYS = [
  "sourceVocabularySize", "targetVocabularySize", "embeddingSize", "hiddenSize", "layers", "attentionScore",
  "inputFeeding", "gate", "gateLayers", "dropout", "forgetBias", "embeddingInitRange", "padToken", "beginToken", "endToken",
];

function positiveInteger(name: string, value: unknown): void {
  if (!Number.isInteger(value) || (value as number) < 1) throw new Error(`translation model option "${name}" must be a positive integer, got ${JSON.stringify(value)}`);
}

/** Validate a config (unknown keys are errors) and fill defaults. */
export function resolveTranslationConfig(config: TranslationModelConfig): ResolvedTranslationConfig {
  for (const key of Object.keys(config)) {
    if (!CONFIG_KEYS.includes(key)) throw new Error(`translation model: unknown option "${key}"; allowed: ${CONFIG_KEYS.join(", ")}`);
  }
  for (const key of ["sourceVocabularySize", "targetVocabularySize", "embeddingSize", "hiddenSize", "layers"] as const) positiveInteger(key, config[key]);
  for (const key of ["padToken", "beginToken", "endToken"] as const) {
    if (!Number.isInteger(config[key]) || config[key] < 0 || config[key] >= config.targetVocabularySize) {
      throw new Error(`translation model option "${key}" must be a token id in [0, targetVocabularySize=${config.targetVocabularySize}), got ${config[key]}`);
    }
  }
  const attentionScore = config.attentionScore ?? "general";
  if (attentionScore !== "general" && attentionScore !== "dot") throw new Error(`translation model option "attentionScore" must be "general" or "dot", got ${JSON.stringify(attentionScore)}`);
  const gateLayers = config.gateLayers ?? "decoderFirst";
  if (gateLayers !== "decoderFirst" && gateLayers !== "all") throw new Error(`translation model option "gateLayers" must be "decoderFirst" or "all", got ${JSON.stringify(gateLayers)}`);
  const resolved = {
    ...config,
    attentionScore,
    inputFeeding: config.inputFeeding ?? true,
    gate: config.gate ?? { kind: "sigmoid" },
    gateLayers,
    dropout: config.dropout ?? { kind: "none" },
    forgetBias: config.forgetBias ?? 1,
    embeddingInitRange: config.embeddingInitRange ?? 0.1,
  } as ResolvedTranslationConfig;
  // Building the cells validates gate and dropout configs with the cells' own messages.
  buildCells(resolved);
  return Object.freeze(resolved);
}

export interface TranslationCells {
  encoder: LstmCell[];
  decoder: LstmCell[];
}

/**
 * The LSTM cells. Encoder cells carry the input dropout (fused into their input projection); decoder cells
 * have none because the decoder applies dropout itself, step by step.
 */
export function buildCells(config: ResolvedTranslationConfig): TranslationCells {
  const { hiddenSize: H, embeddingSize: E, layers } = config;
  const sigmoid: GateConfig = { kind: "sigmoid" };
  const encoder: LstmCell[] = [];
  const decoder: LstmCell[] = [];
  for (let l = 0; l < layers; l++) {
    encoder.push(createCell(
      { kind: "lstm", forgetBias: config.forgetBias, gate: config.gateLayers === "all" ? config.gate : sigmoid },
      l === 0 ? E : H, H, { inputDropout: config.dropout },
    ));
    decoder.push(createCell(
      { kind: "lstm", forgetBias: config.forgetBias, gate: l === 0 || config.gateLayers === "all" ? config.gate : sigmoid },
      l === 0 ? E + (config.inputFeeding ? H : 0) : H, H,
    ));
  }
  return { encoder, decoder };
}

function uniform(shape: number[], range: number, rng: Rng): tf.Tensor {
  return tf.randomUniform(shape, -range, range, "float32", rng.tfSeed());
}

/** Fresh parameters; all randomness from `rng`. */
export function initTranslationParams(config: ResolvedTranslationConfig, rng: Rng): TranslationParams {
  const cells = buildCells(config);
  const { hiddenSize: H, embeddingSize: E } = config;
  const kernelRange = 1 / Math.sqrt(H); // PyTorch's nn.Linear / nn.LSTM range, as the cells use
  return tf.tidy(() => {
    const encoder: LstmLayerParams[] = cells.encoder.map((cell, l) => cell.init(rng.fork(`encoder.${l}`)));
    const decoder = cells.decoder.map((cell, l): LstmLayerParams => {
      const p = cell.init(rng.fork(`decoder.${l}`));
      if (l > 0 || !config.inputFeeding) return p;
      const [inputKernel, contextKernel] = tf.split(p.inputKernel, [E, H], 0) as tf.Tensor2D[]; // [E,4H], [H,4H]
      return { inputKernel, contextKernel, recurrentKernel: p.recurrentKernel, bias: p.bias };
    });
    const r = rng.fork("attention+output");
    const params: TranslationParams = {
      sourceEmbedding: uniform([config.sourceVocabularySize, E], config.embeddingInitRange, r) as tf.Tensor2D,
      targetEmbedding: uniform([config.targetVocabularySize, E], config.embeddingInitRange, r) as tf.Tensor2D,
      encoder,
      decoder,
      attention: {
        ...(config.attentionScore === "general" ? { scoreKernel: uniform([H, H], kernelRange, r) as tf.Tensor2D } : {}),
        combineKernel: uniform([2 * H, H], 1 / Math.sqrt(2 * H), r) as tf.Tensor2D,
      },
      output: { kernel: uniform([H, config.targetVocabularySize], kernelRange, r) as tf.Tensor2D, bias: tf.zeros([config.targetVocabularySize]) as tf.Tensor1D },
    };
    return params;
  });
}

/**
 * Dotted paths of the matrices whose i and f blocks the G2-LSTM NMT compression rounds / clips / factorises
 * (docs/papers/g2-lstm.md): every recurrent kernel U (encoder and decoder) and, with input feeding, the decoder's context
 * kernel. Input kernels W are not compressed (as in the G2 code). Pass them as `matrices` to metrics'
 * compressGateBlocks (gate blocks i, f in LSTM_GATES order).
 */
export function translationCompressionMatrices(config: ResolvedTranslationConfig): string[] {
  const paths: string[] = [];
  for (const side of ["encoder", "decoder"]) for (let l = 0; l < config.layers; l++) paths.push(`${side}.${l}.recurrentKernel`);
  if (config.inputFeeding) paths.push("decoder.0.contextKernel");
  return paths;
}

// ------------------------------------------------------------------------------------------- batches

/** One padded batch, time-major, as the model consumes it. */
export interface TranslationTensors {
  /** [S, B] int32 source ids, padded with padToken. */
  source: tf.Tensor2D;
  sourceLengths: number[];
  /** [T, B] int32: BOS y_1 .. y_n, padded. */
  targetInput: tf.Tensor2D;
  /** [T, B] int32: y_1 .. y_n EOS, padded. */
  targetOutput: tf.Tensor2D;
  /** [T, B] float32: 1 on real target tokens (EOS included), 0 on padding. */
  targetMask: tf.Tensor2D;
  /** Real target tokens per sentence (n + 1, EOS included). */
  targetLengths: number[];
}

/**
 * Pad token-id sentences into time-major tensors. `source[b]` and `target[b]` are id lists without BOS/EOS;
 * the target gets BOS prepended for the decoder input and EOS appended for the prediction target. A
 * sentence with an empty source is an error (the encoder would have no memory to attend to).
 */
export function padTranslationBatch(config: Pick<TranslationModelConfig, "padToken" | "beginToken" | "endToken">, source: readonly TokenIds[], target: readonly TokenIds[]): TranslationTensors {
  if (source.length !== target.length || source.length === 0) throw new Error(`padTranslationBatch: need as many targets as sources (>0), got ${source.length} sources and ${target.length} targets`);
  const B = source.length;
  source.forEach((s, b) => {
    if (s.length === 0) throw new Error(`padTranslationBatch: source sentence ${b} is empty; drop empty pairs before batching`);
  });
  const S = Math.max(...source.map((s) => s.length));
  const T = Math.max(...target.map((t) => t.length)) + 1;
  const src = new Int32Array(S * B).fill(config.padToken);
  const tin = new Int32Array(T * B).fill(config.padToken);
  const tout = new Int32Array(T * B).fill(config.padToken);
  const mask = new Float32Array(T * B);
  for (let b = 0; b < B; b++) {
    source[b].forEach((id, s) => (src[s * B + b] = id));
    const y = target[b];
    tin[b] = config.beginToken;
    for (let t = 0; t <= y.length; t++) {
      if (t < y.length) tin[(t + 1) * B + b] = y[t];
      tout[t * B + b] = t < y.length ? y[t] : config.endToken;
      mask[t * B + b] = 1;
    }
  }
  return {
    source: tf.tensor2d(src, [S, B], "int32"),
    sourceLengths: source.map((s) => s.length),
    targetInput: tf.tensor2d(tin, [T, B], "int32"),
    targetOutput: tf.tensor2d(tout, [T, B], "int32"),
    targetMask: tf.tensor2d(mask, [T, B]),
    targetLengths: target.map((t) => t.length + 1),
  };
}

export function disposeTranslationTensors(batch: TranslationTensors): void {
  batch.source.dispose();
  batch.targetInput.dispose();
  batch.targetOutput.dispose();
  batch.targetMask.dispose();
}

