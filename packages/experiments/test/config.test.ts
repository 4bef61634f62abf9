import { test } from "node:test";
import assert from "node:assert/strict";
import {
  applyPatch,
  ConfigError,
  configHash,
  overridesToList,
  resolveConfig,
  resolveExperimentConfig,
  stableStringify,
} from "../src";

const base = {
  model: { hiddenSize: 16, cell: "lstm", tied: true },
  train: { learningRate: 0.1, epochs: 3, ranks: [4, 16], label: "x" },
  arms: { baseline: { temperature: 1 }, g2: { temperature: 0.9 } },
};

test("overrides are parsed to the target type", () => {
  const c = resolveConfig(base, undefined, [
    "train.learningRate=10",
    "model.tied=false",
    "model.cell=gru",
    "train.ranks=8,2",
    "arms.g2.temperature=0.5",
  ]);
  assert.equal(c.train.learningRate, 10);
  assert.equal(c.model.tied, false);
  assert.equal(c.model.cell, "gru");
  assert.deepEqual(c.train.ranks, [8, 2]);
  assert.equal(c.arms.g2.temperature, 0.5);
  assert.equal(c.arms.baseline.temperature, 1, "other keys keep the base value");
  const asJson = resolveConfig(base, undefined, ["train.ranks=[1,2,3]"]);
  assert.deepEqual(asJson.train.ranks, [1, 2, 3]);
  const fromObject = resolveConfig(base, undefined, { "train.epochs": 7, "model.cell": "gru" });
  assert.equal(fromObject.train.epochs, 7);
});

test("presets patch the base and are checked like overrides", () => {
  const c = resolveConfig(base, { train: { epochs: 1 } }, ["train.learningRate=2"], "smoke");
  assert.equal(c.train.epochs, 1);
  assert.equal(c.train.learningRate, 2);
  assert.throws(
    () => resolveConfig(base, { train: { epoch: 1 } } as never, undefined, "smoke"),
    (e: Error) => e instanceof ConfigError && /preset "smoke"/.test(e.message) && /"train.epoch"/.test(e.message) && /train.epochs/.test(e.message),
  );
});

test("an unknown key names the key and the allowed keys", () => {
  assert.throws(
    () => resolveConfig(base, undefined, ["train.lr=10"]),
    (e: Error) =>
      e instanceof ConfigError &&
      e.message.includes('"train.lr"') &&
      e.message.includes("train.learningRate") &&
      e.message.includes("train.epochs"),
  );
  assert.throws(() => resolveConfig(base, undefined, ["optimizer.kind=adam"]), (e: Error) => e instanceof ConfigError && /"optimizer.kind"/.test(e.message) && /model.hiddenSize/.test(e.message));
  assert.throws(() => resolveConfig(base, undefined, ["model.hiddenSize.x=1"]), ConfigError);
  assert.throws(() => resolveConfig(base, undefined, ["noequals"]), /key=value/);
});

test("a wrong type names the key and the expected type", () => {
  assert.throws(() => resolveConfig(base, undefined, ["train.epochs=three"]), (e: Error) => e instanceof ConfigError && /train.epochs/.test(e.message) && /number/.test(e.message));
  assert.throws(() => resolveConfig(base, undefined, ["model.tied=maybe"]), (e: Error) => e instanceof ConfigError && /model.tied/.test(e.message) && /boolean/.test(e.message));
  assert.throws(() => resolveConfig(base, undefined, ["train.ranks=1,x"]), (e: Error) => e instanceof ConfigError && /train.ranks/.test(e.message));
  assert.throws(() => resolveConfig(base, undefined, ["model=3"]), (e: Error) => e instanceof ConfigError && /section/.test(e.message));
  assert.throws(() => resolveConfig(base, undefined, { "train.epochs": "3x" }), ConfigError);
  assert.throws(() => applyPatch(base, { model: { hiddenSize: "16" } }, "test"), (e: Error) => /model.hiddenSize/.test(e.message) && /number/.test(e.message));
});

test("the resolved config is deep-frozen and the base is untouched", () => {
  const c = resolveConfig(base, { train: { epochs: 1 } }, ["arms.g2.temperature=0.2"]);
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.train) && Object.isFrozen(c.arms.g2) && Object.isFrozen(c.train.ranks));
  // Reflect.set reports the failed write without depending on strict mode.
  assert.equal(Reflect.set(c.train, "epochs", 5), false);
  assert.equal(Reflect.set(c.arms.g2, "temperature", 5), false);
  assert.equal(c.train.epochs, 1);
  assert.equal(base.train.epochs, 3);
  assert.equal(base.arms.g2.temperature, 0.9);
});

test("the config hash is stable under key order and changes with any value", () => {
  const a = { x: 1, y: { b: [1, 2], a: "s" } };
  const b = { y: { a: "s", b: [1, 2] }, x: 1 };
  assert.equal(stableStringify(a), stableStringify(b));
  assert.equal(configHash(a), configHash(b));
  assert.match(configHash(a), /^[0-9a-f]{64}$/);
  assert.notEqual(configHash(a), configHash({ ...a, x: 2 }));
  assert.notEqual(configHash(a), configHash({ x: 1, y: { b: [2, 1], a: "s" } }));
  // Fixed value: the hash must not depend on the machine or the Node version.
  assert.equal(configHash({ a: 1 }), "015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862");
  const one = resolveExperimentConfig("env/tiny", "smoke", ["train.learningRate=0.1"]);
  const two = resolveExperimentConfig("env/tiny", "smoke", { "train.learningRate": 0.1 });
  assert.equal(one.configHash, two.configHash);
  assert.notEqual(one.configHash, resolveExperimentConfig("env/tiny", "smoke").configHash);
  assert.deepEqual(overridesToList(["b=2", " a = 1"]), ["b=2", "a=1"]);
});

test("a key set twice: the stored overrides keep the given order and re-resolve to the config that ran (issue 18.3)", () => {
  const given = ["model.hiddenSize=5", "train.epochs=2", "model.hiddenSize=10"];
  const ran = resolveConfig(base, undefined, given);
  assert.equal(ran.model.hiddenSize, 10, "last wins");
  const stored = overridesToList(given);
  assert.deepEqual(stored, given);
  assert.equal(configHash(resolveConfig(base, undefined, stored)), configHash(ran), "resume and report resolve the same config");
});
