/** The fast training path: whole-sequence LSTM with hand-written BPTT, softmax cross-entropy, structured dropout. */
export * from "./lstm-sequence";
export * from "./gru-sequence";
export * from "./ncgru-sequence";
export * from "./scornn-sequence";
export * from "./norm-lstm-sequence";
export * from "./softmax-cross-entropy";
export * from "./structured-dropout";
export * from "./dense";
