/**
 * Parallel corpora for translation (translation.ts): reading aligned line files and the layouts of the
 * translation datasets.
 *
 * Layouts (see datasets/manifest.json):
 * - multi30k_de_en: `tok/<split>.lc.norm.tok.<lang>` (lowercased, tokenized: the model's text) and
 *   `raw/<split>.<lang>.gz` (original, cased captions: the detokenized BLEU references; when a raw
 *   file is absent, `detokenize` of the lowercased target is used instead). Splits: train=train,
 *   valid=val, test=test_2016_flickr.
 * - iwslt14_de_en: fairseq `prepare-iwslt14.sh` output `<split>.<lang>` (tokenized, lowercased, BPE
 *   with `@@ `); references are the BPE-joined tokenized target (fairseq `--remove-bpe` convention).
 * - iwslt15_en_vi: `train|tst2012|tst2013.<lang>` (Moses-tokenized, cased, XML-escaped); references
 *   are the target with Moses escapes undone and a simple detokenization (`detokenize`).
 * Filters, each counted in the result: pairs with an empty side (always dropped; none in Multi30k),
 * pairs outside [minLength, maxLength] (`filterByLength`, usually for training only).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { BytePairEncoding } from "./bpe";
import { getManifestDataset } from "./manifest";
import { datasetDirectory, requireDatasetFiles } from "./store";
import { readLines } from "./text";
import { splitWords } from "./language-model";

export type SplitName = "train" | "valid" | "test";

export interface ParallelSplit {
  split: SplitName;
  sourceFile: string;
  targetFile: string;
  /** Tokenized sentences (whitespace split), aligned with `target`. */
  source: string[][];
  target: string[][];
  /** Detokenized target sentences for BLEU, aligned with `target`. */
  references: string[];
  /** 1-based line numbers of the kept pairs in the files. */
  lineNumbers: number[];
  dropped: { emptyPairs: number };
}

/**
 * Reads two aligned line files. Different line counts are an error naming the first line that has no
 * partner; pairs with an empty side are dropped and counted. `referenceLines`, when given, must
 * align too.
 */
export function readParallelFiles(
  sourceFile: string,
  targetFile: string,
  options: { split?: SplitName; referenceFile?: string; referenceFromTarget?: (tokens: string[]) => string } = {},
): ParallelSplit {
  const sourceLines = readLines(sourceFile, { expected: "one sentence per line" });
  const targetLines = readLines(targetFile, { expected: "one sentence per line" });
  if (sourceLines.length !== targetLines.length) {
    const [longer, n] = sourceLines.length > targetLines.length ? [sourceFile, targetLines.length] : [targetFile, sourceLines.length];
    throw new Error(
      `${longer}:${n + 1}: misaligned parallel files: ${sourceFile} has ${sourceLines.length} lines but ${targetFile} has ${targetLines.length}; ` +
        `expected one line per sentence pair in both.`,
    );
  }
  let referenceLines: string[] | null = null;
  if (options.referenceFile) {
    referenceLines = readLines(options.referenceFile, { expected: "one reference sentence per line" });
    if (referenceLines.length !== targetLines.length)
      throw new Error(
        `${options.referenceFile}: ${referenceLines.length} lines, but ${targetFile} has ${targetLines.length}; expected the references to align with the target.`,
      );
  }
  const result: ParallelSplit = {
    split: options.split ?? "train",
    sourceFile,
    targetFile,
    source: [],
    target: [],
    references: [],
    lineNumbers: [],
    dropped: { emptyPairs: 0 },
  };
  const toReference = options.referenceFromTarget ?? ((tokens: string[]) => tokens.join(" "));
  for (let i = 0; i < sourceLines.length; i++) {
    const s = splitWords(sourceLines[i]);
    const t = splitWords(targetLines[i]);
    if (s.length === 0 || t.length === 0) {
      result.dropped.emptyPairs++;
      continue;
    }
    result.source.push(s);
    result.target.push(t);
    result.references.push(referenceLines ? referenceLines[i].trim() : toReference(t));
    result.lineNumbers.push(i + 1);
  }
  return result;
}

const MOSES_ESCAPES: [RegExp, string][] = [
  [/&bar;|&#124;/g, "|"],
  [/&lt;/g, "<"],
  [/&gt;/g, ">"],
  [/&bra;|&#91;/g, "["],
  [/&ket;|&#93;/g, "]"],
  [/&quot;/g, '"'],
  [/&apos;/g, "'"],
  [/&amp;/g, "&"],
];

/**
 * A simple Moses-style detokenizer (our documented choice, not Moses' detokenizer.perl): undo XML
 * escapes, join `@@` units, attach `. , ! ? ; : % ) ] }` and `'s n't 're 've 'm 'll 'd` to the
 * previous word and `( [ {` and `$` to the next, drop `@-@` style WikiText separators' spaces.
 */
export function detokenize(tokens: readonly string[]): string {
  const words = BytePairEncoding.join(tokens).map((w) => MOSES_ESCAPES.reduce((s, [re, ch]) => s.replace(re, ch), w));
  let out = "";
  let glueNext = false;
  for (const w of words) {
    const attachLeft = /^[.,!?;:%)\]}]+$/.test(w) || /^'(s|re|ve|m|ll|d)$/i.test(w) || /^n't$/i.test(w);
    if (out === "" || glueNext || attachLeft) out += w;
    else out += " " + w;
    glueNext = /^[([{$]$/.test(w);
  }
  return out;
}

interface TranslationLayout {
  languages: [string, string];
  files: (split: SplitName, lang: string) => string;
  reference?: (split: SplitName, lang: string) => string;
  referenceFromTarget: (tokens: string[]) => string;
}

const MULTI30K_SPLITS: Record<SplitName, string> = { train: "train", valid: "val", test: "test_2016_flickr" };
const IWSLT15_SPLITS: Record<SplitName, string> = { train: "train", valid: "tst2012", test: "tst2013" };

const LAYOUTS: Record<string, TranslationLayout> = {
  multi30k_de_en: {
    languages: ["de", "en"],
    files: (split, lang) => `tok/${MULTI30K_SPLITS[split]}.lc.norm.tok.${lang}`,
    reference: (split, lang) => `raw/${MULTI30K_SPLITS[split]}.${lang}.gz`,
    referenceFromTarget: detokenize,
  },
  iwslt14_de_en: {
    languages: ["de", "en"],
    files: (split, lang) => `${split}.${lang}`,
    referenceFromTarget: (tokens) => BytePairEncoding.join(tokens).join(" "),
  },
  iwslt15_en_vi: {
    languages: ["en", "vi"],
    files: (split, lang) => `${IWSLT15_SPLITS[split]}.${lang}`,
    referenceFromTarget: detokenize,
  },
};

export type TranslationDatasetName = "multi30k_de_en" | "iwslt14_de_en" | "iwslt15_en_vi";

export interface TranslationCorpus {
  name: string;
  sourceLanguage: string;
  targetLanguage: string;
  splits: Partial<Record<SplitName, ParallelSplit>>;
}

export interface LoadTranslationOptions {
  sourceLanguage?: string;
  targetLanguage?: string;
  /** Which splits to read (default all three). */
  splits?: SplitName[];
  dataDir?: string;
  verify?: boolean;
}

/** Loads a translation corpus; the direction defaults to the name's order (de->en, en->vi). */
export function loadTranslationCorpus(name: TranslationDatasetName, options: LoadTranslationOptions = {}): TranslationCorpus {
  const layout = LAYOUTS[name];
  if (!layout) throw new Error(`Unknown translation dataset "${name}"; expected one of ${Object.keys(LAYOUTS).join(", ")}`);
  getManifestDataset(name);
  const sourceLanguage = options.sourceLanguage ?? layout.languages[0];
  const targetLanguage = options.targetLanguage ?? layout.languages[1];
  for (const [option, lang] of [["sourceLanguage", sourceLanguage], ["targetLanguage", targetLanguage]] as const)
    if (!layout.languages.includes(lang)) throw new Error(`loadTranslationCorpus(${name}): ${option} "${lang}" must be one of ${layout.languages.join(", ")}`);
  if (sourceLanguage === targetLanguage) throw new Error(`loadTranslationCorpus(${name}): sourceLanguage and targetLanguage must differ`);
  const corpus: TranslationCorpus = { name, sourceLanguage, targetLanguage, splits: {} };
  for (const split of options.splits ?? (["train", "valid", "test"] as SplitName[])) {
    const relative = [layout.files(split, sourceLanguage), layout.files(split, targetLanguage)];
    // Raw references are used when present; otherwise the documented `detokenize` of the target.
    const referenceRelative = layout.reference?.(split, targetLanguage);
    if (referenceRelative && fs.existsSync(path.join(datasetDirectory(name, options.dataDir), ...referenceRelative.split("/"))))
      relative.push(referenceRelative);
    let paths: string[];
    try {
      paths = requireDatasetFiles(name, relative, options);
    } catch (e) {
      if (name === "iwslt15_en_vi" && split === "train")
        throw new Error(
          `IWSLT'15 en-vi has no training set in ${datasetDirectory(name, options.dataDir)}: train.en/train.vi are absent ` +
            `(the shared copy ships only tst2012/tst2013). Download them with \`npm run data -- fetch iwslt15_en_vi\` ` +
            `(or point RNNLAB_DATA_DIR at a copy), or load only { splits: ["valid", "test"] }. (${(e as Error).message})`,
        );
      throw e;
    }
    corpus.splits[split] = readParallelFiles(paths[0], paths[1], {
      split,
      referenceFile: paths[2],
      referenceFromTarget: layout.referenceFromTarget,
    });
  }
  return corpus;
}
