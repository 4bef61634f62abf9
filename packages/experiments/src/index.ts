/**
 * @rnnlab/experiments: typed per-paper configs with presets, the experiment registry, runExperiment(),
 * result files, the report, and progress displays (console and notebook).
 */
import "./experiments";
export * from "./config";
export * from "./types";
export * from "./registry";
export * from "./results";
export * from "./provenance";
export * from "./runner";
export * from "./report";
export * from "./progress";
export * from "./notebook";
export * from "./verdict";
export * from "./settings-table";
export * from "./g2lstm/figures";
export * from "./g2lstm/gate-map";
export * from "./atn/figures";
export * from "./ncgru/figures";
export * from "./ncgru/parameters";
export * from "./sg/figures";
export * from "./sdropout/figures";
