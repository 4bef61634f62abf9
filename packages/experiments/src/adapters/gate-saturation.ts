/** Gate saturation from gate-value histograms (G2-LSTM's bimodality measure), for the LM and translation adapters. */
import { gateSaturationFromHistogram } from "@rnnlab/metrics";

/**
 * Fractions of input/forget gate values below 0.1 or above 0.9 (G2-LSTM's bimodality measure),
 * per layer and gate, plus finals: `inputGateSaturated` / `forgetGateSaturated` for `mainLayer` (default: the
 * first layer recorded) and, for every layer, `inputGateBelow0.1_<layer>`, `inputGateAbove0.9_<layer>` (and
 * the forget gate's), so verdicts can read the shares per layer from the final metrics.
 */
export function gateSaturationSummary(histograms: unknown, mainLayer?: string): { byGate: Record<string, unknown>; finals: Record<string, number> } {
  const byGate: Record<string, unknown> = {};
  const finals: Record<string, number> = {};
  const layers = histograms as Record<string, Record<string, unknown>>;
  const layerNames = Object.keys(layers ?? {});
  const main = mainLayer && layerNames.includes(mainLayer) ? mainLayer : layerNames[0];
  for (const layer of layerNames) {
    for (const [gate, histogram] of Object.entries(layers[layer] ?? {})) {
      const s = gateSaturationFromHistogram(histogram as never);
      byGate[`${layer}.${gate}`] = s;
      if (gate === "i" || gate === "f") {
        const name = gate === "i" ? "input" : "forget";
        finals[`${name}GateBelow${s.low}_${layer}`] = s.shareBelowLow;
        finals[`${name}GateAbove${s.high}_${layer}`] = s.shareAboveHigh;
      }
      if (layer === main && (gate === "i" || gate === "f")) {
        finals[`${gate === "i" ? "input" : "forget"}GateSaturated`] = s.shareSaturated;
      }
    }
  }
  return { byGate, finals };
}
