/**
 * The notebook workspace as a newcomer meets it, in a real browser: `npm run notebooks` (scripts/notebooks.sh)
 * starts a Jupyter server rooted at the repository; headless Chromium (playwright-core) opens
 * notebooks/00-environment.ipynb, checks it runs on the rnnlab tslab kernel, runs every cell through the
 * page and waits for the figure and the table; then every link in every notebook's markdown (cells and
 * markdown outputs, e.g. the figures' "interactive" and "SVG" links) must answer 200 from that server, and
 * every interactive figure's plotly.js too. Nothing is saved: autosave is switched off in the page.
 * Skipped where Jupyter's classic notebook server or Chromium is missing (`npm run setup` installs both).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";

const root = path.resolve(__dirname, "..");
const chromium = [process.env.RNNLAB_CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].find((p) => p && fs.existsSync(p));
const python = process.env.RNNLAB_PYTHON ?? "/usr/bin/python3";
const haveNotebook = spawnSync(python, ["-c", "import notebook"]).status === 0;
const skip = !chromium ? "no Chromium (npm run setup)" : !haveNotebook ? "no Jupyter notebook server (npm run setup)" : false;

/** Relative and absolute link targets in markdown text: [text](target) and href="target". */
export function markdownLinks(text: string): string[] {
  const links: string[] = [];
  for (const m of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)|href="([^"]+)"/g)) links.push(m[1] ?? m[2]);
  return links;
}

interface Cell { cell_type: string; source: string | string[]; outputs?: { data?: Record<string, string | string[]> }[] }

/** Every link in a notebook's markdown cells and markdown outputs. */
function notebookLinks(file: string): string[] {
  const nb = JSON.parse(fs.readFileSync(file, "utf8")) as { cells: Cell[] };
  const texts: string[] = [];
  for (const c of nb.cells) {
    if (c.cell_type === "markdown") texts.push([c.source].flat().join(""));
    for (const o of c.outputs ?? []) if (o.data?.["text/markdown"]) texts.push([o.data["text/markdown"]].flat().join(""));
  }
  return [...new Set(texts.flatMap(markdownLinks))];
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

test("the notebook server runs 00-environment.ipynb in Chromium on the rnnlab kernel, and every notebook link answers 200", { skip, timeout: 300_000 }, async () => {
  const t0 = Date.now();
  const port = await freePort();
  const token = crypto.randomBytes(16).toString("hex");
  const base = `http://127.0.0.1:${port}`;
  let log = "";
  const server: ChildProcess = spawn("bash", [path.join(root, "scripts", "notebooks.sh")], {
    cwd: root,
    detached: true, // its own process group: the server and its kernels are stopped together
    env: { ...process.env, RNNLAB_NOTEBOOK_PORT: String(port), RNNLAB_NOTEBOOK_TOKEN: token, RNNLAB_NOTEBOOK_BROWSER: "0", RNNLAB_NOTEBOOK_IP: "127.0.0.1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  server.stdout!.on("data", (d) => (log += d));
  server.stderr!.on("data", (d) => (log += d));
  const { chromium: pw } = await import("playwright-core");
  const browser = await pw.launch({
    executablePath: chromium!,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"],
  });
  try {
    // The script prints the URL to open, with the token.
    const printed = await waitFor("the server's URL", 60_000, async () => /open (http:\/\/\S+)/.exec(log)?.[1]);
    assert.match(printed, new RegExp(`^${base}/tree/notebooks\\?token=${token}$`));
    await waitFor("the server", 60_000, async () => ((await fetch(`${base}/api/status?token=${token}`)).ok ? true : undefined));
    const tServer = Date.now();

    const context = await browser.newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${base}/notebooks/notebooks/00-environment.ipynb?token=${token}`);
    // The notebook's own kernelspec is the rnnlab kernel; wait until it is connected and idle.
    await page.waitForFunction(() => {
      const J = (globalThis as any).Jupyter;
      return J?.notebook?.kernel?.is_connected?.() && J.notebook.kernel_busy === false;
    }, undefined, { timeout: 90_000 });
    const kernel = await page.evaluate(() => {
      const J = (globalThis as any).Jupyter;
      J.notebook.set_autosave_interval(0); // never write the notebook back
      return { name: J.notebook.kernel.name, display: J.notebook.metadata.kernelspec.display_name };
    });
    assert.deepEqual(kernel, { name: "tslab", display: "TypeScript (rnnlab, tslab)" });

    await page.evaluate(() => {
      const J = (globalThis as any).Jupyter;
      J.notebook.clear_all_output();
      J.notebook.execute_all_cells();
    });
    // Every code cell gets its number (no "*" left), and the kernel goes idle.
    await page.waitForFunction(() => {
      const J = (globalThis as any).Jupyter;
      const code = J.notebook.get_cells().filter((c: any) => c.cell_type === "code");
      return J.notebook.kernel_busy === false && code.every((c: any) => typeof c.input_prompt_number === "number");
    }, undefined, { timeout: 150_000, polling: 500 });
    const state = await page.evaluate(() => {
      const d = (globalThis as any).document;
      const J = (globalThis as any).Jupyter;
      return {
        prompts: J.notebook.get_cells().filter((c: any) => c.cell_type === "code").map((c: any) => c.input_prompt_number),
        errors: d.querySelectorAll(".output_error, .output_stderr").length,
        figures: [...d.querySelectorAll(".output_png img")].map((i: any) => i.naturalWidth),
        tables: d.querySelectorAll("table.rnnlab-table").length,
        backend: d.querySelector(".output_markdown")?.textContent ?? "",
      };
    });
    assert.deepEqual(state.prompts, state.prompts.map((_: number, i: number) => i + 1), "cells ran in order, numbered from 1");
    assert.equal(state.errors, 0, "no cell failed or wrote to stderr");
    assert.ok(state.figures.length >= 1 && state.figures.every((w: number) => w > 0), "the figure (PNG) is shown");
    assert.equal(state.tables, 1, "the table is shown");
    assert.match(state.backend, /TF\.js backend/);
    assert.deepEqual(errors, [], "no JavaScript errors in the page");

    // Every link in every notebook's markdown, resolved as the browser does from the notebook's URL.
    const notebooks = fs.readdirSync(path.join(root, "notebooks")).filter((f) => f.endsWith(".ipynb")).sort();
    const checked: string[] = [];
    const failures: string[] = [];
    const scripts = new Map<string, number>();
    const tLinks = Date.now();
    for (const nb of notebooks) {
      const from = `${base}/notebooks/notebooks/${nb}`;
      for (const link of notebookLinks(path.join(root, "notebooks", nb))) {
        if (/^(https?:|mailto:|#)/.test(link)) continue; // external sites are not reachable from tests
        const url = new URL(link, from);
        url.hash = "";
        // As a click in the page: the login cookie from opening the notebook, the notebook as referer.
        const r = await page.request.get(url.toString(), { headers: { Referer: from } });
        checked.push(link);
        if (r.status() !== 200) failures.push(`${nb}: ${link} -> ${r.status()}`);
        else if (link.endsWith(".html")) {
          // An interactive figure loads the shared plotly.js by a relative path.
          // (GET, once per address: the classic server answers HEAD on files with 500.)
          const src = /<script src="([^"]+)"/.exec(await r.text())?.[1];
          const js = src ? new URL(src, r.url()).toString() : "";
          if (js && !scripts.has(js)) scripts.set(js, (await page.request.get(js, { headers: { Referer: r.url() } })).status());
          if (!js || scripts.get(js) !== 200) failures.push(`${nb}: ${link}: plotly.js ${src} -> ${js ? scripts.get(js) : "no <script src>"}`);
        }
      }
    }
    assert.deepEqual(failures, [], `links that do not answer 200 (${checked.length} checked)`);
    assert.ok(checked.length >= 20, `found the notebooks' links (${checked.length})`);
    // Shut the kernel down through the server, as closing the notebook from the UI would.
    for (const s of (await (await fetch(`${base}/api/sessions?token=${token}`)).json()) as { id: string }[]) {
      await fetch(`${base}/api/sessions/${s.id}?token=${token}`, { method: "DELETE" });
    }
    process.stderr.write(
      `browser test: server up in ${((tServer - t0) / 1000).toFixed(1)} s, notebook ran in ${((tLinks - tServer) / 1000).toFixed(1)} s, ` +
        `${checked.length} links checked in ${((Date.now() - tLinks) / 1000).toFixed(1)} s; ${((Date.now() - t0) / 1000).toFixed(1)} s in all\n`,
    );
  } catch (e) {
    throw new Error(`${(e as Error).message}\n--- server log (tail) ---\n${log.slice(-3000)}`);
  } finally {
    await browser.close();
    try {
      process.kill(-server.pid!, "SIGTERM");
    } catch {
      // already gone
    }
  }
});
