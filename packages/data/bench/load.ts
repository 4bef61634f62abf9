/**
 * Load time and retained memory of the language-model corpora (run with --expose-gc):
 *   RNNLAB_DATA_DIR=/path/to/datasets node --expose-gc --import tsx packages/data/bench/load.ts
 */
import { loadLanguageModelCorpus, type LanguageModelDatasetName } from "../src/language-model";
import { loadTranslationCorpus } from "../src/translation";
import { loadNerCorpus } from "../src/ner";

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with node --expose-gc");
function measure(label: string, load: () => unknown): void {
  gc!();
  const before = process.memoryUsage();
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  const value = load();
  const milliseconds = performance.now() - start;
  const cpu = process.cpuUsage(cpuStart);
  gc!();
  const after = process.memoryUsage();
  const mb = (x: number) => (x / 1e6).toFixed(1);
  console.log(
    `${label.padEnd(16)} ${milliseconds.toFixed(0).padStart(5)} ms wall, ${((cpu.user + cpu.system) / 1000).toFixed(0).padStart(5)} ms cpu; retained heap ${mb(after.heapUsed - before.heapUsed)} MB, ` +
      `array buffers ${mb(after.arrayBuffers - before.arrayBuffers)} MB, rss ${mb(after.rss - before.rss)} MB`,
  );
  void value;
}
for (const name of ["ptb", "wikitext-2", "ptb-char"] as LanguageModelDatasetName[]) {
  measure(`${name} (cold)`, () => loadLanguageModelCorpus(name));
  measure(`${name} (warm)`, () => loadLanguageModelCorpus(name));
}
measure("multi30k", () => loadTranslationCorpus("multi30k_de_en"));
measure("conll2003", () => loadNerCorpus("conll2003"));
