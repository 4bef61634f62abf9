/**
 * One epoch of Zaremba-small-style PTB training, the sanity figure issue 5 asks for:
 * 2-layer 200-unit LSTM, embedding 200 (untied), per-element dropout 0.5 on non-recurrent connections,
 * SGD lr 20, global-norm clip 0.25, batch 20, bptt 35. Writes results/bench/ptb-one-epoch.json.
 *   node --import tsx packages/train/bench/ptb-epoch.ts [--epochs 1]
 * Needs PTB in RNNLAB_DATA_DIR (npm run data -- fetch ptb).
 */
import * as path from "node:path";
import * as os from "node:os";
import { selectBackend, resultsDir, writeJsonAtomic, environmentInfo } from "@rnnlab/core";
import { loadLanguageModelCorpus } from "@rnnlab/data";
import { trainLanguageModel } from "../src";

async function main() {
  const epochsArg = process.argv.indexOf("--epochs");
  const epochs = epochsArg > 0 ? Number(process.argv[epochsArg + 1]) : 1;
  const backend = await selectBackend();
  const t0 = Date.now();
  const corpus = loadLanguageModelCorpus("ptb");
  const config = {
    vocabularySize: corpus.vocabulary.size,
    embeddingSize: 200,
    hiddenSize: 200,
    layers: 2,
    cell: { kind: "lstm" as const },
    tieWeights: false,
    dropout: { kind: "elementwise" as const, input: 0.5, hidden: 0.5, output: 0.5 },
    batchSize: 20,
    evaluationBatchSize: 10,
    bptt: 35,
    epochs,
    optimizer: { kind: "sgd" as const },
    schedule: { kind: "constant" as const, learningRate: 20 },
    clipNorm: 0.25,
    seed: 0,
  };
  let last = Date.now();
  const result = await trainLanguageModel(config, { train: corpus.train, valid: corpus.valid }, {
    onProgress: (e) => {
      if (Date.now() - last > 30_000 || e.kind !== "step") {
        last = Date.now();
        process.stderr.write(`${e.kind} step ${e.step}${e.totalSteps ? "/" + e.totalSteps : ""} ${JSON.stringify(e.metrics)}\n`);
      }
    },
  });
  const out = {
    benchmark: "ptb-one-epoch",
    config,
    result: JSON.parse(JSON.stringify({ final: (result as { final?: unknown }).final, evaluations: (result as { evaluations?: unknown }).evaluations })),
    wallSeconds: (Date.now() - t0) / 1000,
    loadAverage: os.loadavg(),
    environment: environmentInfo(backend),
    date: new Date().toISOString(),
  };
  const file = path.join(resultsDir(), "bench", "ptb-one-epoch.json");
  writeJsonAtomic(file, out);
  process.stderr.write(`wrote ${file}\n`);
}
main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
