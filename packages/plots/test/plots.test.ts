import { test, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { closeRenderer, lineFigure, logAxis, pngKey, renderFigure, tableFromRows, tableHtml, tableMarkdown, writeTableCsv, progressHtml, liveProgress } from "../src";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-plots-"));
after(async () => {
  await closeRenderer();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const fig = lineFigure({
  title: "test",
  xTitle: "x",
  yTitle: "y",
  series: [{ name: "a", x: [1, 2, 3], y: [3, 1, 2], band: [0.1, 0.2, 0.1] }],
  references: [{ name: "baseline", y: 2.5 }],
});

test("renderFigure writes a PNG of the requested size, an SVG and a small HTML file that loads the shared plotly.js", async () => {
  const r = await renderFigure(fig, { outDir: tmp, name: "f", width: 400, height: 300, scale: 1 });
  const png = fs.readFileSync(r.pngPath!);
  assert.deepEqual([...png.subarray(1, 4)].map((c) => String.fromCharCode(c)).join(""), "PNG");
  assert.equal(png.readUInt32BE(16), 400);
  assert.equal(png.readUInt32BE(20), 300);
  assert.ok(pngKey(png), "the PNG carries its figure key");
  assert.match(fs.readFileSync(r.svgPath!, "utf8"), /^<svg[\s\S]*baseline[\s\S]*<\/svg>$/);
  const html = fs.readFileSync(r.htmlPath!, "utf8");
  assert.match(html, /Plotly\.newPlot/);
  assert.ok(html.length < 20_000, `plotly.js is not inlined (${html.length} bytes)`);
  const src = /<script src="([^"]+)"/.exec(html)![1];
  assert.ok(fs.existsSync(path.resolve(tmp, src)), `the relative plotly.js path ${src} resolves`);
  // The browser is reused: a second figure renders and gives identical bytes for identical input.
  const r2 = await renderFigure(fig, { outDir: tmp, name: "g", width: 400, height: 300, scale: 1, formats: ["png"] });
  assert.deepEqual(fs.readFileSync(r2.pngPath!), png);
});

test("rerendering changes no byte: unchanged figures are kept, fresh SVGs have stable ids", async () => {
  const opts = { outDir: path.join(tmp, "stable"), name: "s", width: 400, height: 300, scale: 1 };
  const first = await renderFigure(fig, opts);
  const bytes = () => ["png", "svg", "html"].map((e) => fs.readFileSync(path.join(opts.outDir, `s.${e}`)));
  const before = bytes();
  // A file carrying the same key is kept even if its bytes differ (another machine's Chromium, fonts).
  fs.appendFileSync(first.pngPath!, Buffer.from("from another machine"));
  const kept = fs.readFileSync(first.pngPath!);
  await renderFigure(fig, opts);
  assert.deepEqual(fs.readFileSync(first.pngPath!), kept, "PNG with the current key is not rewritten");
  fs.writeFileSync(first.pngPath!, before[0]);
  // A fresh render (files removed) reproduces the same bytes, random Plotly ids included.
  for (const e of ["png", "svg"]) fs.rmSync(path.join(opts.outDir, `s.${e}`));
  await renderFigure(fig, opts);
  assert.deepEqual(bytes(), before);
  // A changed figure is rendered again.
  const changed = await renderFigure(lineFigure({ title: "changed", xTitle: "x", yTitle: "y", series: [{ name: "a", x: [1, 2], y: [1, 2] }] }), opts);
  assert.notEqual(pngKey(fs.readFileSync(changed.pngPath!)), pngKey(before[0]));
});

test("a missing Chromium is a clear error naming the fix", () => {
  const r = spawnSync(process.execPath, ["--import", "tsx", "-e", `require("./packages/plots/src").renderFigure({data:[]},{outDir:"${tmp}",name:"x"}).catch(e=>{console.error(e.message);process.exit(3)})`], {
    cwd: path.resolve(__dirname, "../../.."),
    env: { ...process.env, RNNLAB_CHROMIUM: "/nonexistent/chrome" },
    encoding: "utf8",
  });
  assert.equal(r.status, 3);
  assert.match(r.stderr, /No Chromium found[\s\S]*npm run setup[\s\S]*RNNLAB_CHROMIUM/);
});

test("tables: HTML, markdown and CSV from rows", () => {
  const df = tableFromRows([{ arm: "lstm", ppl: 100.123456 }, { arm: "g2 <x>", ppl: 98.5 }]);
  assert.match(tableHtml(df, { digits: 2 }), /<td>100\.12<\/td>[\s\S]*g2 &lt;x&gt;/);
  assert.equal(tableMarkdown(df, { digits: 1 }).split("\n")[2], "| lstm | 100.1 |");
  const file = writeTableCsv(df, path.join(tmp, "t.csv"));
  assert.equal(fs.readFileSync(file, "utf8").trim().split("\n")[0], "arm,ppl");
  assert.throws(() => tableFromRows([]), /no rows/);
});

test("live progress throttles redraws but always shows the final state", () => {
  const shown: string[] = [];
  const p = liveProgress({ html: (s) => shown.push(s) }, { maxPerSecond: 1 });
  for (let i = 1; i <= 50; i++) p.update({ done: i, total: 100, metrics: { loss: 1 / i } });
  assert.equal(shown.length, 1, "one redraw within the throttle window");
  p.finish();
  assert.match(shown.at(-1)!, /50\/100/);
  assert.doesNotMatch(shown.at(-1)!, /ETA|\d s /, "the saved final state has no timing (re-executing changes nothing)");
  assert.match(shown.at(-1)!, /<polyline/);
  assert.match(progressHtml({ done: 3, total: 3 }), /3\/3/);
});

test("log axes label their ticks with full numbers, not bare digits", () => {
  // Under a decade every tick is labelled in full (2000 … 9000, not 2 … 9); up to 4 decades 1-2-5 per decade.
  assert.deepEqual(logAxis([2000, 9000]), { type: "log", tickformat: "~g" });
  assert.deepEqual(logAxis([0.003, 0.2]), { type: "log", tickformat: "~g", dtick: "D2" });
  assert.deepEqual(logAxis([1e-15, 0.1]), { type: "log" });
  const fig = lineFigure({ title: "t", xTitle: "x", yTitle: "y", logY: true, series: [{ name: "a", x: [1, 2], y: [2000, 9000] }] });
  assert.equal((fig.layout!.yaxis as { tickformat?: string }).tickformat, "~g");
});
