/**
 * LSTM encoder-decoder with global attention (Luong, Pham & Manning, EMNLP 2015, "Effective Approaches
 * to Attention-based Neural Machine Translation"), the translation model of the G2-LSTM NMT experiments
 * (docs/papers/g2-lstm.md) and of the structured-dropout MT runs (docs/papers/structured-dropout.md).
 *
 *   encoder      h̄_1..h̄_S = stacked LSTM over source embeddings (padding positions frozen by scan lengths)
 *   bridge       decoder layer l starts from the encoder's final (h, c) of layer l
 *   decoder      x_t = [E y_{t-1}; h̃_{t-1}] (input feeding, Luong §3.3; h̃_0 = 0) or E y_{t-1}
 *                h_t = stacked LSTM(x_t)
 *   score        general: score(h_t, h̄_s) = h_tᵀ W_a h̄_s      dot: h_tᵀ h̄_s
 *   alignment    a_t(s) = softmax_s(score(h_t, h̄_s)), with padded source positions excluded (score −∞)
 *   context      c_t = Σ_s a_t(s) h̄_s
 *   attentional  h̃_t = tanh(W_c [c_t; h_t])                   (Luong eq. 5)
 *   output       p(y_t | y_<t, x) = softmax(W_s h̃_t + b_s)     (eq. 6)
 *   loss         Σ over real target tokens of −log p(y_t), divided by the number of real target tokens
 *                (padding contributes neither to the sum nor to the count).
 *
 * Parameter tree (dotted paths are what optimizers, checkpoints and compression specs name):
 *   sourceEmbedding [Vs, E]          targetEmbedding [Vt, E]
 *   encoder.<l>.{inputKernel [I,4H], recurrentKernel [H,4H], bias [4H]}      (cells' LSTM convention, gates i,f,g,o)
 *   decoder.<l>.{inputKernel, recurrentKernel, bias}
 *   decoder.0.contextKernel [H, 4H]  (only with input feeding) the rows of the first decoder layer's input
 *                                    kernel that read h̃_{t-1}: the attention context feeding the gates, i.e.
 *                                    the analogue of the "attention-context matrix Wc" whose i and f blocks the
 *                                    G2-LSTM NMT code compresses (its dl4mt decoder feeds c_t into the gates).
 *   attention.scoreKernel [H, H]     W_aᵀ (general score only): key_s = h̄_s · scoreKernel
 *   attention.combineKernel [2H, H]  Luong's W_c (no bias), rows ordered [context; h]
 *   output.{kernel [H, Vt], bias [Vt]}
 * `translationCompressionMatrices(config)` lists the gate-structured matrices (recurrent kernels and the
 * context kernel) for the G2 compression table.
 *
 * Dropout (non-recurrent connections only, Zaremba style; `dropout` config from cells: elementwise,
 * locked, structured): on every LSTM layer's input (embeddings for layer 0, the layer below otherwise; for
 * the decoder's first layer the input-fed h̃ too) and on h̃ before the output layer. Encoder layers and the
 * output layer use cells' fused forms (structured dropout shrinks the matMul). DEVIATION: in the decoder's
 * step-by-step loop structured dropout is applied as a [1, F] keep mask (the same values as the gathered
 * x[:, K_t]·W[K_t,:]/(1−p), without the smaller matMul), because the decoder's input is produced one step
 * at a time by input feeding.
 *
 * Gates: `gate` (cells' GateConfig: sigmoid, sharpened, gumbel) applies to the input and forget gates of
 * the decoder's first layer (`gateLayers: "decoderFirst"`, default) or of every LSTM layer (`"all"`).
 * A GateTracer passed to evaluation records every LSTM layer under "encoder.layer<l>" / "decoder.layer<l>"
 * (translation.ts traceTranslationGates batches sentences of equal lengths so no padding is recorded).
 */
import { tf, type Rng } from "@rnnlab/core";
import {
  stackScan,
  scan,
  denseSequence,
  dropout,
  lockedDropoutMask,
  structuredKeepIndices,
  type Cell,
  type CellContext,
  type DropoutConfig,
  type GateTracer,
  type Layer,
  type LstmPrepared,
  type State,
} from "@rnnlab/cells";
import { maskedCrossEntropy, maskedTokenLosses } from "./seq2seq-loss";
import { buildCells, padTranslationBatch, disposeTranslationTensors, type LstmLayerParams, type ResolvedTranslationConfig, type TokenIds, type TranslationParams, type TranslationTensors } from "./seq2seq-config";

export * from "./seq2seq-config";

// ------------------------------------------------------------------------------------------- attention

/** Encoder output prepared for attention (a type alias, so tf.tidy can return it). */
export type AttentionMemory = {
  /** h̄_s, [B, S, H]. */
  values: tf.Tensor3D;
  /** h̄_s · W_aᵀ (general) or h̄_s (dot), [B, S, H]. */
  keys: tf.Tensor3D;
  /** 0 on real source positions, −1e9 on padding, [B, S]. */
  maskBias: tf.Tensor2D;
};

export function makeAttentionMemory(params: TranslationParams, encoderOutputs: tf.Tensor3D, sourceLengths: readonly number[]): AttentionMemory {
  return tf.tidy(() => {
    const [S, B, H] = encoderOutputs.shape;
    const values = tf.transpose(encoderOutputs, [1, 0, 2]) as tf.Tensor3D; // [B, S, H]
    const keys = params.attention.scoreKernel
      ? (tf.reshape(tf.matMul(tf.reshape(values, [B * S, H]), params.attention.scoreKernel), [B, S, H]) as tf.Tensor3D) // [B, S, H]
      : values;
    const bias = new Float32Array(B * S);
    for (let b = 0; b < B; b++) for (let s = sourceLengths[b]; s < S; s++) bias[b * S + s] = -1e9;
    return { values, keys, maskBias: tf.tensor2d(bias, [B, S]) };
  });
}

/** Global attention for queries h_t [B, H]: alignment weights [B, S] and context c_t [B, H]. */
export function attend(memory: AttentionMemory, query: tf.Tensor2D): { weights: tf.Tensor2D; context: tf.Tensor2D } {
  return tf.tidy(() => {
    const scores = tf.squeeze(tf.matMul(memory.keys, tf.expandDims(query, 2)), [2]) as tf.Tensor2D; // [B, S]
    // Padded positions get −1e9 added: exp underflows to exactly 0, so they receive no weight.
    const weights = tf.softmax(tf.add(scores, memory.maskBias)) as tf.Tensor2D; // [B, S]
    const context = tf.squeeze(tf.matMul(tf.expandDims(weights, 1), memory.values), [1]) as tf.Tensor2D; // [B, H]
    return { weights, context };
  });
}

// ------------------------------------------------------------------------------------------- model pieces

interface DecoderPrepared {
  /** Per decoder layer: the kernels the LSTM cell sees (first layer: [inputKernel; contextKernel]) and its prepared constants. */
  layers: { params: LstmLayerParams; prepared: LstmPrepared }[];
  training: boolean;
  rng?: Rng;
  /** Locked-dropout masks per layer input (locked dropout only). */
  lockedMasks: (tf.Tensor | undefined)[];
}

/**
 * Dropout on one decoder step's input [B, F] (the decoder produces its input one step at a time): cells'
 * elementwise dropout, the sequence's locked mask (cells' lockedDropoutMask, drawn in prepare), or
 * structured dropout as a [1, F] keep mask over cells' structuredKeepIndices (see the header: cells'
 * structured forms are fused into the following matMul).
 */
function stepDropout(x: tf.Tensor2D, config: DropoutConfig, prepared: DecoderPrepared, lockedMask: tf.Tensor | undefined): tf.Tensor2D {
  if (!prepared.training || config.kind === "none") return x;
  const rng = prepared.rng!;
  const features = x.shape[1];
  switch (config.kind) {
    case "elementwise":
      return dropout(x, config.rate, rng);
    case "locked":
      return tf.mul(x, lockedMask!) as tf.Tensor2D;
    case "structured": {
      const mask = new Float32Array(features);
      for (const j of structuredKeepIndices(features, config.rate, rng)) mask[j] = 1 / (1 - config.rate);
      return tf.mul(x, tf.tensor2d(mask, [1, features])) as tf.Tensor2D;
    }
  }
}

/**
 * The attentional decoder as a cell (cells' contract), bound to one batch's attention memory: the input is
 * the embedding of y_{t-1}, the output y is h̃_t, the state is {h<l>, c<l>} per layer plus feed = h̃_{t-1}. scan runs it for teacher forcing; greedy and beam search
 * call `prepare` once and `step` per emitted token.
 */
export function createAttentionDecoderCell(config: ResolvedTranslationConfig, memory: AttentionMemory): Cell<TranslationParams, State, DecoderPrepared> {
  const cells = buildCells(config).decoder;
  const H = config.hiddenSize;
  const L = config.layers;
  const layerInputSize = (l: number) => (l === 0 ? config.embeddingSize + (config.inputFeeding ? H : 0) : H);
  return {
    kind: "attention-decoder",
    inputSize: config.embeddingSize,
    hiddenSize: H,
    outputSize: H,
    options: Object.freeze({ ...config }),
    init: () => {
      throw new Error("createAttentionDecoderCell: parameters come from initTranslationParams");
    },
    initialState(batchSize: number): State {
      const s: State = {};
      for (let l = 0; l < L; l++) {
        s[`h${l}`] = tf.zeros([batchSize, H]);
        s[`c${l}`] = tf.zeros([batchSize, H]);
      }
      s.feed = tf.zeros([batchSize, H]);
      return s;
    },
    prepare(params, context: CellContext): DecoderPrepared {
      const rng = context.training ? context.rng?.fork("decoder") : undefined;
      if (context.training && config.dropout.kind !== "none" && !rng) throw new Error("translation decoder: training with dropout needs options.rng");
      const layers = cells.map((cell, l) => {
        const p = params.decoder[l];
        const layerParams = p.contextKernel
          ? { inputKernel: tf.concat([p.inputKernel, p.contextKernel], 0), recurrentKernel: p.recurrentKernel, bias: p.bias } // [E+H, 4H]
          : { inputKernel: p.inputKernel, recurrentKernel: p.recurrentKernel, bias: p.bias };
        const prepared = cell.prepare(layerParams, {
          ...context,
          rng: rng?.fork(`layer${l}`),
          layerName: `decoder.layer${l}`,
        });
        return { params: layerParams, prepared };
      });
      const lockedMasks = cells.map((_, l) =>
        context.training && config.dropout.kind === "locked" ? lockedDropoutMask([context.batchSize, layerInputSize(l)], config.dropout.rate, rng!) : undefined,
      );
      return { layers, training: context.training, rng, lockedMasks };
    },
    step(params, state, x, prepared, t) {
      const lockedMasks = prepared.lockedMasks;
      const next: State = {};
      let input: tf.Tensor2D = config.inputFeeding ? (tf.concat([x, state.feed], 1) as tf.Tensor2D) : x; // [B, E(+H)]
      cells.forEach((cell, l) => {
        const layer = prepared.layers[l];
        const dropped = stepDropout(input, config.dropout, prepared, lockedMasks[l]);
        const projected = cell.project
          ? (tf.squeeze(cell.project(layer.params, tf.expandDims(dropped, 0) as tf.Tensor3D, layer.prepared), [0]) as tf.Tensor2D) // [B, 4H]
          : dropped;
        const out = cell.step(layer.params, { h: state[`h${l}`], c: state[`c${l}`] }, projected, layer.prepared, t);
        next[`h${l}`] = out.state.h;
        next[`c${l}`] = out.state.c;
        input = out.y;
      });
      const { context } = attend(memory, input);
      const attentional = tf.tanh(tf.matMul(tf.concat([context, input], 1), params.attention.combineKernel)) as tf.Tensor2D; // [B, H]
      next.feed = attentional;
      return { state: next, y: attentional };
    },
  };
}

export type EncodeResult = {
  memory: AttentionMemory;
  /** Decoder initial state: the encoder's final (h, c) per layer, h̃_0 = 0. */
  decoderState: State;
};

/** Run the encoder over a padded source batch [S, B]. */
export function encodeSource(
  config: ResolvedTranslationConfig,
  params: TranslationParams,
  source: tf.Tensor2D,
  sourceLengths: readonly number[],
  options: { training?: boolean; rng?: Rng; tracer?: GateTracer } = {},
): EncodeResult {
  const cells = buildCells(config).encoder;
  return tf.tidy((): EncodeResult => {
    const [S, B] = source.shape;
    const embedded = tf.reshape(tf.gather(params.sourceEmbedding, tf.reshape(source, [S * B])), [S, B, config.embeddingSize]) as tf.Tensor3D; // [S, B, E]
    const layers: Layer[] = cells.map((cell, l) => ({ cell, params: params.encoder[l] }));
    const initial = cells.map((cell) => cell.initialState(B));
    const result = stackScan(layers, embedded, initial, {
      training: options.training ?? false,
      rng: options.rng?.fork("encoder"),
      lengths: sourceLengths,
      tracer: options.tracer,
      layerNamePrefix: "encoder.layer",
    });
    const memory = makeAttentionMemory(params, result.ys, sourceLengths);
    const decoderState: State = {};
    result.states.forEach((s, l) => {
      decoderState[`h${l}`] = s.h;
      decoderState[`c${l}`] = s.c;
    });
    decoderState.feed = tf.zeros([B, config.hiddenSize]);
    return { memory, decoderState };
  });
}

export function disposeEncodeResult(r: EncodeResult): void {
  const seen = new Set<number>();
  for (const t of [r.memory.values, r.memory.keys, r.memory.maskBias, ...Object.values(r.decoderState)]) {
    if (!seen.has(t.id)) t.dispose();
    seen.add(t.id);
  }
}

/**
 * Teacher-forced forward pass: logits [T, B, Vt] for every target position. Everything is created inside
 * the caller's scope (call it inside tf.tidy / a gradient function).
 */
export function translationLogits(
  config: ResolvedTranslationConfig,
  params: TranslationParams,
  batch: TranslationTensors,
  options: { training?: boolean; rng?: Rng; tracer?: GateTracer } = {},
): tf.Tensor3D {
  const training = options.training ?? false;
  if (training && options.tracer) throw new Error("translation model: a gate tracer is evaluation-only; pass tracer only with training=false");
  const encoded = encodeSource(config, params, batch.source, batch.sourceLengths, options);
  const [T, B] = batch.targetInput.shape;
  const embedded = tf.reshape(tf.gather(params.targetEmbedding, tf.reshape(batch.targetInput, [T * B])), [T, B, config.embeddingSize]) as tf.Tensor3D; // [T, B, E]
  const cell = createAttentionDecoderCell(config, encoded.memory);
  const decoded = scan(cell, params, embedded, encoded.decoderState, {
    training,
    rng: options.rng,
    lengths: batch.targetLengths,
    tracer: options.tracer,
    layerName: "decoder",
  });
  return denseSequence(decoded.ys, params.output.kernel, params.output.bias, {
    dropout: config.dropout,
    training,
    rng: training ? options.rng?.fork("output") : undefined,
  }); // [T, B, Vt]
}

/** Mean cross-entropy per real target token (scalar), for training and evaluation. */
export function translationLoss(
  config: ResolvedTranslationConfig,
  params: TranslationParams,
  batch: TranslationTensors,
  options: { training?: boolean; rng?: Rng; tracer?: GateTracer } = {},
): tf.Scalar {
  return tf.tidy(() => {
    const logits = translationLogits(config, params, batch, options);
    const [T, B, V] = logits.shape;
    return maskedCrossEntropy(tf.reshape(logits, [T * B, V]), tf.reshape(batch.targetOutput, [T * B]), tf.reshape(batch.targetMask, [T * B])).mean;
  });
}

/**
 * Per-sentence log-probability of the given targets (EOS included), evaluation mode: log P(y | x) as
 * beam search scores it. Returns plain numbers.
 */
export function scoreTranslations(
  config: ResolvedTranslationConfig,
  params: TranslationParams,
  source: readonly TokenIds[],
  target: readonly TokenIds[],
): number[] {
  const batch = padTranslationBatch(config, source, target);
  try {
    const perSentence = tf.tidy(() => {
      const logits = translationLogits(config, params, batch);
      const [T, B, V] = logits.shape;
      const perToken = maskedTokenLosses(tf.reshape(logits, [T * B, V]) as tf.Tensor2D, tf.reshape(batch.targetOutput, [T * B]) as tf.Tensor1D, tf.reshape(batch.targetMask, [T * B]) as tf.Tensor1D);
      return tf.neg(tf.sum(tf.reshape(perToken, [T, B]), 0)); // [B]
    });
    const values = Array.from(perSentence.dataSync());
    perSentence.dispose();
    return values;
  } finally {
    disposeTranslationTensors(batch);
  }
}
