/**
 * The `rnnlab` command line: list, run, resume, report, config, bench.
 * Exit codes: 0 ok; 1 a run failed; 2 usage error (unknown command, option, experiment id, preset,
 * config key or value).
 * It is an entry point, so it selects the TF.js backend (RNNLAB_BACKEND) before training.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Command, CommanderError, InvalidArgumentError } from "commander";
import { describeBackend, repoRoot, selectBackend } from "@rnnlab/core";
import { ConfigError, configKeys } from "./config";
import "./experiments";
import { consoleProgress, formatMetrics } from "./progress";
import { armNames, listExperiments, UsageError } from "./registry";
import { writeReport } from "./report";
import { presetResultsDir, resultPath } from "./results";
import { assertCleanSourceFor } from "./provenance";
import { planExperiment, resolveExperimentConfig, resumeExperiment, resumeTarget, runExperiment } from "./runner";
import { PRESET_NAMES, type PresetName } from "./types";

/** A failure whose message has been printed already; the CLI only sets the exit code. */
class AlreadyReported extends Error {}

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

function parseSeeds(value: string): number[] {
  const seeds = value.split(",").map((s) => s.trim()).filter(Boolean).map(Number);
  if (seeds.length === 0 || seeds.some((s) => !Number.isInteger(s) || s < 0)) {
    throw new InvalidArgumentError(`expected comma-separated non-negative integers, e.g. 0,1,2`);
  }
  return seeds;
}

function parseJobs(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a positive integer");
  return n;
}

/**
 * Default lanes: RNNLAB_JOBS, else one per core (each run is one process with one BLAS thread, so
 * arm x seed runs in parallel use the machine; see docs/performance.md for the measured scaling).
 */
export function defaultJobs(): number {
  const env = process.env.RNNLAB_JOBS;
  if (env !== undefined && env.trim() !== "") {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`RNNLAB_JOBS="${env}" must be a positive integer (parallel runs).`);
    return n;
  }
  return Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parsePresetOption(value: string): PresetName {
  if ((PRESET_NAMES as readonly string[]).includes(value)) return value as PresetName;
  throw new InvalidArgumentError(`use one of: ${PRESET_NAMES.join(", ")}`);
}

function printResultSummary(file: string, result: Awaited<ReturnType<typeof runExperiment>>): void {
  const lines = [`wrote ${file}`];
  for (const [arm, a] of Object.entries(result.arms)) {
    const means = Object.fromEntries(Object.entries(a.summary).map(([k, s]) => [k, s.mean]));
    lines.push(`  ${arm}: ${formatMetrics(means)} (${Object.keys(a.runs).length} seed(s))`);
  }
  process.stdout.write(lines.join("\n") + "\n");
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("rnnlab")
    .description("Run, resume and report the rnnlab paper reproductions.")
    .showHelpAfterError("(run `rnnlab --help` or `rnnlab <command> --help` for usage)")
    .showSuggestionAfterError(true)
    .addHelpText(
      "after",
      `
Environment:
  RNNLAB_RESULTS_DIR  results root (default <repo>/results; presets other than cpu: <repo>/results/<preset>)
  RNNLAB_RUNS_DIR     keep run directories (checkpoints, run.json, outcome.json, experiment.json, the lock)
                      outside the work tree: $RNNLAB_RUNS_DIR/<paper>/<experiment>/ for <repo>/results,
                      $RNNLAB_RUNS_DIR/@<tag>/<paper>/<experiment>/ for other results roots; default
                      <results>/<paper>/runs/<experiment>/. \`rnnlab resume <dir>\` works on either.
  RNNLAB_JOBS         default --jobs

Writing into <repo>/results from a tree with uncommitted source changes (packages/*/src, the native
addon, package.json files, package-lock.json) is refused unless --allow-dirty; every run records its
commit, dirty flag and source hash, and \`rnnlab report\` flags runs whose source changed since.`,
    )
    .exitOverride();

  addListCommand(program);
  addConfigCommand(program);
  addRunCommand(program);
  addResumeCommand(program);
  addReportCommand(program);
  addBenchCommand(program);
  return program;
}

/** `rnnlab list [--keys <id>]`: the registered experiments, or one experiment's config keys. */
function addListCommand(program: Command): void {
  program
    .command("list")
    .description("List the registered experiments (id, arms, data, seeds per preset).")
    .option("--keys <id>", "also print every config key of one experiment (for --set)")
    .action((opts: { keys?: string }) => {
      if (opts.keys) {
        const { config } = resolveExperimentConfig(opts.keys, "cpu");
        process.stdout.write(configKeys(config).join("\n") + "\n");
        return;
      }
      for (const e of listExperiments()) {
        const { config } = resolveExperimentConfig(e.id, "cpu");
        const arms = armNames(e, config); // atn/window's arms come from its window list, not a config.arms section
        const data = e.data.kind === "synthetic" ? `synthetic: ${e.data.task}` : `${e.data.datasets.join(", ")} (smoke: ${e.data.smoke})`;
        const status = e.unavailable ? `  [not runnable yet: ${e.unavailable}]` : "";
        process.stdout.write(
          `${e.id.padEnd(22)} ${e.title}\n${" ".repeat(23)}arms: ${arms.join(", ")}; data: ${data}; ` +
            `seeds smoke/cpu/paper: ${e.defaultSeeds.smoke.length}/${e.defaultSeeds.cpu.length}/${e.defaultSeeds.paper.length}${status}\n`,
        );
      }
    });
}

/** `rnnlab config <id>`: the resolved config and its hash. */
function addConfigCommand(program: Command): void {
  program
    .command("config")
    .description("Print the resolved config of an experiment (after preset and --set) and its hash.")
    .argument("<id>", "experiment id, e.g. g2lstm/ptb")
    .option("--preset <name>", `preset: ${PRESET_NAMES.join(" | ")}`, parsePresetOption, "cpu")
    .option("--set <key=value>", "override a config key (repeatable), e.g. --set train.learningRate=0.01", collect, [])
    .action((id: string, opts: { preset: PresetName; set: string[] }) => {
      const { config, configHash } = resolveExperimentConfig(id, opts.preset, opts.set);
      process.stdout.write(JSON.stringify(config, null, 2) + `\nconfigHash ${configHash}\n`);
    });
}

/** `rnnlab run <id>`: plan, then train (or reuse) every requested run. */
function addRunCommand(program: Command): void {
  program
    .command("run")
    .description("Train an experiment's arms x seeds (reusing valid runs) and write results/<paper>/<experiment>.json.")
    .argument("<id>", "experiment id (see `rnnlab list`)")
    .option("--preset <name>", `preset: ${PRESET_NAMES.join(" | ")}`, parsePresetOption, "cpu")
    .option("--seeds <list>", "comma-separated seeds (default: the preset's)", parseSeeds)
    .option("--arms <list>", "comma-separated arms to run (default: all)")
    .option("--set <key=value>", "override a config key (repeatable), e.g. --set train.learningRate=0.01", collect, [])
    .option("--rerun", "retrain every requested run even if a valid result exists", false)
    .option("--no-resume", "start unfinished runs from scratch instead of their checkpoints")
    .option("--jobs <n>", "train up to n runs in parallel child processes (default: RNNLAB_JOBS or one per core)", parseJobs, defaultJobs())
    .option("--results-dir <dir>", "results root (default: RNNLAB_RESULTS_DIR or <repo>/results; for presets other than cpu, <repo>/results/<preset>)")
    .option("--allow-dirty", "write into <repo>/results although the source has uncommitted changes (recorded in each run)", false)
    .option("--dry-run", "print what would be reused or trained, and exit", false)
    .action(
      async (
        id: string,
        opts: {
          preset: PresetName;
          seeds?: number[];
          arms?: string;
          set: string[];
          rerun: boolean;
          resume: boolean;
          jobs: number;
          resultsDir?: string;
          allowDirty: boolean;
          dryRun: boolean;
        },
      ) => {
        const runOptions = {
          preset: opts.preset,
          seeds: opts.seeds,
          arms: opts.arms?.split(",").map((a) => a.trim()).filter(Boolean),
          overrides: opts.set,
          rerun: opts.rerun,
          resume: opts.resume,
          jobs: opts.jobs,
          resultsDir: opts.resultsDir,
          allowDirty: opts.allowDirty,
        };
        // Validate the id, preset, arms, seeds and --set keys before loading a backend.
        const plan = planExperiment(id, runOptions);
        if (opts.dryRun) {
          process.stdout.write(`${id} preset ${plan.preset} config ${plan.configHash.slice(0, 12)} -> ${plan.resultFile}\n`);
          for (const r of plan.runs) process.stdout.write(`  ${r.arm} seed ${r.seed}: ${r.status}${r.replaces ? ` (replaces ${r.replaces})` : ""}\n`);
          return;
        }
        // Refuse a dirty tree before loading a backend (runExperiment checks again, for API callers).
        if (plan.runs.some((r) => r.status !== "reused")) {
          assertCleanSourceFor(opts.resultsDir ?? presetResultsDir(opts.preset), { allowDirty: opts.allowDirty });
        }
        const choice = await selectBackend();
        process.stderr.write(`rnnlab: ${describeBackend(choice)}\n`);
        const toTrain = plan.runs.filter((r) => r.status !== "reused").length;
        if (toTrain > 0)
          process.stderr.write(`rnnlab: training ${toTrain} run(s) in ${Math.min(opts.jobs, toTrain)} lane(s) (--jobs ${opts.jobs})\n`);
        const progress = consoleProgress();
        try {
          const result = await runExperiment(id, { ...runOptions, onProgress: progress });
          progress.finish();
          printResultSummary(resultPath(id, opts.resultsDir ?? presetResultsDir(opts.preset)), result);
        } finally {
          progress.finish();
        }
      },
    );
}

/** `rnnlab resume <run-dir>`: continue an interrupted run. */
function addResumeCommand(program: Command): void {
  program
    .command("resume")
    .description(
      "Continue an interrupted `rnnlab run` from its run directory (results/<paper>/runs/<experiment>[/<arm>-seed<k>], or $RNNLAB_RUNS_DIR/<paper>/<experiment>[/<arm>-seed<k>]).",
    )
    .argument("<run-dir>", "a run directory")
    .option("--jobs <n>", "train up to n runs in parallel child processes (default: RNNLAB_JOBS or one per core)", parseJobs, defaultJobs())
    .option("--allow-dirty", "write into <repo>/results although the source has uncommitted changes (recorded in each run)", false)
    .action(async (dir: string, opts: { jobs: number; allowDirty: boolean }) => {
      if (!fs.existsSync(dir)) {
        throw new UsageError(`${dir}: no such directory. Run directories are under results/<paper>/runs/<experiment>/ (or $RNNLAB_RUNS_DIR/<paper>/<experiment>/).`);
      }
      const target = resumeTarget(dir);
      const choice = await selectBackend();
      process.stderr.write(`rnnlab: ${describeBackend(choice)}\n`);
      const progress = consoleProgress();
      try {
        const result = await resumeExperiment(dir, { onProgress: progress, jobs: opts.jobs, allowDirty: opts.allowDirty });
        progress.finish();
        printResultSummary(resultPath(result.id, target.resultsDir ?? presetResultsDir(target.invocation.preset)), result);
      } finally {
        progress.finish();
      }
    });
}

/** `rnnlab report`: regenerate results/README.md. */
function addReportCommand(program: Command): void {
  program
    .command("report")
    .description("Regenerate results/README.md (our numbers next to the papers', figures, STALE and CODE CHANGED flags).")
    .option("--no-figures", "do not render figures (no Chromium needed)")
    .option("--results-dir <dir>", "results root (default: RNNLAB_RESULTS_DIR or <repo>/results)")
    .action(async (opts: { figures: boolean; resultsDir?: string }) => {
      const { path: file, stale, codeChanged, codeUnknown, codeNotes, figureErrors, errors } = await writeReport({ resultsDir: opts.resultsDir, figures: opts.figures });
      process.stdout.write(`wrote ${file}\n`);
      if (stale.length) process.stdout.write(`STALE results (runs whose settings changed since they ran): ${stale.join(", ")}\n`);
      // Warnings only (exit code unchanged): the README lists the runs and commits; the changed files are printed here.
      if (codeChanged.length) process.stdout.write(`CODE CHANGED since these results ran (source hash differs): ${codeChanged.join(", ")}\n`);
      if (codeUnknown.length) process.stdout.write(`code unknown (runs without a source hash): ${codeUnknown.join(", ")}\n`);
      for (const note of codeNotes) process.stdout.write(`  ${note}\n`);
      for (const e of figureErrors) process.stderr.write(`figures skipped: ${e}\n`);
      if (errors.length) {
        // The README lists them too; a non-zero exit keeps a script from taking an incomplete report for a complete one.
        process.stderr.write(`rnnlab: ${errors.length} unreadable result file(s), left out of the report:\n${errors.map((e) => `  ${e}`).join("\n")}\n`);
        throw new AlreadyReported();
      }
    });
}

/** `rnnlab bench`: the training-speed benchmark. */
function addBenchCommand(program: Command): void {
  program
    .command("bench")
    .description("Run the training-speed benchmark (packages/experiments/bench/training-speed.ts, = npm run bench); extra arguments are passed on.")
    .allowUnknownOption(true)
    .argument("[args...]", "arguments for the benchmark script")
    .action((args: string[]) => {
      const script = path.join(repoRoot(), "packages", "experiments", "bench", "training-speed.ts");
      if (!fs.existsSync(script)) throw new Error(`No benchmark script at ${script}.`);
      const r = spawnSync(process.execPath, ["--import", "tsx", script, ...args], { stdio: "inherit", cwd: repoRoot() });
      if (r.status !== 0) throw new Error(`benchmark exited with ${r.status ?? r.signal}`);
    });
}

/** Run the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  if (argv.length === 0) {
    program.outputHelp({ error: true });
    return EXIT_USAGE;
  }
  try {
    await program.parseAsync(argv, { from: "user" });
    return EXIT_OK;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.help" || e.code === "commander.version") return EXIT_OK;
      return EXIT_USAGE; // commander already printed the message
    }
    if (e instanceof AlreadyReported) return EXIT_FAILED;
    if (e instanceof UsageError || e instanceof ConfigError) {
      process.stderr.write(`rnnlab: ${e.message}\n`);
      return EXIT_USAGE;
    }
    // The message names the problem and the fix; the stack only helps when debugging rnnlab itself.
    const detail = e instanceof Error ? (process.env.RNNLAB_DEBUG ? (e.stack ?? e.message) : e.message) : String(e);
    process.stderr.write(`rnnlab: run failed: ${detail}\n${process.env.RNNLAB_DEBUG ? "" : "(set RNNLAB_DEBUG=1 to see the stack trace)\n"}`);
    return EXIT_FAILED;
  }
}

const mainFile = require.main?.filename ?? "";
if (require.main === module || mainFile.endsWith(path.join("bin", "rnnlab.js"))) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
