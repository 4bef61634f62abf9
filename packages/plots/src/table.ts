/**
 * Result tables as danfojs DataFrames: built from plain rows, shown as HTML in notebooks, written as CSV.
 * (danfojs's readCSV/toHTML need a browser; CSV text and HTML are produced here instead.)
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { DataFrame, toCSV } from "danfojs";
import { writeFileAtomic } from "@rnnlab/core";

export type Row = Record<string, string | number | boolean | null>;

export function tableFromRows(rows: Row[], columns?: string[]): DataFrame {
  if (rows.length === 0) throw new Error("tableFromRows: no rows");
  const cols = columns ?? Object.keys(rows[0]);
  return new DataFrame(rows.map((r) => cols.map((c) => r[c] ?? null)), { columns: cols });
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function formatCell(v: unknown, digits: number): string {
  if (v === null || v === undefined || (typeof v === "number" && Number.isNaN(v))) return "";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(digits);
  return String(v);
}

/** An HTML table of a DataFrame (numbers to `digits` decimals). */
export function tableHtml(df: DataFrame, opts: { digits?: number; caption?: string } = {}): string {
  const digits = opts.digits ?? 3;
  const cols = df.columns as string[];
  const values = df.values as unknown[][];
  // camelCase column names may wrap between their words (<wbr>), so a wide table fits the notebook
  // instead of hiding columns behind a scrollbar.
  const head = cols.map((c) => `<th>${escapeHtml(c).replace(/([a-z])([A-Z])/g, "$1<wbr>$2")}</th>`).join("");
  const body = values
    .map((row) => `<tr>${row.map((v) => `<td>${escapeHtml(formatCell(v, digits))}</td>`).join("")}</tr>`)
    .join("\n");
  const caption = opts.caption ? `<caption>${escapeHtml(opts.caption)}</caption>` : "";
  return `<table class="rnnlab-table" style="font-size:smaller">${caption}<thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** A GitHub-flavoured markdown table of a DataFrame. */
export function tableMarkdown(df: DataFrame, opts: { digits?: number } = {}): string {
  const digits = opts.digits ?? 3;
  const cols = df.columns as string[];
  const lines = [`| ${cols.join(" | ")} |`, `|${cols.map(() => "---").join("|")}|`];
  for (const row of df.values as unknown[][]) lines.push(`| ${row.map((v) => formatCell(v, digits)).join(" | ")} |`);
  return lines.join("\n");
}

/** Write the DataFrame as CSV (atomically); returns the path. */
export function writeTableCsv(df: DataFrame, file: string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic(file, toCSV(df) as string);
  return file;
}
