export * from "./types";
export * from "./tracing";
