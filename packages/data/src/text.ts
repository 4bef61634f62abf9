/**
 * Strict text reading: every loader goes through here so that bad bytes and empty files fail with
 * `file:line` instead of turning into U+FFFD tokens or silently empty splits.
 */
import * as fs from "node:fs";
import * as zlib from "node:zlib";

const strictDecoder = new TextDecoder("utf-8", { fatal: true });

/** Decodes UTF-8 strictly; on failure names the first offending line and byte. */
export function decodeUtf8(bytes: Uint8Array, file: string): string {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    // The decoder does not say where it failed: find the first line that does not decode.
    let start = 0;
    let line = 1;
    for (let i = 0; i <= bytes.length; i++) {
      if (i === bytes.length || bytes[i] === 0x0a) {
        const slice = bytes.subarray(start, i);
        try {
          strictDecoder.decode(slice);
        } catch {
          const column = firstInvalidByte(slice);
          throw new Error(
            `${file}:${line}: invalid UTF-8 (byte 0x${slice[column].toString(16).padStart(2, "0")} at byte column ${column + 1}); ` +
              `expected UTF-8 text. Re-fetch the file (npm run data -- fetch <name>) or convert it with iconv.`,
          );
        }
        start = i + 1;
        line++;
      }
    }
    throw new Error(`${file}: invalid UTF-8 (position unknown); expected UTF-8 text.`);
  }
}

function firstInvalidByte(slice: Uint8Array): number {
  for (let end = 1; end <= slice.length; end++) {
    try {
      // A prefix that fails even with streaming (incomplete tail allowed) contains the bad byte.
      new TextDecoder("utf-8", { fatal: true }).decode(slice.subarray(0, end), { stream: true });
    } catch {
      return end - 1;
    }
  }
  return slice.length - 1;
}

export interface ReadTextOptions {
  /** Decompress with gzip first (for `.gz` files). Default: by the `.gz` suffix. */
  gzip?: boolean;
  /** What the file should contain, for the empty-file message. */
  expected?: string;
}

/** Reads a whole UTF-8 file (optionally gzip), rejecting empty files and invalid bytes. */
export function readTextFile(file: string, options: ReadTextOptions = {}): string {
  let bytes: Uint8Array = fs.readFileSync(file);
  if (options.gzip ?? file.endsWith(".gz")) {
    try {
      bytes = zlib.gunzipSync(bytes);
    } catch (e) {
      throw new Error(`${file}: not a valid gzip file (${(e as Error).message}); re-fetch it.`);
    }
  }
  if (bytes.length === 0) throw new Error(`${file}: empty file; expected ${options.expected ?? "text"}.`);
  return decodeUtf8(bytes, file);
}

/**
 * Splits text into lines. A final newline does not start an extra empty line (so `wc -l` and the
 * number of returned lines agree for newline-terminated files); `\r\n` is accepted.
 */
export function splitLines(text: string): string[] {
  const lines = text.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  for (let i = 0; i < lines.length; i++) if (lines[i].endsWith("\r")) lines[i] = lines[i].slice(0, -1);
  return lines;
}

/** Reads a file as lines (see `splitLines`). */
export function readLines(file: string, options: ReadTextOptions = {}): string[] {
  return splitLines(readTextFile(file, options));
}
