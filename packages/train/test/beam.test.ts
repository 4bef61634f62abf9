import { test, before } from "node:test";
import assert from "node:assert/strict";
import { selectBackend, tf } from "@rnnlab/core";
import { beamSearch, greedyDecode, lengthNormalizedScore, type DecodeStep, type DecoderState } from "../src/beam";

// A hand-written "model": the next-token distribution depends only on the previous token. (That the
// search reorders real decoder states in step with its tokens is checked in translation.test.ts, where
// beam scores must equal teacher-forced rescoring.) The state counts the steps taken.
const EOS = 0, BOS = 1, A = 2, B = 3, C = 4, D = 5, E = 6, X = 7; // X..X+9 are ten filler tokens
const V = X + 10;
const NEVER = -30;

function table(previous: number): number[] {
  const row = new Array<number>(V).fill(NEVER);
  const set = (token: number, p: number) => (row[token] = Math.log(p));
  if (previous === BOS) {
    set(A, 0.6);
    set(B, 0.4);
  } else if (previous === A) {
    for (let i = 0; i < 10; i++) set(X + i, 0.1);
  } else if (previous === B) {
    set(EOS, 0.9);
    set(X, 0.1);
  } else set(EOS, 1);
  return row;
}

/** Second model: after BOS, EOS 0.4, C 0.3 or E 0.3; C and E -> D; D -> EOS. So "" has p = 0.4, "C D" 0.3. */
function table2(previous: number): number[] {
  const row = new Array<number>(V).fill(NEVER);
  if (previous === BOS) {
    row[EOS] = Math.log(0.4);
    row[C] = Math.log(0.3);
    row[E] = Math.log(0.3);
  } else if (previous === C || previous === E) row[D] = 0;
  else row[EOS] = 0;
  return row;
}

function fakeStep(rows: (previous: number) => number[]): DecodeStep {
  return (state: DecoderState, previousTokens: tf.Tensor1D) => {
    const tokens = Array.from(previousTokens.dataSync());
    return {
      logProbabilities: tf.tensor2d(tokens.map(rows), [tokens.length, V]),
      state: { steps: tf.add(state.steps, 1) as tf.Tensor2D },
    };
  };
}

const start = (k: number) => ({ steps: tf.zeros([k, 1]) as tf.Tensor2D });
const options = { beginToken: BOS, endToken: EOS, maxLength: 6 };

before(async () => {
  await selectBackend();
});

test("beam search escapes greedy's trap: finds B EOS (p = 0.36) where greedy takes A X EOS (p = 0.06)", () => {
  const init1 = start(1);
  const before = tf.memory().numTensors;
  const greedy = greedyDecode(fakeStep(table), init1, 1, options)[0];
  assert.deepEqual(greedy.tokens, [A, X]);
  assert.ok(Math.abs(greedy.logProbability - Math.log(0.06)) < 1e-5);
  const beam = beamSearch(fakeStep(table), init1, { ...options, beamSize: 2, returnCount: 2 });
  assert.deepEqual(beam[0].tokens, [B]);
  assert.ok(Math.abs(beam[0].logProbability - Math.log(0.36)) < 1e-5, `${beam[0].logProbability}`);
  assert.ok(beam[0].finished);
  // Raw scores only fall, so nothing live could beat 0.36 and the search stopped with one finished hypothesis.
  assert.equal(beam.length, 1);
  // GNMT normalisation cannot stop early: it fills the beam with finished hypotheses.
  const full = beamSearch(fakeStep(table), init1, { ...options, beamSize: 2, returnCount: 2, lengthPenalty: { kind: "gnmt", alpha: 0.6 } });
  assert.equal(full.length, 2);
  assert.deepEqual(full[0].tokens, [B]);
  assert.ok(full[1].score <= full[0].score);
  const one = beamSearch(fakeStep(table), init1, { ...options, beamSize: 1 })[0];
  assert.deepEqual(one.tokens, greedy.tokens);
  assert.ok(Math.abs(one.logProbability - greedy.logProbability) < 1e-6);
  assert.equal(tf.memory().numTensors, before, "search leaked tensors");
  init1.steps.dispose();
});

test("length normalisation changes the winner: raw score prefers EOS alone, average and GNMT prefer C D EOS", () => {
  const init1 = start(1);
  const raw = beamSearch(fakeStep(table2), init1, { ...options, beamSize: 2 })[0];
  assert.deepEqual(raw.tokens, []);
  const average = beamSearch(fakeStep(table2), init1, { ...options, beamSize: 2, lengthPenalty: { kind: "average" } })[0];
  assert.deepEqual(average.tokens, [C, D]);
  assert.ok(Math.abs(average.score - Math.log(0.3) / 3) < 1e-5);
  const gnmt = beamSearch(fakeStep(table2), init1, { ...options, beamSize: 2, lengthPenalty: { kind: "gnmt", alpha: 2 } })[0];
  assert.deepEqual(gnmt.tokens, [C, D]);
  assert.ok(Math.abs(gnmt.score - Math.log(0.3) / Math.pow(8 / 6, 2)) < 1e-5);
  const weak = beamSearch(fakeStep(table2), init1, { ...options, beamSize: 2, lengthPenalty: { kind: "gnmt", alpha: 0.5 } })[0];
  assert.deepEqual(weak.tokens, [], "with α = 0.5 the penalty is too weak to prefer the longer output");
  init1.steps.dispose();
});

test("greedy decoding stops each sentence at its own maxLength and marks it unfinished", () => {
  const init = start(2);
  const hyps = greedyDecode(fakeStep(table), init, 2, { ...options, maxLength: [1, 3] });
  assert.deepEqual(hyps[0].tokens, [A]);
  assert.equal(hyps[0].finished, false);
  assert.deepEqual(hyps[1].tokens, [A, X]);
  assert.equal(hyps[1].finished, true);
  init.steps.dispose();
});

test("length penalty formulas and bad search options", () => {
  assert.equal(lengthNormalizedScore(-6, 3, { kind: "none" }), -6);
  assert.equal(lengthNormalizedScore(-6, 3, { kind: "average" }), -2);
  assert.ok(Math.abs(lengthNormalizedScore(-6, 7, { kind: "gnmt", alpha: 1 }) - -3) < 1e-12);
  assert.equal(lengthNormalizedScore(-6, 7, { kind: "gnmt", alpha: 0 }), -6);
  const init1 = start(1);
  assert.throws(() => beamSearch(fakeStep(table), init1, { ...options, beamSize: 0 }), /beamSize/);
  assert.throws(() => beamSearch(fakeStep(table), init1, { ...options, beamSize: 2, lengthPenalty: { kind: "wu" } as never }), /lengthPenalty/);
  assert.throws(() => greedyDecode(fakeStep(table), init1, 1, { ...options, maxLength: 0 }), /maxLength/);
  init1.steps.dispose();
});
