export * from "./render";
export * from "./table";
export * from "./display";
export * from "./progress";
export * from "./figures";
