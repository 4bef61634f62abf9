/**
 * The recurrent language model the LM trainer trains (AWD-LSTM's structure, Merity et al. 2017):
 *   x_t = E[w_t]                       embedding (embedding dropout drops whole rows of E)
 *   h^l = RNN_l(dropout(h^{l-1}))       stacked cells from @rnnlab/cells; dropout on each layer's input
 *                                       (rate `input` below layer 0, `hidden` between layers)
 *   logits = dropout_out(h^L) · W + b  W = Eᵀ when weights are tied (then the last layer has embeddingSize units)
 *   loss = mean softmax cross-entropy of the next token
 * Two execution paths: the readable one (`stackScan` over any cell variant) and the fast one (cells'
 * `lstmRecurrence`, a customGrad BPTT) for LSTM layers without normalisation, with any gate (G2) and weight
 * drop (structured dropout there runs as grouped, smaller
 * input-projection and decoder GEMMs, `dropout.maskSteps`); both use the same parameter names.
 */
import { tf, type Rng } from "@rnnlab/core";
import {
  orthogonalMatrix, createCell, type CellConfig, stackScan, embeddingDropout, applyDropout, denseSequence, type GateTracer, type Layer, type State, type Cell, type DropoutConfig, type GateConfig,
  type NormalizationConfig,
} from "@rnnlab/cells";
import {
  lstmRecurrence, sequenceProjection, softmaxCrossEntropy, denseProjection, structuredDropoutGroupedMatMul, structuredKeepIndices,
  fastGateScales, gumbelGateNoise, prepareRecurrentKernel, type FastGateScales,
} from "@rnnlab/cells";

/** The gate temperatures of the fast path and whether Gumbel noise is added (cells' fastGateScales). */
type FastGates = FastGateScales & { noise: boolean };
import { checkKeys } from "./validate";

/** The cell of every layer: cells' one cell configuration (createCell). */
export type RecurrentCellConfig = CellConfig;

export interface LmDropoutConfig {
  /** How masks are drawn on non-recurrent connections: "locked" (AWD, default), "elementwise", "structured". */
  kind?: "elementwise" | "locked" | "structured";
  /** dropoute: whole embedding rows. */
  embedding?: number;
  /** dropouti: the input of the first layer. */
  input?: number;
  /** dropouth: between layers. */
  hidden?: number;
  /** dropout: before the decoder. */
  output?: number;
  /** wdrop: DropConnect on the recurrent kernels. */
  weightDrop?: number;
  /**
   * Structured dropout only: how many consecutive time steps share one keep set (shared by the batch).
   * 1 (default) = a new set every step, the paper's "randomized in time"; k > 1 = a new set every k steps
   * (the last group of a window may be shorter); 0 = one set per BPTT window. Values other than 1 need the
   * fast path: on tfjs-wasm one gathered GEMM per step is slower than the dense one (cells/bench/README.md),
   * so the GEMMs only shrink in wall-clock terms when several steps share a keep set.
   */
  maskSteps?: number;
}

export interface LanguageModelArchitecture {
  vocabularySize: number;
  embeddingSize: number;
  hiddenSize: number;
  layers: number;
  cell: RecurrentCellConfig;
  tieWeights?: boolean;
  dropout?: LmDropoutConfig;
  /** "auto" (default): cells' fast LSTM path when the configuration allows it; "off": always the readable path. */
  fastPath?: "auto" | "off";
  /** AR α (AWD-LSTM 2): α·mean(h²) of the last layer's dropped output, training only. Default 0. */
  activationRegularization?: number;
  /** TAR β (AWD-LSTM 1): β·mean((h_t − h_{t−1})²) of the last layer's output, training only. Default 0. */
  temporalActivationRegularization?: number;
  /** Fast path: compute the decoder in blocks of this many vocabulary columns (0 = one product; docs/performance.md §2: ~512 helps medium models). */
  outputColumnBlock?: number;
  /** LSTM input kernels W: "uniform" (default, the cells' U(±1/√H)) or "orthogonal" (torch.nn.init.orthogonal_, the ATN code). */
  inputInit?: "uniform" | "orthogonal";
}

const OPTIONAL_ARCHITECTURE_KEYS = [
  "tieWeights", "dropout", "fastPath", "outputColumnBlock", "activationRegularization", "temporalActivationRegularization", "inputInit",
] as const;

export const ARCHITECTURE_KEYS: readonly (keyof LanguageModelArchitecture)[] = [
  "vocabularySize", "embeddingSize", "hiddenSize", "layers", "cell", ...OPTIONAL_ARCHITECTURE_KEYS,
];

function copyKey<K extends keyof LanguageModelArchitecture>(to: LanguageModelArchitecture, from: LanguageModelArchitecture, key: K): void {
  to[key] = from[key];
}

/**
 * The architecture part of a larger config (a trainer's or an experiment's): the ARCHITECTURE_KEYS it has,
 * in that order (optional keys it lacks stay absent). `without` leaves some optional keys out.
 */
export function pickArchitecture(
  config: LanguageModelArchitecture,
  without: readonly (typeof OPTIONAL_ARCHITECTURE_KEYS)[number][] = [],
): LanguageModelArchitecture {
  const { vocabularySize, embeddingSize, hiddenSize, layers, cell } = config;
  const out: LanguageModelArchitecture = { vocabularySize, embeddingSize, hiddenSize, layers, cell };
  for (const key of OPTIONAL_ARCHITECTURE_KEYS) if (key in config && !without.includes(key)) copyKey(out, config, key);
  return out;
}

/** A type alias (not an interface), so that it is a ParamTree and a tf.TensorContainer as it stands. */
export type LanguageModelParams = {
  embedding: tf.Tensor2D; // [V, E]
  layers: Record<string, tf.Tensor>[];
  decoder: { kernel?: tf.Tensor2D; bias: tf.Tensor1D }; // kernel [H_last, V] unless tied
};

function isMatrix(t: tf.Tensor | undefined): t is tf.Tensor2D {
  return t?.rank === 2;
}

function isVector(t: tf.Tensor | undefined): t is tf.Tensor1D {
  return t?.rank === 1;
}

/**
 * One layer's parameters as the fast LSTM path takes them. The tree types a layer for any cell kind
 * (name -> tensor); the fast path runs for LSTM cells only, whose layers have these three, checked here.
 */
function fastLstmLayer(p: Record<string, tf.Tensor>, l: number): { inputKernel: tf.Tensor2D; recurrentKernel: tf.Tensor2D; bias: tf.Tensor1D } {
  const { inputKernel, recurrentKernel, bias } = p;
  if (!isMatrix(inputKernel) || !isMatrix(recurrentKernel) || !isVector(bias))
    throw new Error(`LanguageModel.forward: the fast LSTM path needs layers.${l}.{inputKernel [I, 4H], recurrentKernel [H, 4H], bias [4H]}; got ${Object.keys(p).join(", ")}`);
  return { inputKernel, recurrentKernel, bias };
}

function dropoutConfig(kind: LmDropoutConfig["kind"], rate: number | undefined): DropoutConfig {
  return rate && rate > 0 ? ({ kind: kind ?? "locked", rate } as DropoutConfig) : { kind: "none" };
}

export function validateArchitecture(a: LanguageModelArchitecture, where = "config"): void {
  checkKeys(where, a, ARCHITECTURE_KEYS);
  for (const k of ["vocabularySize", "embeddingSize", "hiddenSize", "layers"] as const)
    if (!Number.isInteger(a[k]) || a[k] < 1) throw new Error(`${where}.${k}=${a[k]} must be a positive integer`);
  if (a.dropout) {
    checkKeys(`${where}.dropout`, a.dropout as Record<string, unknown>, ["kind", "embedding", "input", "hidden", "output", "weightDrop", "maskSteps"]);
    const k = a.dropout.maskSteps;
    if (k !== undefined && !(Number.isInteger(k) && k >= 0)) throw new Error(`${where}.dropout.maskSteps=${k} must be a non-negative integer (1: a new keep set every step; 0: one per BPTT window)`);
    if (k !== undefined && k !== 1 && a.dropout.kind !== "structured") throw new Error(`${where}.dropout.maskSteps=${k} only applies to dropout.kind "structured" (got "${a.dropout.kind ?? "locked"}"); remove it`);
    for (const k of ["embedding", "input", "hidden", "output", "weightDrop"] as const) {
      const v = a.dropout[k];
      if (v !== undefined && !(v >= 0 && v < 1)) throw new Error(`${where}.dropout.${k}=${v} must be in [0, 1)`);
    }
    if (a.dropout.kind && !["elementwise", "locked", "structured"].includes(a.dropout.kind))
      throw new Error(`${where}.dropout.kind="${a.dropout.kind}" must be one of elementwise, locked, structured`);
  }
  const kinds = ["lstm", "gru", "nc-gru", "scornn"];
  if (!a.cell || !kinds.includes(a.cell.kind)) throw new Error(`${where}.cell.kind="${a.cell?.kind}" must be one of ${kinds.join(", ")}`);
  for (const k of ["activationRegularization", "temporalActivationRegularization"] as const) {
    const v = a[k];
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) throw new Error(`${where}.${k}=${v} must be a non-negative number`);
  }
  if (a.layers === 1 && a.tieWeights && a.hiddenSize !== a.embeddingSize)
    throw new Error(
      `${where}.hiddenSize=${a.hiddenSize} is unused: with tieWeights the last (here the only) layer has embeddingSize=${a.embeddingSize} units; ` +
        `set hiddenSize to ${a.embeddingSize}, or untie the weights`,
    );
  if (a.fastPath && !["auto", "off"].includes(a.fastPath)) throw new Error(`${where}.fastPath="${a.fastPath}" must be "auto" or "off"`);
  if (a.inputInit !== undefined && a.inputInit !== "uniform" && a.inputInit !== "orthogonal") throw new Error(`${where}.inputInit="${a.inputInit}" must be "uniform" or "orthogonal"`);
  if (a.inputInit === "orthogonal" && a.cell?.kind !== "lstm") throw new Error(`${where}.inputInit="orthogonal" applies to LSTM cells only (got "${a.cell?.kind}")`);
}

/**
 * A built model: cells per layer, parameter initialisation, and the forward pass. Layer sizes: every
 * layer has hiddenSize units, except the last, which has embeddingSize when weights are tied.
 */
export class LanguageModel {
  readonly cells: Cell[] = [];
  readonly layerSizes: number[] = [];
  readonly useFastPath: boolean;

  constructor(readonly architecture: LanguageModelArchitecture) {
    validateArchitecture(architecture);
    const a = architecture;
    const d = a.dropout ?? {};
    for (let l = 0; l < a.layers; l++) {
      const inputSize = l === 0 ? a.embeddingSize : a.hiddenSize;
      const hiddenSize = l === a.layers - 1 && a.tieWeights ? a.embeddingSize : a.hiddenSize;
      this.layerSizes.push(hiddenSize);
      const inputDropout = dropoutConfig(d.kind, l === 0 ? d.input : d.hidden);
      const recurrence = d.weightDrop && d.weightDrop > 0 ? { kind: "weightDrop" as const, rate: d.weightDrop } : { kind: "dense" as const };
      if ((a.cell.kind === "nc-gru" || a.cell.kind === "scornn") && d.weightDrop)
        throw new Error(`config.dropout.weightDrop is not supported with cell.kind="${a.cell.kind}" (its recurrent matrix is orthogonal): set it to 0`);
      // inputInit is an LSTM cell option (the cell draws its W); the architecture key is kept for configs.
      const cellConfig: CellConfig = a.cell.kind === "lstm" && a.inputInit !== undefined ? { ...a.cell, inputInit: a.inputInit } : a.cell;
      this.cells.push(createCell(cellConfig, inputSize, hiddenSize, { inputDropout, recurrence }));
    }
    const c = a.cell;
    // The fast path covers the LSTM without normalisation, with any gate (G2's sharpened and Gumbel gates
    // are temperatures and additive noise on the fused pre-activation) and with weight drop.
    const unnormalizedLstm = c.kind === "lstm" && (!c.normalization || c.normalization.kind === "none");
    this.useFastPath = (a.fastPath ?? "auto") === "auto" && unnormalizedLstm;
    if (!this.useFastPath && d.kind === "structured" && (d.maskSteps ?? 1) !== 1)
      throw new Error(
        `config.dropout.maskSteps=${d.maskSteps} needs the fast LSTM path (a plain sigmoid LSTM without normalisation or weight drop, fastPath "auto"); the readable path draws a new keep set every step: set maskSteps to 1`,
      );
  }

  /**
   * Structured dropout's keep sets for a window of T steps of `features` inputs: one set per group of
   * maskSteps consecutive steps (0: one group), with each group's row count (steps x batch).
   */
  private structuredKeepSets(T: number, B: number, features: number, rate: number, rng: Rng): { sets: Int32Array[]; groupRows: number[] } {
    const k = this.architecture.dropout?.maskSteps ?? 1;
    const stepsPerGroup = k === 0 ? T : Math.min(k, T);
    const sets: Int32Array[] = [];
    const groupRows: number[] = [];
    for (let t = 0; t < T; t += stepsPerGroup) {
      sets.push(structuredKeepIndices(features, rate, rng));
      groupRows.push(Math.min(stepsPerGroup, T - t) * B);
    }
    return { sets, groupRows };
  }

  /** Fresh parameters; all randomness from rng. Embedding and decoder U(−0.1, 0.1) as in AWD-LSTM; decoder bias 0. */
  init(rng: Rng): LanguageModelParams {
    const a = this.architecture;
    const uniform = (shape: number[]) => tf.tensor(rng.fillUniform(new Float32Array(shape.reduce((x, y) => x * y, 1)), -0.1, 0.1), shape);
    const layers = this.cells.map((cell, l) => cell.init(rng.fork(`layer${l}`)) as Record<string, tf.Tensor>);
    const last = this.layerSizes[this.layerSizes.length - 1];
    return {
      embedding: uniform([a.vocabularySize, a.embeddingSize]) as tf.Tensor2D,
      layers,
      decoder: a.tieWeights
        ? { bias: tf.zeros([a.vocabularySize]) as tf.Tensor1D }
        : { kernel: uniform([last, a.vocabularySize]) as tf.Tensor2D, bias: tf.zeros([a.vocabularySize]) as tf.Tensor1D },
    };
  }

  initialStates(batchSize: number): State[] {
    return this.cells.map((c) => c.initialState(batchSize) as State);
  }

  /**
   * Forward pass over one window. `inputs`/`targets` are [T, B] int32. Returns the mean loss and the
   * final states (new tensors, inside the caller's scope). `onLogits` is not provided: the loss is all
   * trainers need. Random draws, in order: embedding dropout, the layers, output dropout.
   */
  forward(
    params: LanguageModelParams,
    inputs: tf.Tensor2D,
    targets: tf.Tensor2D,
    states: State[],
    options: { training: boolean; rng?: Rng; tracer?: GateTracer },
  ): { loss: tf.Scalar; regularizer?: tf.Scalar; states: State[]; hidden: tf.Tensor3D } {
    const a = this.architecture;
    const d = a.dropout ?? {};
    const { training, rng } = options;
    const [T, B] = inputs.shape;
    if (training && !rng) throw new Error("LanguageModel.forward: training needs an rng");
    let embedding = params.embedding;
    if (training && d.embedding && d.embedding > 0) embedding = embeddingDropout(embedding, d.embedding, rng!);
    const x = tf.reshape(tf.gather(embedding, tf.reshape(inputs, [T * B])), [T, B, a.embeddingSize]) as tf.Tensor3D; // [T, B, E]
    const gate = a.cell.kind === "lstm" ? a.cell.gate : undefined;
    // Gumbel's "hard" evaluation (and gate tracing) run on the readable path.
    const fastGates = this.useFastPath && !options.tracer ? fastGateScales(gate, training) : undefined;
    const { ys, states: newStates } = fastGates
      ? this.fastLayers(params, x, states, fastGates, training, rng)
      : // fastPath "off" also keeps scan from the cells' fused recurrences: every step as written.
        stackScan(this.cells.map((cell, l): Layer => ({ cell, params: params.layers[l] })), x, states, { training, rng, tracer: options.tracer, fused: (a.fastPath ?? "auto") === "auto" });
    const { logits, dropped } = this.decode(params, ys, fastGates !== undefined, training, rng);
    const loss = softmaxCrossEntropy(logits, tf.reshape(targets, [T * B]) as tf.Tensor1D);
    return { loss, regularizer: this.activationRegularizer(ys, dropped, training), states: newStates, hidden: ys };
  }

  /**
   * The fast LSTM path: every layer as one fused recurrence (cells' lstmRecurrence), with the same dropout
   * placement as the cells' inputDropout applied outside the fused layer. Structured dropout shrinks the input
   * projection (x[:, K]·W_ih[K, :]) instead of masking x.
   */
  private fastLayers(
    params: LanguageModelParams, x: tf.Tensor3D, states: State[], fastGates: FastGates, training: boolean, rng: Rng | undefined,
  ): { ys: tf.Tensor3D; states: State[] } {
    const d = this.architecture.dropout ?? {};
    const gate = this.architecture.cell.kind === "lstm" ? this.architecture.cell.gate : undefined;
    const structured = training && d.kind === "structured";
    const [T, B] = x.shape;
    const newStates: State[] = [];
    let h = x;
    for (let l = 0; l < this.cells.length; l++) {
      const rate = (l === 0 ? d.input : d.hidden) ?? 0;
      const p = fastLstmLayer(params.layers[l], l);
      const initial = { h: states[l].h, c: states[l].c };
      // Random draws in the readable path's order: input dropout, weight drop, then the gate noise.
      let projected: tf.Tensor3D; // [T, B, 4H]
      if (structured && rate > 0) {
        const features = h.shape[2];
        const { sets, groupRows } = this.structuredKeepSets(T, B, features, rate, rng!);
        projected = tf.reshape(
          structuredDropoutGroupedMatMul(tf.reshape(h, [T * B, features]) as tf.Tensor2D, p.inputKernel, p.bias, sets, rate, { groupRows }),
          [T, B, p.inputKernel.shape[1]],
        ) as tf.Tensor3D;
      } else {
        projected = sequenceProjection(applyDropout(h, dropoutConfig(d.kind, rate), rng, training), p.inputKernel, p.bias);
      }
      const recurrentKernel =
        training && d.weightDrop && d.weightDrop > 0
          ? prepareRecurrentKernel({ kind: "weightDrop", rate: d.weightDrop }, p.recurrentKernel, training, rng, "LSTM weightDrop")
          : p.recurrentKernel;
      if (fastGates.noise) projected = tf.add(projected, gumbelGateNoise(gate!, T, B, this.layerSizes[l], rng!)) as tf.Tensor3D;
      const r = lstmRecurrence(recurrentKernel, projected, initial, fastGates);
      h = r.ys;
      newStates.push(r.state);
    }
    return { ys: h, states: newStates };
  }

  /** The decoder: logits [T·B, V] of the last layer's output ys, and that output after output dropout (AR is taken on it). */
  private decode(params: LanguageModelParams, ys: tf.Tensor3D, fast: boolean, training: boolean, rng: Rng | undefined): { logits: tf.Tensor2D; dropped: tf.Tensor3D } {
    const a = this.architecture;
    const d = a.dropout ?? {};
    const [T, B, H] = ys.shape;
    const kernel = a.tieWeights ? (tf.transpose(params.embedding) as tf.Tensor2D) : params.decoder.kernel!; // [H, V]
    const outputDropout = dropoutConfig(d.kind, d.output);
    if (training && outputDropout.kind === "structured") {
      if (fast) {
        const { sets, groupRows } = this.structuredKeepSets(T, B, H, outputDropout.rate, rng!);
        const logits = structuredDropoutGroupedMatMul(tf.reshape(ys, [T * B, H]) as tf.Tensor2D, kernel, params.decoder.bias, sets, outputDropout.rate, { groupRows, columnBlock: a.outputColumnBlock ?? 0 });
        return { logits, dropped: ys };
      }
      const seq = denseSequence(ys, kernel, params.decoder.bias, { dropout: outputDropout, training, rng }); // [T, B, V]
      return { logits: tf.reshape(seq, [T * B, a.vocabularySize]) as tf.Tensor2D, dropped: ys };
    }
    // Both paths: one decoder product with the hand-written gradient (cells' denseProjection: the bias
    // gradient as a product, no transposes of [T·B, V] under native BLAS).
    const dropped = outputDropout.kind !== "structured" ? applyDropout(ys, outputDropout, rng, training) : ys; // [T, B, H]
    return { logits: denseProjection(tf.reshape(dropped, [T * B, H]) as tf.Tensor2D, kernel, params.decoder.bias, { columnBlock: a.outputColumnBlock ?? 0 }), dropped };
  }

  /**
   * AWD-LSTM's regularizers, training only: AR = α·mean(dropped h_L²); TAR = β·mean((h_L,t − h_L,t−1)²) on the
   * undropped output. DEVIATION: with structured output dropout, AR uses the undropped output (the dropped one is never formed).
   */
  private activationRegularizer(ys: tf.Tensor3D, dropped: tf.Tensor3D, training: boolean): tf.Scalar | undefined {
    const a = this.architecture;
    if (!(training && ((a.activationRegularization ?? 0) > 0 || (a.temporalActivationRegularization ?? 0) > 0))) return undefined;
    const [T, B, H] = ys.shape;
    const terms: tf.Scalar[] = [];
    if ((a.activationRegularization ?? 0) > 0) terms.push(tf.mul(tf.mean(tf.square(dropped)), a.activationRegularization!) as tf.Scalar);
    if ((a.temporalActivationRegularization ?? 0) > 0 && T > 1) {
      const difference = tf.sub(tf.slice(ys, [1, 0, 0], [T - 1, B, H]), tf.slice(ys, [0, 0, 0], [T - 1, B, H])); // [T-1, B, H]
      terms.push(tf.mul(tf.mean(tf.square(difference)), a.temporalActivationRegularization!) as tf.Scalar);
    }
    if (terms.length) return (terms.length === 1 ? terms[0] : tf.addN(terms)) as tf.Scalar;
    return undefined;
  }
}

export { orthogonalMatrix };
