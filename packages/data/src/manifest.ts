/**
 * The dataset manifest (`datasets/manifest.json`): for each dataset, the files expected inside
 * `<data dir>/<dataset>/` with size and sha256, and where to download them.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { repoRoot } from "@rnnlab/core";

export type ArchiveType = "none" | "gz" | "zip" | "tgz";

export interface ManifestFile {
  /** Relative to the dataset folder, with `/` separators. */
  path: string;
  /** Bytes; null when not known (e.g. locally prepared IWSLT'14 files). */
  size: number | null;
  sha256: string | null;
  lines?: number | null;
  note?: string;
}

export interface ExtractTarget {
  /** Path inside a zip/tgz archive; absent for `none` and `gz`. */
  member?: string;
  /** Destination, relative to the dataset folder. */
  file: string;
}

export interface ManifestSource {
  url: string;
  /** Tried in order after `url` fails. */
  mirrors?: string[];
  archive: ArchiveType;
  /** Size and sha256 of the downloaded file itself, when known. */
  size?: number;
  sha256?: string;
  targets: ExtractTarget[];
  note?: string;
}

export interface ManifestDataset {
  title: string;
  licence: string;
  files: ManifestFile[];
  counts: Record<string, number | string | null>;
  sources: ManifestSource[];
  splits?: Record<string, string>;
  layout?: string;
  checksumsKnown?: boolean;
  prepare?: { rawArchive: string; script: string; steps: string[]; note: string };
}

export interface Manifest {
  schemaVersion: number;
  note?: string;
  datasets: Record<string, ManifestDataset>;
}

export const DATASET_NAMES = ["ptb", "wikitext-2", "multi30k_de_en", "iwslt15_en_vi", "iwslt14_de_en", "conll2003", "wnut17"] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

let cached: { file: string; manifest: Manifest } | null = null;

/** `RNNLAB_MANIFEST` (for tests and private mirrors), else `<repo>/datasets/manifest.json`. */
export function manifestPath(): string {
  return path.resolve(process.env.RNNLAB_MANIFEST ?? path.join(repoRoot(__dirname), "datasets", "manifest.json"));
}

/** Parses and checks the manifest (cached per process). */
export function loadManifest(file: string = manifestPath()): Manifest {
  if (cached && cached.file === file) return cached.manifest;
  const manifest = JSON.parse(fs.readFileSync(file, "utf8")) as Manifest;
  if (manifest.schemaVersion !== 1) throw new Error(`${file}: unsupported schemaVersion ${manifest.schemaVersion}; expected 1.`);
  for (const [name, d] of Object.entries(manifest.datasets)) {
    for (const f of d.files) {
      if (f.sha256 !== null && !/^[0-9a-f]{64}$/.test(f.sha256)) throw new Error(`${file}: dataset ${name}, file ${f.path}: sha256 must be 64 hex digits.`);
      if (f.path.includes("..") || path.isAbsolute(f.path)) throw new Error(`${file}: dataset ${name}: file path ${f.path} must be relative, without '..'.`);
    }
  }
  cached = { file, manifest };
  return manifest;
}

export function getManifestDataset(name: string, manifest: Manifest = loadManifest()): ManifestDataset {
  const d = manifest.datasets[name];
  if (!d) throw new Error(`Unknown dataset "${name}"; known datasets: ${Object.keys(manifest.datasets).join(", ")}.`);
  return d;
}
