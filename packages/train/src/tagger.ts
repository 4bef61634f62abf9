/**
 * BiLSTM sequence tagger (NER), the CoNLL-2003 model family of the structured-dropout paper (docs/papers/structured-dropout.md):
 *
 *   x_t       = [E w_t ; K casing(w_t)]                      word embeddings (+ optional casing-class embeddings)
 *   h_t       = [→h_t ; ←h_t]                                 stacked bidirectional LSTM (layer l reads layer l−1's [→h;←h])
 *   e_t       = W h_t + b                                    tag scores
 *   output    = softmax(e_t) per token (default), or a linear-chain CRF over e_1..e_n (`crf: true`, ./tagger-crf.ts)
 *   loss      = Σ over real tokens of −log p(y_t | w), or Σ_sentences CRF NLL; divided by the number of real tokens
 *   metric    = CoNLL span F1 (conlleval, @rnnlab/metrics spanF1) over predicted argmax tags
 *
 * Dropout (cells' DropoutConfig: elementwise, locked, structured) on non-recurrent connections: every LSTM
 * layer's input (the embeddings for layer 0; fused into the input projection, so structured dropout shrinks
 * the matMul) and the BiLSTM output before the softmax layer.
 * DEVIATION: no character-level encoder (the paper's tagger was probably a BiLSTM(-CRF) with character
 * features [R]); the CRF is optional and off by default (softmax decoding is one argmax). The optional casing
 * feature (Collobert et al. 2011's "caps" feature, `wordCasing`) is the cheap stand-in for character
 * features: it restores the capitalisation a lowercased word vocabulary loses.
 *
 * Parameter tree: embedding [V, E]; casingEmbedding [CASING_CLASSES, K] (when casingEmbeddingSize K > 0); layers.<l>.forward / layers.<l>.backward = LSTM params
 * {inputKernel [I,4H], recurrentKernel [H,4H], bias [4H]} (I = E + K for l = 0, else 2H); output.kernel [2H, C],
 * output.bias [C]; with `crf`, crf.{transitions [C, C], start [C], end [C]}.
 */
import { tf, Rng } from "@rnnlab/core";
import { CASING_CLASSES, padTaggingBatch, disposeTaggingTensors, type TaggedIds, type TaggingTensors, type UntaggedIds } from "./tagger-data";
import { createCell, bidirectionalScan, denseSequence, type DropoutConfig, type GateConfig, type GateTracer, type LstmCell } from "@rnnlab/cells";
import { spanF1, type SpanF1Result, type TaggingScheme } from "@rnnlab/metrics";
import { maskedCrossEntropy } from "./seq2seq-loss";
import { initCrfParams, crfNegativeLogLikelihood, crfViterbi, type CrfParams } from "./tagger-crf";
import { createVariables, type VariableSet } from "./params";
import { runEpochTraining, type EpochTrainingOptions, type EpochTrainingResult } from "./seq2seq-training";

export * from "./tagger-data";

export interface TaggerModelConfig {
  vocabularySize: number;
  tagCount: number;
  embeddingSize: number;
  /** Hidden units per direction. */
  hiddenSize: number;
  /** Bidirectional layers; default 1. */
  layers?: number;
  /** Dropout on non-recurrent connections; default none. */
  dropout?: DropoutConfig;
  /** Input/forget gate function of every LSTM; default sigmoid. */
  gate?: GateConfig;
  forgetBias?: number;
  /** Uniform init range of the embeddings; default 0.1. */
  embeddingInitRange?: number;
  /** Linear-chain CRF output layer instead of per-token softmax; default false. */
  crf?: boolean;
  /** Width K of the casing-class embedding concatenated to the word embedding; default 0 (off). */
  casingEmbeddingSize?: number;
  /** Word id used for padding. */
  padToken: number;
}

export type ResolvedTaggerConfig = Readonly<Required<Omit<TaggerModelConfig, "dropout" | "gate">>> & {
  readonly dropout: DropoutConfig;
  readonly gate: GateConfig;
};

type LstmLayerParams = { inputKernel: tf.Tensor2D; recurrentKernel: tf.Tensor2D; bias: tf.Tensor1D };

/** A type alias (not an interface), so that it is a ParamTree and a tf.TensorContainer as it stands. */
export type TaggerParams = {
  embedding: tf.Tensor2D;
  casingEmbedding?: tf.Tensor2D;
  layers: { forward: LstmLayerParams; backward: LstmLayerParams }[];
  output: { kernel: tf.Tensor2D; bias: tf.Tensor1D };
  crf?: CrfParams;
};

const TAGGER_KEYS = ["vocabularySize", "tagCount", "embeddingSize", "hiddenSize", "layers", "dropout", "gate", "forgetBias", "embeddingInitRange", "casingEmbeddingSize", "crf", "padToken"];

export function resolveTaggerConfig(config: TaggerModelConfig): ResolvedTaggerConfig {
  for (const key of Object.keys(config)) {
    if (!TAGGER_KEYS.includes(key)) throw new Error(`tagger model: unknown option "${key}"; allowed: ${TAGGER_KEYS.join(", ")}`);
  }
  const resolved = {
    ...config,
    layers: config.layers ?? 1,
    dropout: config.dropout ?? { kind: "none" },
    gate: config.gate ?? { kind: "sigmoid" },
    forgetBias: config.forgetBias ?? 1,
    embeddingInitRange: config.embeddingInitRange ?? 0.1,
    casingEmbeddingSize: config.casingEmbeddingSize ?? 0,
    crf: config.crf ?? false,
  } as ResolvedTaggerConfig;
  if (typeof resolved.crf !== "boolean") throw new Error(`tagger model option "crf" must be true or false, got ${JSON.stringify(resolved.crf)}`);
  if (!Number.isInteger(resolved.casingEmbeddingSize) || resolved.casingEmbeddingSize < 0) {
    throw new Error(`tagger model option "casingEmbeddingSize" must be an integer >= 0 (0 = off), got ${JSON.stringify(resolved.casingEmbeddingSize)}`);
  }
  for (const key of ["vocabularySize", "tagCount", "embeddingSize", "hiddenSize", "layers"] as const) {
    if (!Number.isInteger(resolved[key]) || resolved[key] < 1) throw new Error(`tagger model option "${key}" must be a positive integer, got ${JSON.stringify(resolved[key])}`);
  }
  if (!Number.isInteger(resolved.padToken) || resolved.padToken < 0 || resolved.padToken >= resolved.vocabularySize) {
    throw new Error(`tagger model option "padToken" must be a word id in [0, vocabularySize=${resolved.vocabularySize}), got ${resolved.padToken}`);
  }
  taggerCells(resolved); // validates gate and dropout with the cells' messages
  return Object.freeze(resolved);
}

function taggerCells(config: ResolvedTaggerConfig): { forward: LstmCell; backward: LstmCell }[] {
  return Array.from({ length: config.layers }, (_, l) => {
    const inputSize = l === 0 ? config.embeddingSize + config.casingEmbeddingSize : 2 * config.hiddenSize;
    const make = () => createCell({ kind: "lstm", forgetBias: config.forgetBias, gate: config.gate }, inputSize, config.hiddenSize, { inputDropout: config.dropout });
    return { forward: make(), backward: make() };
  });
}

export function initTaggerParams(config: ResolvedTaggerConfig, rng: Rng): TaggerParams {
  const cells = taggerCells(config);
  const H2 = 2 * config.hiddenSize;
  return tf.tidy(() => {
    const r = rng.fork("embedding+output");
    const params: TaggerParams = {
      embedding: tf.randomUniform([config.vocabularySize, config.embeddingSize], -config.embeddingInitRange, config.embeddingInitRange, "float32", r.tfSeed()),
      ...(config.casingEmbeddingSize > 0
        ? { casingEmbedding: tf.randomUniform([CASING_CLASSES, config.casingEmbeddingSize], -config.embeddingInitRange, config.embeddingInitRange, "float32", r.fork("casing").tfSeed()) as tf.Tensor2D }
        : {}),
      layers: cells.map((c, l) => ({
        forward: c.forward.init(rng.fork(`layers.${l}.forward`)),
        backward: c.backward.init(rng.fork(`layers.${l}.backward`)),
      })),
      output: {
        kernel: tf.randomUniform([H2, config.tagCount], -1 / Math.sqrt(H2), 1 / Math.sqrt(H2), "float32", r.tfSeed()),
        bias: tf.zeros([config.tagCount]),
      },
      ...(config.crf ? { crf: initCrfParams(config.tagCount) } : {}),
    };
    return params;
  });
}

/** Tag logits [T, B, C]. Create inside the caller's scope (tidy / gradient function). */
export function taggerLogits(
  config: ResolvedTaggerConfig,
  params: TaggerParams,
  batch: Pick<TaggingTensors, "words" | "lengths" | "casing">,
  options: { training?: boolean; rng?: Rng; tracer?: GateTracer } = {},
): tf.Tensor3D {
  const training = options.training ?? false;
  if (training && options.tracer) throw new Error("tagger: a gate tracer is evaluation-only; pass tracer only with training=false");
  const cells = taggerCells(config);
  const { words, lengths } = batch;
  const [T, B] = words.shape;
  let xs = tf.reshape(tf.gather(params.embedding, tf.reshape(words, [T * B])), [T, B, config.embeddingSize]) as tf.Tensor3D; // [T, B, E]
  if (config.casingEmbeddingSize > 0) {
    if (!batch.casing || !params.casingEmbedding) throw new Error("tagger: the model has casingEmbeddingSize > 0 but the data has no casing classes; fill TaggedIds.casing (taggedIdsFromSentences does)");
    const casing = tf.reshape(tf.gather(params.casingEmbedding, tf.reshape(batch.casing, [T * B])), [T, B, config.casingEmbeddingSize]); // [T, B, K]
    xs = tf.concat([xs, casing], 2) as tf.Tensor3D; // [T, B, E + K]
  }
  cells.forEach((c, l) => {
    const out = bidirectionalScan(
      { cell: c.forward, params: params.layers[l].forward },
      { cell: c.backward, params: params.layers[l].backward },
      xs,
      { forward: c.forward.initialState(B), backward: c.backward.initialState(B) },
      { training, rng: training ? options.rng?.fork(`layer${l}`) : undefined, lengths, tracer: options.tracer, layerNamePrefix: `layer${l}` },
    );
    xs = out.ys; // [T, B, 2H]
  });
  return denseSequence(xs, params.output.kernel, params.output.bias, {
    dropout: config.dropout,
    training,
    rng: training ? options.rng?.fork("output") : undefined,
  }); // [T, B, C]
}

/** Mean cross-entropy per real token (scalar). */
export function taggerLoss(
  config: ResolvedTaggerConfig,
  params: TaggerParams,
  batch: TaggingTensors,
  options: { training?: boolean; rng?: Rng; tracer?: GateTracer } = {},
): tf.Scalar {
  return tf.tidy(() => {
    const logits = taggerLogits(config, params, batch, options);
    if (config.crf) {
      if (!params.crf) throw new Error("tagger: the model config has crf: true but the parameters have no crf entry; initialise them with initTaggerParams");
      const tokens = batch.lengths.reduce((a, b) => a + b, 0);
      return tf.div(crfNegativeLogLikelihood(params.crf, logits, batch.tags, batch.lengths), tokens) as tf.Scalar;
    }
    const [T, B, C] = logits.shape;
    return maskedCrossEntropy(tf.reshape(logits, [T * B, C]) as tf.Tensor2D, tf.reshape(batch.tags, [T * B]) as tf.Tensor1D, tf.reshape(batch.mask, [T * B]) as tf.Tensor1D).mean;
  });
}

/** Best tag ids per sentence (unpadded): per-token argmax, or the Viterbi path with a CRF. */
export function predictTags(config: ResolvedTaggerConfig, params: TaggerParams, data: UntaggedIds, options: { batchSize?: number; tracer?: GateTracer } = {}): number[][] {
  const batchSize = options.batchSize ?? 64;
  const out: number[][] = [];
  for (let start = 0; start < data.words.length; start += batchSize) {
    const chunk = data.words.slice(start, start + batchSize);
    const batch = padTaggingBatch(config, chunk, chunk.map((s) => new Array<number>(s.length).fill(0)), data.casing?.slice(start, start + batchSize));
    const B = chunk.length;
    if (config.crf) {
      const emissions = tf.tidy(() => taggerLogits(config, params, batch, { tracer: options.tracer })); // [T, B, C]
      out.push(...crfViterbi(params.crf!, emissions, batch.lengths));
      emissions.dispose();
      disposeTaggingTensors(batch);
      continue;
    }
    const best = tf.tidy(() => tf.argMax(taggerLogits(config, params, batch, { tracer: options.tracer }), 2)); // [T, B]
    const values = best.dataSync();
    best.dispose();
    disposeTaggingTensors(batch);
    chunk.forEach((s, b) => out.push(Array.from({ length: s.length }, (_, t) => values[t * B + b])));
  }
  return out;
}

export interface TaggerEvaluation {
  loss: number;
  /** conlleval span F1 (percent) and friends. */
  spans: SpanF1Result;
  f1: number;
}

/**
 * Loss and CoNLL span F1 of a parameter tree on a data set (evaluation mode; pass a modified copy of the
 * parameters to measure its effect). `tagNames[id]` is the tag string (e.g. "B-PER").
 */
export function evaluateTagger(
  config: ResolvedTaggerConfig,
  params: TaggerParams,
  data: TaggedIds,
  tagNames: readonly string[],
  options: { batchSize?: number; scheme?: TaggingScheme; tracer?: GateTracer } = {},
): TaggerEvaluation {
  if (tagNames.length !== config.tagCount) throw new Error(`evaluateTagger: ${tagNames.length} tag names for tagCount=${config.tagCount}; pass one name per tag id`);
  const batchSize = options.batchSize ?? 64;
  let total = 0;
  let tokens = 0;
  for (let start = 0; start < data.words.length; start += batchSize) {
    const batch = padTaggingBatch(config, data.words.slice(start, start + batchSize), data.tags.slice(start, start + batchSize), data.casing?.slice(start, start + batchSize));
    const loss = taggerLoss(config, params, batch, { tracer: options.tracer });
    const n = batch.lengths.reduce((a, b) => a + b, 0);
    total += loss.dataSync()[0] * n;
    tokens += n;
    loss.dispose();
    disposeTaggingTensors(batch);
  }
  const predicted = predictTags(config, params, data, { batchSize });
  // A predicted id whose name is no tag of the scheme (e.g. @rnnlab/data's "<pad>" at id 0) counts as "O".
  const isTag = (name: string) => name === "O" || /^[BIES]-./.test(name);
  const spans = spanF1(
    data.tags.map((s) => Array.from(s, (id) => tagNames[id])),
    predicted.map((s) => s.map((id) => (isTag(tagNames[id]) ? tagNames[id] : "O"))),
    options.scheme ?? "IOB2",
  );
  return { loss: total / tokens, spans, f1: spans.overall.f1 };
}

export interface TaggerTrainingOptions extends EpochTrainingOptions {
  model: TaggerModelConfig;
  train: TaggedIds;
  valid?: TaggedIds;
  /** Tag id -> name, for span F1. */
  tagNames: readonly string[];
  /** Tagging scheme of tagNames; default IOB2. */
  scheme?: TaggingScheme;
}

export interface TaggerTrainingResult extends EpochTrainingResult {
  config: ResolvedTaggerConfig;
  /** The trained variables as a tree; the caller disposes them with `variables.dispose()`. */
  params: TaggerParams;
  variables: VariableSet;
}

/**
 * Train the tagger; validation reports loss, span F1 / precision / recall and token accuracy. With
 * `modelSelection` "best-valid" (default) the returned variables are those of the best validation span F1
 * (`selection` says which epoch).
 */
export async function trainTagger(options: TaggerTrainingOptions): Promise<TaggerTrainingResult> {
  const config = resolveTaggerConfig(options.model);
  for (const [name, data] of [["train", options.train], ["valid", options.valid]] as const) {
    if (data && (data.words.length !== data.tags.length || data.words.length === 0)) throw new Error(`trainTagger: ${name} needs as many tag sequences as sentences (>0)`);
  }
  if (options.tagNames.length !== config.tagCount) throw new Error(`trainTagger: ${options.tagNames.length} tagNames for model.tagCount=${config.tagCount}; pass one name per tag id`);
  const initial = initTaggerParams(config, new Rng(options.seed).fork("init"));
  const variables = createVariables(initial, { scope: "tagger" });
  tf.dispose(initial);
  const params = variables.tree;
  const { valid } = options;
  try {
    const run = await runEpochTraining<TaggingTensors>(
      {
        kind: "tagger",
        variables,
        lengths: options.train.words.map((w) => w.length),
        makeBatch: (indices) => {
          const { words, tags, casing } = options.train;
          return padTaggingBatch(config, indices.map((i) => words[i]), indices.map((i) => tags[i]), casing ? indices.map((i) => casing[i]) : undefined);
        },
        disposeBatch: disposeTaggingTensors,
        tokens: (batch) => batch.lengths.reduce((a, b) => a + b, 0),
        loss: (batch, rng) => taggerLoss(config, params, batch, { training: true, rng }),
        evaluate: valid
          ? () => {
              const v = evaluateTagger(config, params, valid, options.tagNames, { scheme: options.scheme });
              return { metrics: { loss: v.loss, f1: v.f1, precision: v.spans.overall.precision, recall: v.spans.overall.recall, tokenAccuracy: v.spans.tokenAccuracy } };
            }
          : undefined,
        selectBy: { metric: "f1", higherIsBetter: true },
        config,
      },
      options,
    );
    return { ...run, config, params, variables };
  } catch (e) {
    variables.dispose();
    throw e;
  }
}
