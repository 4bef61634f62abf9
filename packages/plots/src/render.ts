/**
 * Render Plotly figure specs to PNG, SVG and a small interactive HTML file.
 *
 * One headless Chromium (Debian's, driven by playwright-core) is launched on first use and reused for
 * every figure until `closeRenderer()`; a page loads plotly.js once and `Plotly.toImage` produces the
 * images. Figures are built from result JSON only: nothing here trains.
 *
 * Rerendering an unchanged figure changes no byte, so that re-executing the notebooks leaves git clean:
 * - each PNG and SVG carries a key (a hash of the spec, size, scale and RENDER_VERSION); when the file on
 *   disk already carries the same key it is kept as it is (and Chromium is not even started), because a
 *   different Chromium or font set would otherwise re-encode identical figures;
 * - a fresh render is deterministic on one machine: Math.random (Plotly's source of clip-path ids and
 *   trace uids) is reseeded before each figure;
 * - the HTML file holds only the figure and loads plotly.js from the one copy in node_modules (with the
 *   plotly CDN as a fallback), so it is a few kilobytes and committed beside the PNG and SVG.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { writeFileAtomic } from "@rnnlab/core";
import type { Browser, Page } from "playwright-core";

export interface FigureSpec {
  data: Record<string, unknown>[];
  layout?: Record<string, unknown>;
  config?: Record<string, unknown>;
}

export interface RenderOptions {
  /** Directory for the files (created). */
  outDir: string;
  /** Base file name without extension. */
  name: string;
  width?: number;
  height?: number;
  /** Device scale for the PNG (2 = crisp on high-dpi screens). */
  scale?: number;
  formats?: ("png" | "svg" | "html")[];
}

export interface RenderedFigure {
  name: string;
  png?: Uint8Array;
  pngPath?: string;
  svgPath?: string;
  htmlPath?: string;
}

export class ChromiumMissingError extends Error {
  constructor(tried: string[]) {
    super(
      `No Chromium found for rendering figures (looked at RNNLAB_CHROMIUM and ${tried.join(", ")}).\n` +
        `Install it: \`npm run setup\` (runs apt-get install chromium on Debian/Ubuntu as root), ` +
        `or \`sudo apt-get install chromium\`, or set RNNLAB_CHROMIUM=/path/to/chrome.`,
    );
    this.name = "ChromiumMissingError";
  }
}

const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome", "/usr/bin/google-chrome-stable"];

export function findChromium(): string {
  const env = process.env.RNNLAB_CHROMIUM;
  if (env) {
    if (fs.existsSync(env)) return env;
    throw new ChromiumMissingError([env]);
  }
  for (const c of CANDIDATES) if (fs.existsSync(c)) return c;
  throw new ChromiumMissingError(CANDIDATES);
}

export function plotlyBundlePath(): string {
  return require.resolve("plotly.js-dist/plotly.js");
}

let browser: Browser | undefined;
let page: Page | undefined;
let starting: Promise<Page> | undefined;

async function getPage(): Promise<Page> {
  if (page) return page;
  if (starting) return starting;
  starting = (async () => {
    const executablePath = findChromium();
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({
      executablePath,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    const p = await browser.newPage();
    await p.setContent("<!doctype html><html><body><div id='fig'></div></body></html>");
    await p.addScriptTag({ path: plotlyBundlePath() });
    page = p;
    return p;
  })();
  try {
    return await starting;
  } finally {
    starting = undefined;
  }
}

/** Close the shared browser. Call it at the end of a notebook or script. */
export async function closeRenderer(): Promise<void> {
  const b = browser;
  browser = undefined;
  page = undefined;
  if (b) await b.close();
}

/** Bump when rendering changes in a way that should replace every figure file (e.g. new defaults). */
export const RENDER_VERSION = 2;

/** The key a figure file carries: it changes exactly when the rendered output would. */
export function figureKey(fig: FigureSpec, o: { format: string; width: number; height: number; scale: number }): string {
  return createHash("sha256")
    .update(JSON.stringify({ v: RENDER_VERSION, data: fig.data, layout: fig.layout ?? {}, ...o }))
    .digest("hex")
    .slice(0, 32);
}

const PNG_KEYWORD = "rnnlab-figure";

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** The PNG with a tEXt chunk `rnnlab-figure` = key inserted after IHDR. */
export function pngWithKey(png: Buffer, key: string): Buffer {
  const body = Buffer.concat([Buffer.from("tEXt", "latin1"), Buffer.from(`${PNG_KEYWORD}\0${key}`, "latin1")]);
  const chunk = Buffer.alloc(body.length + 8);
  chunk.writeUInt32BE(body.length - 4, 0);
  body.copy(chunk, 4);
  chunk.writeUInt32BE(crc32(body), body.length + 4);
  const ihdrEnd = 8 + 8 + png.readUInt32BE(8) + 4; // signature, then IHDR's length + type + data + crc
  return Buffer.concat([png.subarray(0, ihdrEnd), chunk, png.subarray(ihdrEnd)]);
}

/** The key of a PNG written by pngWithKey (undefined for any other file). */
export function pngKey(png: Buffer): string | undefined {
  let at = 8;
  while (at + 8 <= png.length) {
    const length = png.readUInt32BE(at);
    const type = png.toString("latin1", at + 4, at + 8);
    if (type === "IDAT" || type === "IEND") return undefined;
    if (type === "tEXt") {
      const text = png.toString("latin1", at + 8, at + 8 + length);
      if (text.startsWith(`${PNG_KEYWORD}\0`)) return text.slice(PNG_KEYWORD.length + 1);
    }
    at += length + 12;
  }
  return undefined;
}

function svgWithKey(svg: string, key: string): string {
  return svg.replace(/^<svg /, `<svg data-${PNG_KEYWORD}="${key}" `);
}

function svgKey(svg: string): string | undefined {
  return new RegExp(`^<svg data-${PNG_KEYWORD}="([0-9a-f]+)"`).exec(svg)?.[1];
}

function readIfExists(file: string): Buffer | undefined {
  try {
    return fs.readFileSync(file);
  } catch {
    return undefined;
  }
}

/** Write `content` unless the file already holds exactly it (keeps mtimes and avoids needless writes). */
function writeIfChanged(file: string, content: string | Buffer): void {
  const old = readIfExists(file);
  if (old && old.equals(typeof content === "string" ? Buffer.from(content) : content)) return;
  writeFileAtomic(file, content);
}

/** The CDN copy of the plotly.js version we render with, for HTML files opened away from a checkout. */
function plotlyCdnUrl(): string {
  const version = (JSON.parse(fs.readFileSync(path.join(path.dirname(plotlyBundlePath()), "package.json"), "utf8")) as { version: string }).version;
  return `https://cdn.plot.ly/plotly-${version}.min.js`;
}

function figureHtml(fig: FigureSpec, title: string, width: number, height: number, outDir: string): string {
  // One shared plotly.js: the installed package, by a relative path (so it works in any clone after
  // `npm ci`, through the notebook server and from file://), else the CDN.
  const local = path.relative(outDir, plotlyBundlePath()).split(path.sep).join("/");
  const json = JSON.stringify(fig).replace(/</g, "\\u003c");
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${title.replace(/</g, "&lt;")}</title>
<script src="${local}"></script>
<script>window.Plotly || document.write('<script src="${plotlyCdnUrl()}"><\\/script>');</script></head>
<body><div id="fig" style="width:${width}px;height:${height}px"></div>
<script>const f=${json};Plotly.newPlot("fig",f.data,Object.assign({width:${width},height:${height}},f.layout||{}),f.config||{});</script>
</body></html>
`;
}

/**
 * The parts of plotly.js that renderFigure's page code calls. plotly.js is loaded into the page as a script
 * (a global `Plotly`), not imported, so this states the API we rely on (plotly.js 2.x).
 */
interface PlotlyPageGlobal {
  newPlot(root: unknown, data: unknown, layout: unknown, config: { staticPlot: boolean }): Promise<unknown>;
  toImage(root: unknown, options: { format: "png" | "svg"; width: number; height: number; scale: number }): Promise<string>;
  purge(root: unknown): void;
}

/** Render one figure to the requested formats (default PNG + SVG + HTML); unchanged files are kept. */
export async function renderFigure(fig: FigureSpec, opts: RenderOptions): Promise<RenderedFigure> {
  const width = opts.width ?? 800;
  const height = opts.height ?? 500;
  const scale = opts.scale ?? 2;
  const formats = opts.formats ?? ["png", "svg", "html"];
  const out: RenderedFigure = { name: opts.name };
  fs.mkdirSync(opts.outDir, { recursive: true });
  const layout = { width, height, ...(fig.layout ?? {}) };
  const toImage = async (format: "png" | "svg"): Promise<string> => {
    const p = await getPage();
    return p.evaluate(
      async ({ data, layout, format, scale }) => {
        // Runs in the page, where plotly.js was loaded as a global. Plotly draws clip-path ids and trace
        // uids from Math.random: a fixed-seed generator (mulberry32) per figure makes the SVG reproducible.
        let seed = 0x9e3779b9;
        Math.random = () => {
          seed = (seed + 0x6d2b79f5) | 0;
          let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
          t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
          return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
        };
        const Plotly: PlotlyPageGlobal = Reflect.get(globalThis, "Plotly");
        const gd = (globalThis as any).document.getElementById("fig");
        await Plotly.newPlot(gd, data, layout, { staticPlot: true });
        const url: string = await Plotly.toImage(gd, { format, width: layout.width, height: layout.height, scale });
        Plotly.purge(gd);
        return url;
      },
      { data: fig.data, layout, format, scale },
    );
  };
  if (formats.includes("png")) {
    out.pngPath = path.join(opts.outDir, `${opts.name}.png`);
    const key = figureKey(fig, { format: "png", width, height, scale });
    let png = readIfExists(out.pngPath);
    if (!png || pngKey(png) !== key) {
      const url = await toImage("png");
      png = pngWithKey(Buffer.from(url.slice(url.indexOf(",") + 1), "base64"), key);
      writeFileAtomic(out.pngPath, png);
    }
    out.png = new Uint8Array(png);
  }
  if (formats.includes("svg")) {
    out.svgPath = path.join(opts.outDir, `${opts.name}.svg`);
    // The SVG's viewBox is the layout size; scale only sets its nominal width and height.
    const key = figureKey(fig, { format: "svg", width, height, scale });
    const old = readIfExists(out.svgPath)?.toString("utf8");
    if (!old || svgKey(old) !== key) {
      const url = await toImage("svg");
      writeFileAtomic(out.svgPath, svgWithKey(decodeURIComponent(url.slice(url.indexOf(",") + 1)), key));
    }
  }
  if (formats.includes("html")) {
    out.htmlPath = path.join(opts.outDir, `${opts.name}.html`);
    writeIfChanged(out.htmlPath, figureHtml(fig, opts.name, width, height, opts.outDir));
  }
  return out;
}
