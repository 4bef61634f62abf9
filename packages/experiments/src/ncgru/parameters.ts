/**
 * Trainable parameter counts of the NC-GRU paper's arms, so hidden sizes can be matched (the paper
 * picks e.g. NC-GRU 118 / GRU 100 / LSTM 90 on denoise for similar counts; docs/papers/nc-gru.md).
 *   GRU:              I·3H + H·3H + 3H + 3H                 (input and recurrent biases, cells' gru.ts)
 *   LSTM:             I·4H + H·4H + 4H
 *   NC-GRU(U_c):      I·3H + H·2H (U_r, U_z) + 2H + H(H−1)/2 (skew A of U_c) + H (modReLU bias)
 *   NC-GRU(U_c, U_r): I·3H + H·H (U_z) + 2H + 2·H(H−1)/2 (two skew A) + H
 *   scoRNN:           I·H + H(H−1)/2 (skew A of U) + H (modReLU bias)      (cells' scornn.ts: no other bias)
 * plus the linear head H·O + O. An orthogonal matrix counts its free parameters (the strict upper
 * triangle of A), not the H² entries of U; D is fixed.
 */
export interface ParameterCountArm {
  /** "gru" | "lstm" | "nc-gru" | "scornn". */
  cell: string;
  hiddenSize: number;
  /** NC-GRU only: U_r orthogonal too. */
  orthogonalReset?: boolean;
}

/** Recurrent-layer parameters (one layer) plus a dense head of outputSize units. */
export function armParameterCount(arm: ParameterCountArm, inputSize: number, outputSize: number): number {
  const H = arm.hiddenSize;
  const I = inputSize;
  if (!Number.isInteger(H) || H < 1) throw new Error(`armParameterCount: hiddenSize=${H} must be a positive integer`);
  const head = H * outputSize + outputSize;
  const skew = (H * (H - 1)) / 2;
  if (arm.cell === "gru") return I * 3 * H + H * 3 * H + 6 * H + head;
  if (arm.cell === "lstm") return I * 4 * H + H * 4 * H + 4 * H + head;
  if (arm.cell === "nc-gru") return arm.orthogonalReset ? I * 3 * H + H * H + 2 * H + 2 * skew + H + head : I * 3 * H + H * 2 * H + 2 * H + skew + H + head;
  if (arm.cell === "scornn") return I * H + skew + H + head;
  throw new Error(`armParameterCount: cell="${arm.cell}" must be gru, lstm, nc-gru or scornn`);
}
