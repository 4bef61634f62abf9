/**
 * `npm run data -- <command>`: fetch, verify and list datasets of datasets/manifest.json.
 * Progress bars (cli-progress) on a terminal, one plain line per event otherwise.
 */
import { Command } from "commander";
import * as cliProgress from "cli-progress";
import { fetchDataset, type FetchProgressEvent } from "./fetch";
import { loadManifest } from "./manifest";
import { checkDataset, dataDirectory } from "./store";

function progressPrinter(): { onProgress: (e: FetchProgressEvent) => void; stop: () => void } {
  const tty = Boolean(process.stderr.isTTY);
  let bar: cliProgress.SingleBar | null = null;
  let lastLine = 0;
  const stop = () => {
    bar?.stop();
    bar = null;
  };
  const onProgress = (e: FetchProgressEvent) => {
    switch (e.type) {
      case "download-start":
        if (tty && e.totalBytes !== null) {
          bar = new cliProgress.SingleBar(
            { format: `${e.url} [{bar}] {percentage}% {value}/{total} bytes`, stream: process.stderr },
            cliProgress.Presets.shades_classic,
          );
          bar.start(e.totalBytes, e.resumedFrom);
        } else console.error(`downloading ${e.url}${e.resumedFrom ? ` (resuming at byte ${e.resumedFrom})` : ""}${e.totalBytes ? `, ${e.totalBytes} bytes` : ""}`);
        break;
      case "download-progress":
        if (bar) bar.update(e.receivedBytes);
        else if (Date.now() - lastLine > 5000) {
          lastLine = Date.now();
          console.error(`  ${e.receivedBytes}${e.totalBytes ? `/${e.totalBytes}` : ""} bytes`);
        }
        break;
      case "download-done":
        stop();
        console.error(`downloaded ${e.url} (${e.receivedBytes} bytes)`);
        break;
      case "extract":
        console.error(`extracting ${e.file}`);
        break;
      case "placed":
        console.error(`placed ${e.file} (verified)`);
        break;
      case "skip":
        console.error(`skipping ${e.file}: ${e.reason}`);
        break;
      case "source-failed":
        stop();
        console.error(`failed ${e.url}: ${e.error}`);
        break;
    }
  };
  return { onProgress, stop };
}

const program = new Command();
program.name("rnnlab-data").description("Fetch, verify and list rnnlab datasets (data directory: RNNLAB_DATA_DIR, default <repo>/datasets)");

program
  .command("fetch")
  .argument("<names...>", "dataset names from datasets/manifest.json")
  .option("--force", "re-download files that are already present and verified")
  .description("download, extract, verify and place a dataset")
  .action(async (names: string[], opts: { force?: boolean }) => {
    for (const name of names) {
      const printer = progressPrinter();
      try {
        const result = await fetchDataset(name, { force: opts.force, onProgress: printer.onProgress });
        console.log(`${name}: ${result.placed.length} file(s) placed, ${result.skipped.length} already present, in ${result.directory}`);
      } finally {
        printer.stop();
      }
    }
  });

program
  .command("verify")
  .argument("[names...]", "dataset names (default: every dataset that is at least partly present)")
  .description("check size and sha256 of present files; exits 1 on any mismatch or when a named dataset is entirely missing")
  .action((names: string[]) => {
    const all = Object.keys(loadManifest().datasets);
    const explicit = names.length > 0;
    let failed = false;
    let checked = 0;
    console.log(`data directory: ${dataDirectory()}`);
    for (const name of explicit ? names : all) {
      const check = checkDataset(name);
      if (!explicit && check.state === "missing") continue;
      checked++;
      if (check.state === "missing") {
        // Only reachable for a named dataset: asking to verify something absent is a failure.
        console.log(`missing         ${name} (nothing in ${check.directory}; fetch it with \`npm run data -- fetch ${name}\`)`);
        failed = true;
        continue;
      }
      for (const f of check.files) {
        console.log(`${f.status.padEnd(15)} ${name}/${f.path}${f.status === "sha256-mismatch" || f.status === "size-mismatch" ? `  (${f.message})` : ""}`);
        if (f.status === "sha256-mismatch" || f.status === "size-mismatch") failed = true;
      }
    }
    if (failed) {
      console.error("verify: FAILED (mismatched files, or a named dataset that is missing, above)");
      process.exitCode = 1;
    } else console.log(checked === 0 ? "verify: ok (no dataset is present)" : "verify: ok");
  });

program
  .command("list")
  .description("show each dataset as present / partial / missing / corrupt (size and sha256)")
  .option("--quick", "compare sizes only, no hashing")
  .action((opts: { quick?: boolean }) => {
    console.log(`data directory: ${dataDirectory()}`);
    for (const [name, d] of Object.entries(loadManifest().datasets)) {
      const check = checkDataset(name, { hash: !opts.quick });
      const present = check.files.filter((f) => f.status !== "missing").length;
      console.log(`${name.padEnd(16)} ${check.state.padEnd(8)} ${present}/${check.files.length} files  ${d.title}`);
    }
  });

// `npm run data` alone asks what there is to do: the list of commands, exit 0 (commander would exit 1).
if (process.argv.length <= 2) program.outputHelp();
else
  program.parseAsync(process.argv).catch((e: unknown) => {
    console.error(`error: ${(e as Error).message}`);
    process.exitCode = 1;
  });
