import * as tf from "@tensorflow/tfjs";
import { type AdamSlot, adamUpdate, sumOfSquares } from "../tfjs/fused-adam.js";

export interface AdamOptions {
  beta1: number;
  beta2: number;
  epsilon: number;
}

export interface ScheduleOptions {
  learningRate: number;
  warmupSteps: number;
  decay: "cosine" | "inverse-sqrt" | "constant";
  minLearningRateRatio: number;
  /** Total optimizer steps planned (for cosine). */
  totalSteps: number;
}

/** Learning rate at a 0-based step: linear warm-up, then the chosen decay. */
export function learningRateAt(step: number, options: ScheduleOptions): number {
  const { learningRate: peak, warmupSteps, decay, minLearningRateRatio, totalSteps } = options;
  if (warmupSteps > 0 && step < warmupSteps) return (peak * (step + 1)) / warmupSteps;
  if (decay === "constant") return peak;
  if (decay === "inverse-sqrt") return peak * Math.sqrt(Math.max(warmupSteps, 1) / Math.max(step + 1, 1));
  const span = Math.max(totalSteps - warmupSteps, 1);
  const progress = Math.min(Math.max(step - warmupSteps, 0) / span, 1);
  const floor = peak * minLearningRateRatio;
  return floor + 0.5 * (peak - floor) * (1 + Math.cos(Math.PI * progress));
}

/** Serialisable optimizer state: step count plus first and second moments per variable name. */
export interface AdamState {
  step: number;
  m: Record<string, Float32Array>;
  v: Record<string, Float32Array>;
}

/**
 * Adam written out instead of tf.train.adam so that (a) the learning rate can change every step, (b) its
 * moments serialise into checkpoints by stable variable name, and (c) averaged gradients coming from
 * worker threads can be applied the same way in every replica.
 */
export class Adam {
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  step = 0;

  constructor(
    private readonly variables: ReadonlyMap<string, tf.Variable>,
    private readonly options: AdamOptions,
  ) {
    for (const [name, variable] of variables) {
      this.m.set(
        name,
        tf.tidy(() => tf.variable(tf.zerosLike(variable), false)),
      );
      this.v.set(
        name,
        tf.tidy(() => tf.variable(tf.zerosLike(variable), false)),
      );
    }
  }

  /**
   * Applies one update with the given learning rate; gradients are keyed like `variables`, and each is
   * taken times `gradScale` (globalNormScale's clip factor) without materialising the scaled copy. On
   * the wasm backend a fused pass over the heap (tfjs/fused-adam.ts), elsewhere tfjs ops.
   */
  apply(grads: ReadonlyMap<string, tf.Tensor>, learningRate: number, gradScale = 1): void {
    this.step += 1;
    const { beta1, beta2, epsilon } = this.options;
    const correction1 = 1 - beta1 ** this.step;
    const correction2 = 1 - beta2 ** this.step;
    const stepSize = (learningRate * Math.sqrt(correction2)) / correction1;
    const slots: AdamSlot[] = [];
    for (const [name, variable] of this.variables) {
      const grad = grads.get(name);
      if (grad) slots.push({ variable, grad, m: this.m.get(name)!, v: this.v.get(name)! });
    }
    if (adamUpdate(slots, { beta1, beta2, epsilon, stepSize, gradScale })) return;
    tf.tidy(() => {
      for (const { variable, grad: unscaled, m, v } of slots) {
        const grad = gradScale === 1 ? unscaled : unscaled.mul(gradScale);
        const newM = m.mul(beta1).add(grad.mul(1 - beta1));
        const newV = v.mul(beta2).add(grad.square().mul(1 - beta2));
        m.assign(newM);
        v.assign(newV);
        variable.assign(variable.sub(newM.mul(stepSize).div(newV.sqrt().add(epsilon))));
      }
    });
  }

  getState(): AdamState {
    const m: Record<string, Float32Array> = {};
    const v: Record<string, Float32Array> = {};
    for (const name of this.variables.keys()) {
      m[name] = this.m.get(name)!.dataSync() as Float32Array;
      v[name] = this.v.get(name)!.dataSync() as Float32Array;
    }
    return { step: this.step, m, v };
  }

  setState(state: AdamState): void {
    this.step = state.step;
    for (const [name, variable] of this.variables) {
      const m = state.m[name];
      const v = state.v[name];
      if (!m || !v) throw new Error(`optimizer state has no moments for ${name}`);
      tf.tidy(() => {
        this.m.get(name)!.assign(tf.tensor(m, variable.shape, "float32"));
        this.v.get(name)!.assign(tf.tensor(v, variable.shape, "float32"));
      });
    }
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
  }
}

/**
 * The gradients' global L2 norm, and the factor that brings it down to maxNorm: 1 when it is at most
 * maxNorm or maxNorm <= 0. The sum of squares is one fused pass per gradient on the wasm backend.
 */
export function globalNormScale(
  grads: ReadonlyMap<string, tf.Tensor>,
  maxNorm: number,
): { norm: number; scale: number } {
  const tensors = [...grads.values()];
  const fused = sumOfSquares(tensors);
  let norm: number;
  if (fused !== undefined) norm = Math.sqrt(fused);
  else {
    const total = tf.tidy(() => tf.addN(tensors.map((g) => g.square().sum())).sqrt());
    norm = total.dataSync()[0] as number;
    total.dispose();
  }
  const scale = maxNorm > 0 && norm > maxNorm ? maxNorm / (norm + 1e-6) : 1;
  return { norm, scale };
}

/**
 * Scales gradients in place so their global L2 norm is at most maxNorm; returns the norm before
 * clipping. For an Adam step, pass globalNormScale's scale to Adam.apply instead: no scaled copies.
 */
export function clipByGlobalNorm(grads: Map<string, tf.Tensor>, maxNorm: number): number {
  const { norm, scale } = globalNormScale(grads, maxNorm);
  if (scale !== 1) {
    for (const [name, grad] of grads) {
      grads.set(name, grad.mul(scale));
      grad.dispose();
    }
  }
  return norm;
}
