/**
 * G2-LSTM's gate map (docs/papers/g2-lstm.md; the paper's per-word gate illustration): the average input-gate and
 * forget-gate value of one LSTM layer at each position of a few example sentences, from the trained
 * parameters with evaluation gates (plain σ for G2-LSTM). Average = mean over the layer's hidden units.
 *
 *   gateMean_t(g) = (1/H) Σ_j g_t[j],   g ∈ {i, f},  t = 1 … sentence length
 *
 * Language model: each sentence is read on its own from a zero state; position t's gates are those
 * computed when reading word t. Translation: teacher-forced decoding; position t's decoder gates are
 * those computed when reading the t-th decoder input (the start symbol, then the reference words).
 */
import { tf } from "@rnnlab/core";
import { GateTracer, type State } from "@rnnlab/cells";
import {
  disposeTranslationTensors,
  padTranslationBatch,
  translationLoss,
  type LanguageModel,
  type LanguageModelParams,
  type ResolvedTranslationConfig,
  type TranslationParams,
} from "@rnnlab/train";

/** One sentence of the map: the words at each position and the layer's mean gate values there. */
export interface GateMapSentence {
  words: string[];
  /** Mean input-gate value per position (same length as `words`). */
  input: number[];
  /** Mean forget-gate value per position. */
  forget: number[];
}

export interface GateMap {
  /** Tracer layer name, e.g. "layer0" (LM) or "decoder.layer0" (translation). */
  layer: string;
  sentences: GateMapSentence[];
}

/**
 * A tracer that keeps, instead of a histogram, the mean over hidden units of every recorded [batch, H]
 * gate tensor of one layer, per batch row, in call order (one call = one time step).
 */
export class PositionGateMeans extends GateTracer {
  /** means[gate][call][row]. */
  readonly means: Record<string, number[][]> = {};

  constructor(readonly layer: string) {
    super({ bins: 1 });
  }

  override record(layerName: string, gate: string, values: tf.Tensor): void {
    if (layerName !== this.layer || (gate !== "i" && gate !== "f")) return;
    const [rows, width] = values.shape.length === 2 ? (values.shape as [number, number]) : [1, values.size];
    const data = values.dataSync();
    const out: number[] = [];
    for (let r = 0; r < rows; r++) {
      let sum = 0;
      for (let j = 0; j < width; j++) sum += data[r * width + j];
      out.push(sum / width);
    }
    (this.means[gate] ??= []).push(out);
  }

  /** Row `row`'s mean gate values over the recorded calls. */
  series(gate: "i" | "f", row = 0): number[] {
    return (this.means[gate] ?? []).map((call) => call[row]);
  }
}

/** Round for compact JSON (gate means are in [0, 1]). */
function rounded(values: number[]): number[] {
  return values.map((v) => Math.round(v * 1e4) / 1e4);
}

/**
 * Per-word mean input/forget gates of LM layer `layer` (default "layer0") for each sentence (token ids),
 * read one sentence at a time from a zero state, without dropout.
 */
export function languageModelGateMap(
  model: LanguageModel,
  params: LanguageModelParams,
  sentences: readonly (readonly number[])[],
  vocabulary: readonly string[],
  layer = "layer0",
): GateMap {
  const out: GateMapSentence[] = [];
  for (const [k, sentence] of sentences.entries()) {
    if (sentence.length === 0) throw new Error(`languageModelGateMap: sentence ${k} is empty`);
    const tracer = new PositionGateMeans(layer);
    const states: State[] = model.initialStates(1);
    try {
      tf.tidy(() => {
        const inputs = tf.tensor2d(Int32Array.from(sentence), [sentence.length, 1], "int32"); // [T, 1]
        // Targets only feed the loss, which is discarded; the next word (or the same at the end) is fine.
        const targets = tf.tensor2d(Int32Array.from(sentence.map((_, t) => sentence[Math.min(t + 1, sentence.length - 1)])), [sentence.length, 1], "int32");
        model.forward(params, inputs, targets, states, { training: false, tracer });
      });
    } finally {
      for (const s of states) tf.dispose(Object.values(s));
    }
    const input = tracer.series("i");
    const forget = tracer.series("f");
    if (input.length !== sentence.length) {
      throw new Error(`languageModelGateMap: traced ${input.length} steps of layer "${layer}" for a ${sentence.length}-word sentence; is "${layer}" an LSTM layer name?`);
    }
    out.push({ words: sentence.map((id) => vocabulary[id] ?? `#${id}`), input: rounded(input), forget: rounded(forget) });
  }
  return { layer, sentences: out };
}

/**
 * Per-position mean input/forget gates of the translation decoder's layer `layer` (default
 * "decoder.layer0"), teacher-forced on each (source, target) pair; the words are the decoder inputs
 * (start symbol, then the reference words).
 */
export function translationGateMap(
  config: ResolvedTranslationConfig,
  params: TranslationParams,
  pairs: readonly { source: readonly number[]; target: readonly number[] }[],
  targetVocabulary: readonly string[],
  layer = "decoder.layer0",
): GateMap {
  const out: GateMapSentence[] = [];
  for (const pair of pairs) {
    const tracer = new PositionGateMeans(layer);
    const batch = padTranslationBatch(config, [Int32Array.from(pair.source)], [Int32Array.from(pair.target)]);
    try {
      tf.dispose(translationLoss(config, params, batch, { tracer }));
    } finally {
      disposeTranslationTensors(batch);
    }
    const input = tracer.series("i");
    const forget = tracer.series("f");
    const words = ["<s>", ...pair.target.map((id) => targetVocabulary[id] ?? `#${id}`)];
    if (input.length !== words.length) {
      throw new Error(`translationGateMap: traced ${input.length} decoder steps of "${layer}" for ${words.length} decoder inputs; is "${layer}" a decoder LSTM layer name?`);
    }
    out.push({ words, input: rounded(input), forget: rounded(forget) });
  }
  return { layer, sentences: out };
}

/**
 * The first `count` sentences of a token stream (split after each `endToken`) with between
 * `minLength` and `maxLength` tokens, the end token included. With `endToken` < 0 (a corpus without
 * sentence ends, e.g. the generated smoke corpus), consecutive chunks of `maxLength` tokens.
 */
export function exampleSentences(tokens: ArrayLike<number>, endToken: number, count: number, minLength = 5, maxLength = 20): number[][] {
  const out: number[][] = [];
  let current: number[] = [];
  for (let t = 0; t < tokens.length && out.length < count; t++) {
    current.push(tokens[t]);
    if (endToken < 0 && current.length === maxLength) {
      out.push(current);
      current = [];
    } else if (tokens[t] === endToken) {
      if (current.length >= minLength && current.length <= maxLength) out.push(current);
      current = [];
    }
  }
  return out;
}
