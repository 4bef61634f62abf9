/**
 * The one TensorFlow.js namespace every rnnlab library uses.
 *
 * Libraries import `tf` from here and never choose a backend: the engine is global to the single
 * tfjs-core in the tree, so whichever backend an entry point selected with `selectBackend()` is used.
 */
import * as tf from "@tensorflow/tfjs";
export { tf };
export type Tensor = tf.Tensor;
export type Tensor1D = tf.Tensor1D;
export type Tensor2D = tf.Tensor2D;
export type Tensor3D = tf.Tensor3D;
export type Scalar = tf.Scalar;
export type Variable = tf.Variable;
