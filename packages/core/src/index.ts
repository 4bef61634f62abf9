export { tf } from "./tf";
export type { Tensor, Tensor1D, Tensor2D, Tensor3D, Scalar, Variable } from "./tf";
export * from "./backend";
export * from "./rng";
export * from "./atomic";
export { installWasmKernelFixes, setWasmKernelFixes, WASM_KERNEL_FIXES } from "./wasm-kernels";
export * from "./environment";
export * from "./selfcheck";
export * from "./histogram";
