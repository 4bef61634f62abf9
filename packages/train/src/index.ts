export * from "./params";
export * from "./serialize";
export * from "./optim";
export * from "./schedules";
export * from "./events";
