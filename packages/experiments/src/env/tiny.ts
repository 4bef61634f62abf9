/**
 * env/tiny: an environment check and the test bed of the experiment machinery (reuse, stale results,
 * exact resume after a kill). A one-hidden-layer MLP fits a fixed random teacher MLP,
 *   y = tanh(x W1* ) W2* + noise,     model: ŷ = tanh(x W1 + b1) W2 + b2,     loss = mean (ŷ - y)^2,
 * trained with SGD (arm "sgd") or heavy-ball momentum v <- μ v + g, θ <- θ - lr v (arm "momentum").
 * It needs no paper, no dataset and no trainer package; it takes seconds at every preset.
 *
 * Checkpoints (<runDir>/checkpoint.json) hold parameters, momentum buffers, the step, the batch
 * sampler's Rng state and the curves so far, so a killed run resumes to exactly the same numbers.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Rng, tf, writeJsonAtomic, type RngState } from "@rnnlab/core";
import { registerExperiment } from "../registry";
import { tinySchema } from "./schema";
import type { z } from "zod";
import type { ArmContext, ArmOutcome, Curve, ExperimentDefinition } from "../types";

/** The config type is the schema's (./schema.ts). */
export type TinyConfig = z.infer<typeof tinySchema>;

export const tinyBase: TinyConfig = {
  data: { inputSize: 8, teacherHiddenSize: 8, trainExamples: 512, testExamples: 256, noise: 0.05 },
  model: { hiddenSize: 16 },
  train: { steps: 300, batchSize: 32, learningRate: 0.05, evalEvery: 25, checkpointEvery: 25, stepDelayMs: 0 },
  arms: { sgd: { momentum: 0 }, momentum: { momentum: 0.9 } },
};

interface Checkpoint {
  configHash: string;
  runHashHint: string;
  step: number;
  params: Record<string, { shape: number[]; values: number[] }>;
  velocity: Record<string, number[]>;
  sampler: RngState;
  curves: Record<string, Curve>;
}

function randomMatrix(rng: Rng, rows: number, cols: number, scale: number): tf.Tensor2D {
  const values = rng.fillNormal(new Float32Array(rows * cols), 0, scale);
  return tf.tensor2d(values, [rows, cols]);
}

function makeData(rng: Rng, c: TinyConfig["data"], n: number, teacher: { w1: tf.Tensor2D; w2: tf.Tensor2D }) {
  const x = randomMatrix(rng, n, c.inputSize, 1); // [n, in]
  const noise = randomMatrix(rng, n, 1, c.noise); // [n, 1]
  const y = tf.tidy(() => tf.tanh(x.matMul(teacher.w1)).matMul(teacher.w2).add(noise) as tf.Tensor2D); // [n, 1]
  noise.dispose();
  return { x, y };
}

async function runTiny(ctx: ArmContext<TinyConfig>): Promise<ArmOutcome> {
  const c = ctx.config;
  const momentum = c.arms[ctx.arm as keyof TinyConfig["arms"]].momentum;
  // The data and teacher depend on the seed only, so every arm of a seed sees the same problem.
  const dataRng = ctx.rng.fork("data");
  const teacher = {
    w1: randomMatrix(dataRng, c.data.inputSize, c.data.teacherHiddenSize, 1 / Math.sqrt(c.data.inputSize)),
    w2: randomMatrix(dataRng, c.data.teacherHiddenSize, 1, 1 / Math.sqrt(c.data.teacherHiddenSize)),
  };
  const train = makeData(dataRng, c.data, c.data.trainExamples, teacher);
  const test = makeData(dataRng, c.data, c.data.testExamples, teacher);
  teacher.w1.dispose();
  teacher.w2.dispose();

  const initRng = ctx.rng.fork("init");
  const h = c.model.hiddenSize;
  const params: Record<string, tf.Variable> = {
    w1: tf.variable(randomMatrix(initRng, c.data.inputSize, h, 1 / Math.sqrt(c.data.inputSize))),
    b1: tf.variable(tf.zeros([h])),
    w2: tf.variable(randomMatrix(initRng, h, 1, 1 / Math.sqrt(h))),
    b2: tf.variable(tf.zeros([1])),
  };
  const velocity: Record<string, Float32Array> = {};
  for (const [k, v] of Object.entries(params)) velocity[k] = new Float32Array(v.size);
  let sampler = ctx.rng.fork("batches");
  const curves: Record<string, Curve> = { trainLoss: { step: [], value: [] }, testLoss: { step: [], value: [] } };
  let step = 0;
  let resumedFromStep = 0;

  const checkpointFile = path.join(ctx.runDir, "checkpoint.json");
  if (ctx.resume && fs.existsSync(checkpointFile)) {
    const cp = JSON.parse(fs.readFileSync(checkpointFile, "utf8")) as Checkpoint;
    if (cp.configHash !== ctx.configHash) {
      throw new Error(`${checkpointFile}: written for config ${cp.configHash.slice(0, 12)}, not ${ctx.configHash.slice(0, 12)}; rerun with --rerun.`);
    }
    for (const [k, v] of Object.entries(params)) {
      v.assign(tf.tensor(cp.params[k].values, cp.params[k].shape));
      velocity[k] = Float32Array.from(cp.velocity[k]);
    }
    sampler = Rng.fromState(cp.sampler);
    Object.assign(curves, cp.curves);
    step = cp.step;
    resumedFromStep = cp.step;
  }

  const forward = (x: tf.Tensor2D) => tf.tanh(x.matMul(params.w1).add(params.b1)).matMul(params.w2).add(params.b2); // [n, 1]
  const lossOn = (x: tf.Tensor2D, y: tf.Tensor2D) => tf.mean(tf.square(forward(x).sub(y))) as tf.Scalar;
  const evaluate = () => tf.tidy(() => lossOn(test.x, test.y).dataSync()[0]);

  const saveCheckpoint = () => {
    const cp: Checkpoint = {
      configHash: ctx.configHash,
      runHashHint: `${ctx.arm}-seed${ctx.seed}`,
      step,
      params: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, { shape: v.shape, values: Array.from(v.dataSync()) }])),
      velocity: Object.fromEntries(Object.entries(velocity).map(([k, v]) => [k, Array.from(v)])),
      sampler: sampler.state(),
      curves,
    };
    writeJsonAtomic(checkpointFile, cp);
  };

  const total = c.train.steps;
  while (step < total) {
    const indices = Array.from({ length: c.train.batchSize }, () => sampler.int(c.data.trainExamples));
    const lossValue = tf.tidy(() => {
      const idx = tf.tensor1d(indices, "int32");
      const xb = tf.gather(train.x, idx) as tf.Tensor2D; // [batch, in]
      const yb = tf.gather(train.y, idx) as tf.Tensor2D; // [batch, 1]
      const { value, grads } = tf.variableGrads(() => lossOn(xb, yb), Object.values(params));
      for (const [k, p] of Object.entries(params)) {
        const g = grads[p.name].dataSync();
        const v = velocity[k];
        for (let i = 0; i < v.length; i++) v[i] = momentum * v[i] + g[i];
        p.assign(p.sub(tf.tensor(v, p.shape).mul(c.train.learningRate)));
      }
      return value.dataSync()[0];
    });
    step++;
    curves.trainLoss.step.push(step);
    curves.trainLoss.value.push(lossValue);
    const metrics: Record<string, number> = { loss: lossValue };
    if (step % c.train.evalEvery === 0 || step === total) {
      const testLoss = evaluate();
      curves.testLoss.step.push(step);
      curves.testLoss.value.push(testLoss);
      metrics.testLoss = testLoss;
    }
    ctx.onProgress({ step, totalSteps: total, split: "train", metrics });
    if (step % c.train.checkpointEvery === 0 && step < total) saveCheckpoint();
    if (c.train.stepDelayMs > 0) await new Promise((r) => setTimeout(r, c.train.stepDelayMs));
  }
  const testLoss = evaluate();
  const trainLoss = tf.tidy(() => lossOn(train.x, train.y).dataSync()[0]);
  for (const t of [train.x, train.y, test.x, test.y, ...Object.values(params)]) t.dispose();
  return { final: { trainLoss, testLoss }, curves, resumedFromStep };
}

export const envTiny: ExperimentDefinition<TinyConfig> = registerExperiment<TinyConfig>({
  id: "env/tiny",
  title: "Environment check: a tiny MLP regression (SGD vs momentum)",
  claim: "The selected backend trains a small model; momentum reaches a lower loss than plain SGD in the same number of steps.",
  base: tinyBase,
  schema: tinySchema,
  presets: {
    smoke: { train: { steps: 40, evalEvery: 10, checkpointEvery: 10 } },
    cpu: {},
    paper: { train: { steps: 2000, evalEvery: 100, checkpointEvery: 100 }, data: { trainExamples: 4096 } },
  },
  defaultSeeds: { smoke: [0], cpu: [0, 1, 2], paper: [0, 1, 2, 3, 4] },
  data: { kind: "synthetic", task: "teacher MLP regression" },
  reported: {
    source: "none (not a paper experiment)",
    metric: "test MSE",
    ourMetric: "testLoss",
    lowerIsBetter: true,
    values: { sgd: null, momentum: null },
    note: "An environment check; there is no paper to compare with.",
  },
  primaryMetric: { name: "testLoss", lowerIsBetter: true },
  plotCurves: ["trainLoss", "testLoss"],
  runArm: runTiny,
});
