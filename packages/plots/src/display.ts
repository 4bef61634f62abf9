/**
 * Notebook display glue. The kernel's `tslab` module is passed in (`tslab.display`, `tslab.newDisplay()`),
 * so this package does not depend on the kernel and works in plain scripts too.
 */
import * as path from "node:path";
import type { RenderedFigure } from "./render";

/** The subset of tslab's Display this package uses. */
export interface NotebookDisplay {
  html(s: string): void;
  markdown(s: string): void;
  png(b: Uint8Array): void;
}

/** Show a rendered figure: the PNG inline (renders everywhere) and a link to the interactive HTML. */
export function showFigure(display: NotebookDisplay, fig: RenderedFigure, relativeTo = process.cwd()): void {
  if (fig.png) display.png(fig.png);
  const links: string[] = [];
  if (fig.htmlPath) links.push(`[interactive](${path.relative(relativeTo, fig.htmlPath)})`);
  if (fig.svgPath) links.push(`[SVG](${path.relative(relativeTo, fig.svgPath)})`);
  if (links.length) display.markdown(`${fig.name}: ${links.join(" · ")}`);
}
