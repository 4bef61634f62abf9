export * from "./render";
export * from "./table";
export * from "./display";
