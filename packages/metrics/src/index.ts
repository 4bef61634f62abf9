export * from "./languageModel";
export * from "./bleu";
export * from "./spanF1";
export * from "./gateStatistics";
export * from "./compression";
export * from "./summary";
