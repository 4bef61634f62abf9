export { tf } from "./tf";
export type { Tensor, Tensor1D, Tensor2D, Tensor3D, Scalar, Variable } from "./tf";
export * from "./backend";
export * from "./rng";
export * from "./atomic";
export * from "./hash";
export { installWasmKernelFixes, setWasmKernelFixes, WASM_KERNEL_FIXES } from "./wasm-kernels";
export * from "./environment";
export {
  installBlasKernels,
  loadNativeBlas,
  nativeMatmulActive,
  parseBlasThreads,
  parseMatmulRequest,
  setNativeMatmul,
  hostMatMul64,
  hostInverse64,
  hostCayleyKernels,
  transposeFlagsAreFree,
  MATMUL_REQUESTS,
} from "./blas-kernels";
export type { BlasInfo, MatmulRequest } from "./blas-kernels";
export {
  LSTM_FORWARD_KERNEL, LSTM_BACKWARD_KERNEL, GRU_FORWARD_KERNEL, GRU_BACKWARD_KERNEL, NCGRU_FORWARD_KERNEL, NCGRU_BACKWARD_KERNEL,
  SCORNN_FORWARD_KERNEL, SCORNN_BACKWARD_KERNEL, LAYER_NORM_KERNEL, LAYER_NORM_BACKWARD_KERNEL, ATN_KERNEL, ATN_BACKWARD_KERNEL, NORM_LSTM_FORWARD_KERNEL, NORM_LSTM_BACKWARD_KERNEL,
} from "./native-kernels";
export * from "./selfcheck";
export { describeAdapter, isSoftwareAdapter, gpuDeviceNodes, vulkanIcdFiles } from "./webgpu";
export type { GpuAdapterFacts } from "./webgpu";
export * from "./histogram";
