/**
 * Small generated corpora for the smoke preset, so every experiment runs in CI without datasets.
 *
 * Choice (documented in the README): at `smoke`, experiments that need real data use these corpora
 * (`data.source = "generated"`); at `cpu` and `paper` they load the real dataset through @rnnlab/data
 * (`data.source = "dataset"`) and fail with its missing-dataset error, which names the fetch command
 * and RNNLAB_DATA_DIR. Numbers from generated data say nothing about the papers.
 *
 * The text comes from a fixed-seed random bigram model over made-up words (Zipf-like unigram weights),
 * so it has learnable structure: a model that trains beats the unigram baseline on it.
 */
import { Rng } from "@rnnlab/core";
import { buildLanguageModelCorpus, type LanguageModelCorpus, type NerSentence, type ParallelSplit } from "@rnnlab/data";

const GENERATOR_SEED = 20240601;

function makeWords(rng: Rng, count: number): string[] {
  const letters = "abcdefghijklmnopqrstuvwxyz";
  const words = new Set<string>();
  while (words.size < count) {
    const length = 2 + rng.int(5);
    let w = "";
    for (let i = 0; i < length; i++) w += letters[rng.int(letters.length)];
    words.add(w);
  }
  return [...words];
}

/** Sentences from a bigram model: each word has a few preferred successors. */
function bigramSentences(rng: Rng, words: string[], sentences: number, meanLength: number): string[][] {
  const successors = words.map(() => Array.from({ length: 4 }, () => rng.int(words.length)));
  const zipf = (): number => Math.min(words.length - 1, Math.floor(words.length ** rng.uniform()) - 1);
  const out: string[][] = [];
  for (let s = 0; s < sentences; s++) {
    const length = Math.max(2, Math.round(meanLength * (0.5 + rng.uniform())));
    let w = zipf();
    const sentence = [words[w]];
    for (let i = 1; i < length; i++) {
      w = rng.uniform() < 0.75 ? successors[w][rng.int(4)] : zipf();
      sentence.push(words[w]);
    }
    out.push(sentence);
  }
  return out;
}

const lmCache = new Map<string, LanguageModelCorpus>();

/** A PTB-like corpus (one sentence per line, `<eos>` appended) of about `trainTokens` training tokens. */
export function generatedLanguageModelCorpus(options: { level: "word" | "character"; vocabularySize: number; trainTokens: number }): LanguageModelCorpus {
  const key = JSON.stringify(options);
  const cached = lmCache.get(key);
  if (cached) return cached;
  const rng = new Rng(GENERATOR_SEED);
  const words = makeWords(rng, options.vocabularySize - 2);
  const meanLength = 8;
  const lines = (tokens: number) => bigramSentences(rng, words, Math.max(4, Math.ceil(tokens / (meanLength + 1))), meanLength).map((s) => s.join(" "));
  const text = (tokens: number) => lines(tokens).join("\n") + "\n";
  // Characters per word are ~5: scale the line count so the character corpus has about as many symbols.
  const scale = options.level === "character" ? 1 / 5 : 1;
  const train = text(options.trainTokens * scale);
  const valid = text(Math.max(200, options.trainTokens * 0.1 * scale));
  const test = text(Math.max(200, options.trainTokens * 0.1 * scale));
  // Valid/test words all come from the same word list, so there are no unknown tokens; add <unk> to train.
  const corpus = buildLanguageModelCorpus(
    `generated-${options.level}`,
    { train: { text: train + "<unk>\n", file: "generated:train" }, valid: { text: valid, file: "generated:valid" }, test: { text: test, file: "generated:test" } },
    { level: options.level },
  );
  lmCache.set(key, corpus);
  return corpus;
}

/**
 * A parallel corpus: the "target language" is the source sentence reversed, with every word mapped
 * through a fixed random substitution (a toy translation with reordering).
 */
export function generatedParallelCorpus(options: { vocabularySize: number; sentences: { train: number; valid: number; test: number }; meanLength: number }): Record<"train" | "valid" | "test", ParallelSplit> {
  const rng = new Rng(GENERATOR_SEED + 1);
  const source = makeWords(rng, options.vocabularySize);
  const target = rng.shuffle(makeWords(rng, options.vocabularySize).map((w) => w.toUpperCase()));
  const translate = new Map(source.map((w, i) => [w, target[i]]));
  const make = (split: "train" | "valid" | "test", n: number): ParallelSplit => {
    const src = bigramSentences(rng, source, n, options.meanLength).map((s) => s.slice(0, options.meanLength * 2));
    const tgt = src.map((s) => [...s].reverse().map((w) => translate.get(w)!));
    return {
      split,
      sourceFile: `generated:${split}.src`,
      targetFile: `generated:${split}.tgt`,
      source: src,
      target: tgt,
      references: tgt.map((t) => t.join(" ")),
      lineNumbers: src.map((_, i) => i + 1),
      dropped: { emptyPairs: 0 },
    };
  };
  return { train: make("train", options.sentences.train), valid: make("valid", options.sentences.valid), test: make("test", options.sentences.test) };
}

/**
 * NER-like sentences in IOB2: entity words come from per-type word lists and are often preceded by a
 * type-specific cue word, so the tags are learnable from context and from the word itself.
 */
export function generatedNerSentences(options: { sentences: number; seedOffset: number }): NerSentence[] {
  const rng = new Rng(GENERATOR_SEED + 2);
  const filler = makeWords(rng, 200);
  const types = ["PER", "LOC", "ORG", "MISC"];
  const entityWords = types.map(() => makeWords(rng, 30).map((w) => w[0].toUpperCase() + w.slice(1)));
  const cues = types.map(() => makeWords(rng, 3));
  const sentenceRng = new Rng(GENERATOR_SEED + 3 + options.seedOffset);
  const out: NerSentence[] = [];
  for (let s = 0; s < options.sentences; s++) {
    const words: string[] = [];
    const tags: string[] = [];
    const length = 6 + sentenceRng.int(10);
    while (words.length < length) {
      if (sentenceRng.uniform() < 0.25) {
        const t = sentenceRng.int(types.length);
        if (sentenceRng.uniform() < 0.7) {
          words.push(cues[t][sentenceRng.int(3)]);
          tags.push("O");
        }
        const span = 1 + sentenceRng.int(2);
        for (let k = 0; k < span; k++) {
          words.push(entityWords[t][sentenceRng.int(30)]);
          tags.push(`${k === 0 ? "B" : "I"}-${types[t]}`);
        }
      } else {
        words.push(filler[sentenceRng.int(filler.length)]);
        tags.push("O");
      }
    }
    out.push({ words, tags, line: s + 1 });
  }
  return out;
}
