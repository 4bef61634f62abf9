/**
 * Render Plotly figure specs to PNG, SVG and a self-contained interactive HTML file.
 *
 * One headless Chromium (Debian's, driven by playwright-core) is launched on first use and reused for
 * every figure until `closeRenderer()`; a page loads plotly.js once and `Plotly.toImage` produces the
 * images, so figures are byte-identical across runs on the same machine. Figures are built from result
 * JSON only: nothing here trains.
 */
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

function figureHtml(fig: FigureSpec, title: string, width: number, height: number): string {
  const plotly = fs.readFileSync(plotlyBundlePath(), "utf8");
  const json = JSON.stringify(fig).replace(/</g, "\\u003c");
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${title.replace(/</g, "&lt;")}</title>
<script>${plotly}</script></head>
<body><div id="fig" style="width:${width}px;height:${height}px"></div>
<script>const f=${json};Plotly.newPlot("fig",f.data,Object.assign({width:${width},height:${height}},f.layout||{}),f.config||{});</script>
</body></html>
`;
}

/** Render one figure to the requested formats (default PNG + SVG + HTML). */
export async function renderFigure(fig: FigureSpec, opts: RenderOptions): Promise<RenderedFigure> {
  const width = opts.width ?? 800;
  const height = opts.height ?? 500;
  const formats = opts.formats ?? ["png", "svg", "html"];
  const out: RenderedFigure = { name: opts.name };
  fs.mkdirSync(opts.outDir, { recursive: true });
  const layout = { width, height, ...(fig.layout ?? {}) };
  if (formats.includes("png") || formats.includes("svg")) {
    const p = await getPage();
    const toImage = async (format: "png" | "svg"): Promise<string> =>
      p.evaluate(
        async ({ data, layout, format, scale }) => {
          // Runs in the page, where plotly.js was loaded as a global.
          const Plotly = (globalThis as unknown as { Plotly: any }).Plotly;
          const gd = (globalThis as any).document.getElementById("fig");
          await Plotly.newPlot(gd, data, layout, { staticPlot: true });
          const url: string = await Plotly.toImage(gd, { format, width: layout.width, height: layout.height, scale });
          Plotly.purge(gd);
          return url;
        },
        { data: fig.data, layout, format, scale: opts.scale ?? 2 },
      );
    if (formats.includes("png")) {
      const url = await toImage("png");
      const png = Buffer.from(url.slice(url.indexOf(",") + 1), "base64");
      out.png = new Uint8Array(png);
      out.pngPath = path.join(opts.outDir, `${opts.name}.png`);
      writeFileAtomic(out.pngPath, png);
    }
    if (formats.includes("svg")) {
      const url = await toImage("svg");
      const svg = decodeURIComponent(url.slice(url.indexOf(",") + 1));
      out.svgPath = path.join(opts.outDir, `${opts.name}.svg`);
      writeFileAtomic(out.svgPath, svg);
    }
  }
  if (formats.includes("html")) {
    out.htmlPath = path.join(opts.outDir, `${opts.name}.html`);
    writeFileAtomic(out.htmlPath, figureHtml(fig, opts.name, width, height));
  }
  return out;
}
