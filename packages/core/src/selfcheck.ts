/**
 * A few seconds of real training, used by the environment notebook and the tests to show that the
 * selected backend trains: a seeded 2-layer MLP fits y = sin(3x₁)·x₂ + noise with Adam.
 * Data, initial weights and batch order all come from the seed.
 */
import { tf } from "./tf";
import { Rng } from "./rng";

export interface TinyFitProgress {
  epoch: number;
  epochs: number;
  loss: number;
  validationLoss: number;
}

export interface TinyFitResult {
  curve: TinyFitProgress[];
  /** Mean squared error of always predicting the training mean, on the validation split. */
  baselineLoss: number;
  seconds: number;
  parameters: number;
}

export async function trainTinyRegression(opts: {
  seed?: number;
  epochs?: number;
  samples?: number;
  hidden?: number;
  onProgress?: (p: TinyFitProgress) => void;
}): Promise<TinyFitResult> {
  const seed = opts.seed ?? 0;
  const epochs = opts.epochs ?? 30;
  const n = opts.samples ?? 2048;
  const hidden = opts.hidden ?? 64;
  const rng = new Rng(seed);
  const x = new Float32Array(n * 2);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const a = rng.uniformRange(-1, 1), b = rng.uniformRange(-1, 1);
    x[2 * i] = a;
    x[2 * i + 1] = b;
    y[i] = Math.sin(3 * a) * b + 0.05 * rng.normal();
  }
  const nTrain = Math.floor(n * 0.8);
  const init = (k: number) => tf.initializers.glorotUniform({ seed: rng.fork(`layer${k}`).tfSeed() });
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [2], units: hidden, activation: "relu", kernelInitializer: init(0) }),
      tf.layers.dense({ units: hidden, activation: "relu", kernelInitializer: init(1) }),
      tf.layers.dense({ units: 1, kernelInitializer: init(2) }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(0.01), loss: "meanSquaredError" });
  const xs = tf.tensor2d(x, [n, 2]);
  const ys = tf.tensor2d(y, [n, 1]);
  const [xTrain, xVal] = tf.split(xs, [nTrain, n - nTrain]);
  const [yTrain, yVal] = tf.split(ys, [nTrain, n - nTrain]);
  let mean = 0;
  for (let i = 0; i < nTrain; i++) mean += y[i] / nTrain;
  let baselineLoss = 0;
  for (let i = nTrain; i < n; i++) baselineLoss += (y[i] - mean) ** 2 / (n - nTrain);
  const curve: TinyFitProgress[] = [];
  const start = Date.now();
  try {
    await model.fit(xTrain, yTrain, {
      epochs,
      batchSize: 64,
      shuffle: false, // tf.layers shuffles with Math.random; keep the order seeded (the data are already random)
      validationData: [xVal, yVal],
      verbose: 0,
      callbacks: {
        onEpochEnd: async (epoch, logs) => {
          const p = { epoch: epoch + 1, epochs, loss: logs!.loss as number, validationLoss: logs!.val_loss as number };
          curve.push(p);
          opts.onProgress?.(p);
        },
      },
    });
    return { curve, baselineLoss, seconds: (Date.now() - start) / 1000, parameters: model.countParams() };
  } finally {
    tf.dispose([xs, ys, xTrain, xVal, yTrain, yVal]);
    model.dispose();
  }
}
