"""Writes notebooks/00-environment.ipynb (the source of truth for its cells)."""
import nbformat as nbf

nb = nbf.v4.new_notebook()
nb.metadata = {
    "kernelspec": {"name": "tslab", "display_name": "TypeScript (rnnlab, tslab)", "language": "typescript"},
    "language_info": {"name": "typescript", "file_extension": ".ts", "mimetype": "text/typescript"},
}
md, code = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell
nb.cells = [
    md("# rnnlab environment check\n\n"
       "Runs in a few seconds and shows that this machine can do everything the paper notebooks need: "
       "the TF.js backend that was chosen (and why the others were skipped), a short real training run with a "
       "live progress display, a Plotly figure rendered to PNG (inline) and interactive HTML, and a danfojs table.\n\n"
       "The backend is picked once per kernel from `RNNLAB_BACKEND` (`auto` tries tfjs-node-gpu, tfjs-node, wasm, cpu). "
       "Figures and tables go to `results/environment/` (or `$RNNLAB_RESULTS_DIR/environment/`)."),
    code('import * as tslab from "tslab";\n'
         'import { selectBackend, environmentInfo, environmentMarkdown, trainTinyRegression, resultsDir } from "@rnnlab/core";\n'
         'import { liveProgress, lineFigure, renderFigure, showFigure, closeRenderer, tableFromRows, tableHtml, writeTableCsv } from "@rnnlab/plots";\n'
         'import * as path from "node:path";\n\n'
         'const backend = await selectBackend();\n'
         'const env = environmentInfo(backend);\n'
         'tslab.display.markdown(environmentMarkdown(env));'),
    md("## A few seconds of training\n\nA seeded 2-layer MLP (64 units) fits $y = \\sin(3x_1)\\,x_2$ + noise with Adam; "
       "the bar below updates live while it trains. The dotted line is the loss of always predicting the mean."),
    code('const progress = liveProgress(tslab.newDisplay(), { label: "tiny MLP" });\n'
         'const fit = await trainTinyRegression({\n'
         '  seed: 0,\n'
         '  epochs: 30,\n'
         '  onProgress: (p) => progress.update({ done: p.epoch, total: p.epochs, metrics: { loss: p.loss, val: p.validationLoss } }),\n'
         '});\n'
         'progress.finish();'),
    md("## A figure: PNG inline, interactive HTML beside it"),
    code('const outDir = path.join(resultsDir(), "environment");\n'
         'const figure = lineFigure({\n'
         '  title: `Tiny MLP on ${env.backend}`,\n'
         '  xTitle: "epoch",\n'
         '  yTitle: "mean squared error",\n'
         '  logY: true,\n'
         '  series: [\n'
         '    { name: "train", x: fit.curve.map((p) => p.epoch), y: fit.curve.map((p) => p.loss) },\n'
         '    { name: "validation", x: fit.curve.map((p) => p.epoch), y: fit.curve.map((p) => p.validationLoss) },\n'
         '  ],\n'
         '  references: [{ name: "predict the mean", y: fit.baselineLoss }],\n'
         '});\n'
         'const rendered = await renderFigure(figure, { outDir: path.join(outDir, "figures"), name: "tiny-mlp-loss" });\n'
         'showFigure(tslab.display, rendered);'),
    md("## A table (danfojs), shown as HTML and written as CSV"),
    code('const table = tableFromRows([\n'
         '  { quantity: "parameters", value: fit.parameters },\n'
         '  { quantity: "epochs", value: fit.curve.length },\n'
         '  { quantity: "seconds", value: fit.seconds },\n'
         '  { quantity: "final train MSE", value: fit.curve.at(-1)!.loss },\n'
         '  { quantity: "final validation MSE", value: fit.curve.at(-1)!.validationLoss },\n'
         '  { quantity: "baseline MSE (predict the mean)", value: fit.baselineLoss },\n'
         ']);\n'
         'tslab.display.html(tableHtml(table, { digits: 4 }));\n'
         'writeTableCsv(table, path.join(outDir, "tiny-mlp.csv"));\n'
         'await closeRenderer();'),
]
nbf.write(nb, "notebooks/00-environment.ipynb")
