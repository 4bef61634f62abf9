/**
 * Parameter trees and the tf.Variables that hold them during training.
 *
 * Cells return parameters as nested plain objects of tensors (`{layers: [{inputKernel, ...}], ...}`).
 * Training needs flat, stable names (for optimizer slots, checkpoints and `tf.variableGrads`), so a tree
 * is flattened into dotted paths: `layers.0.inputKernel`. `createVariables` gives back both the flat map
 * and a tree of the same shape whose leaves are the variables, so a cell's `step(params, ...)` can take
 * the variable tree directly (a tf.Variable is a tf.Tensor).
 */
import { tf } from "@rnnlab/core";

/** A nested object/array of tensors. */
export type ParamTree = tf.Tensor | { [key: string]: ParamTree } | ParamTree[];
export type NamedTensors = Record<string, tf.Tensor>;
export type NamedVariables = Record<string, tf.Variable>;

function isTensor(x: unknown): x is tf.Tensor {
  return x instanceof tf.Tensor;
}

/** Flatten a tree into `{ "a.b.0.c": tensor }` (the order is the tree's own key order). */
export function flattenParams(tree: ParamTree, prefix = ""): NamedTensors {
  const out: NamedTensors = {};
  const visit = (node: unknown, path: string) => {
    if (isTensor(node)) {
      if (path === "") throw new Error("flattenParams: the tree is a bare tensor; wrap it in an object to name it");
      out[path] = node;
    } else if (Array.isArray(node)) {
      node.forEach((child, i) => visit(child, path ? `${path}.${i}` : `${i}`));
    } else if (node !== null && typeof node === "object") {
      for (const [k, child] of Object.entries(node)) {
        if (k.includes(".")) throw new Error(`flattenParams: parameter key "${k}" contains ".", which is the path separator; rename it`);
        visit(child, path ? `${path}.${k}` : k);
      }
    } else if (node !== undefined && node !== null) {
      throw new Error(`flattenParams: leaf at "${path}" is not a tensor (${typeof node})`);
    }
  };
  visit(tree, prefix);
  return out;
}

/** Rebuild a tree of the same shape as `template`, taking leaves from `flat` by path. */
export function unflattenLike<T extends ParamTree>(template: T, flat: Record<string, tf.Tensor>, prefix = ""): T {
  const visit = (node: unknown, path: string): unknown => {
    if (isTensor(node)) {
      const t = flat[path];
      if (!t) throw new Error(`unflattenLike: no tensor for parameter "${path}"`);
      return t;
    }
    if (Array.isArray(node)) return node.map((c, i) => visit(c, path ? `${path}.${i}` : `${i}`));
    if (node !== null && typeof node === "object") {
      const o: Record<string, unknown> = {};
      for (const [k, c] of Object.entries(node)) o[k] = visit(c, path ? `${path}.${k}` : k);
      return o;
    }
    return node;
  };
  return visit(template, prefix) as T;
}

let scopeCounter = 0;

export interface VariableSet<T extends ParamTree = ParamTree> {
  /** path -> variable (the names optimizers and checkpoints use). */
  variables: NamedVariables;
  /** The same tree shape as the input, with variables as leaves. */
  tree: T;
  /** TF.js variable names must be unique in the engine: we prefix paths with a unique scope. */
  scope: string;
  /** tf variable name -> path */
  pathOf: Record<string, string>;
  dispose(): void;
}

/**
 * Copy a parameter tree into trainable tf.Variables. The input tensors are not disposed (the caller owns
 * them). `trainable=false` for values updated outside the optimizer (e.g. a Cayley matrix).
 */
export function createVariables<T extends ParamTree>(tree: T, options: { scope?: string; trainable?: boolean } = {}): VariableSet<T> {
  const scope = `${options.scope ?? "params"}#${scopeCounter++}`;
  const flat = flattenParams(tree);
  const variables: NamedVariables = {};
  const pathOf: Record<string, string> = {};
  for (const [path, t] of Object.entries(flat)) {
    const name = `${scope}/${path}`;
    variables[path] = tf.variable(t, options.trainable ?? true, name);
    pathOf[name] = path;
  }
  return {
    variables,
    tree: unflattenLike(tree, variables) as T,
    scope,
    pathOf,
    dispose() {
      for (const v of Object.values(variables)) v.dispose();
    },
  };
}

/**
 * `tf.variableGrads` keyed by our paths. `lossFunction` must return a scalar; the returned loss and
 * gradients are new tensors the caller disposes.
 */
export function computeGradients(lossFunction: () => tf.Scalar, variables: NamedVariables): { loss: tf.Scalar; grads: NamedTensors } {
  const list = Object.values(variables);
  const byName: Record<string, string> = {};
  for (const [path, v] of Object.entries(variables)) byName[v.name] = path;
  const { value, grads } = tf.variableGrads(lossFunction, list);
  const out: NamedTensors = {};
  for (const [name, g] of Object.entries(grads)) out[byName[name] ?? name] = g;
  return { loss: value, grads: out };
}

export function disposeNamed(tensors: NamedTensors | undefined): void {
  if (!tensors) return;
  for (const t of Object.values(tensors)) t.dispose();
}

/** Number of scalars in a set of tensors. */
export function countParameters(tensors: NamedTensors): number {
  let n = 0;
  for (const t of Object.values(tensors)) n += t.size;
  return n;
}
