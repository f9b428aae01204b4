import * as tf from "@tensorflow/tfjs";
import { Rng } from "../core/rng.js";

/**
 * Seeded initial values for decoder weights. Values are drawn in JS (core/rng.ts) rather than with
 * tf.random*, so a seed gives bit-identical weights on every backend and in every worker thread.
 */
export class ParamInit {
  private readonly rng: Rng;

  constructor(seed: number) {
    this.rng = new Rng(seed);
  }

  uniform(size: number, limit: number): Float32Array {
    const out = new Float32Array(size);
    for (let i = 0; i < size; i++) out[i] = (this.rng.next() * 2 - 1) * limit;
    return out;
  }
}

/** Named variables of one decoder; names are stable across versions (checkpoints depend on them). */
export class ParamStore {
  readonly variables = new Map<string, tf.Variable>();
  /** Non-trainable state (batch-norm running statistics): saved with the model, never optimised. */
  readonly buffers = new Map<string, tf.Variable>();
  private readonly init: ParamInit;

  constructor(seed: number) {
    this.init = new ParamInit(seed);
  }

  /** Glorot-uniform matrix [fanIn, fanOut]. */
  glorot(name: string, fanIn: number, fanOut: number): tf.Variable {
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    return this.add(name, tf.tensor2d(this.init.uniform(fanIn * fanOut, limit), [fanIn, fanOut]));
  }

  /** Uniform in [-limit, limit] of any shape (embeddings, positions). */
  uniform(name: string, shape: number[], limit: number): tf.Variable {
    const size = shape.reduce((a, b) => a * b, 1);
    return this.add(name, tf.tensor(this.init.uniform(size, limit), shape));
  }

  constant(name: string, shape: number[], value: number): tf.Variable {
    return this.add(name, tf.fill(shape, value));
  }

  buffer(name: string, shape: number[], value: number): tf.Variable {
    const variable = tf.variable(tf.fill(shape, value), false, `${name}#${nextVariableId++}`);
    this.buffers.set(name, variable);
    return variable;
  }

  /** A trainable variable with the given initial value (taken over: the store disposes it). */
  add(name: string, initial: tf.Tensor): tf.Variable {
    if (this.variables.has(name)) throw new Error(`duplicate decoder variable ${name}`);
    // tfjs variable names are global per process; several decoders may coexist, so the tfjs name gets
    // a unique suffix while the map key stays the stable name.
    const variable = tf.variable(initial, true, `${name}#${nextVariableId++}`);
    initial.dispose();
    this.variables.set(name, variable);
    return variable;
  }

  dispose(): void {
    for (const variable of this.variables.values()) variable.dispose();
    for (const variable of this.buffers.values()) variable.dispose();
    this.variables.clear();
    this.buffers.clear();
  }
}

let nextVariableId = 0;

/** A dense layer's weights. */
export interface Dense {
  kernel: tf.Tensor2D;
  bias: tf.Tensor1D;
}

export function dense(store: ParamStore, name: string, fanIn: number, fanOut: number, biasValue = 0): Dense {
  return {
    kernel: store.glorot(`${name}/kernel`, fanIn, fanOut) as tf.Variable<tf.Rank.R2>,
    bias: store.constant(`${name}/bias`, [fanOut], biasValue) as tf.Variable<tf.Rank.R1>,
  };
}
