import * as tf from "@tensorflow/tfjs";
import { CenterNetTail } from "./centernet-tail.js";
import type {
  CaptionDecoder,
  DecoderConfig,
  DecoderInputs,
  DecoderShape,
  DecoderState,
  DecoderStep,
  TeacherForcedOutput,
} from "./types.js";

/**
 * A decoder whose config has a `featureHead`: the head's trainable encoder layers run on the cached
 * features, and an ordinary decoder (built from the same config without the head) reads their output.
 * Its variables are both parts' (the head's names start with `centernet_tail/`, the inner decoder's are
 * unchanged), so training, checkpoints, `initMatching` from a head-less model, ensembles and generation
 * all work as for any decoder.
 */
export class HeadedDecoder implements CaptionDecoder {
  readonly variables: ReadonlyMap<string, tf.Variable>;
  readonly buffers: ReadonlyMap<string, tf.Variable>;
  readonly imageVectorParts: readonly number[];

  constructor(
    readonly config: DecoderConfig,
    readonly shape: DecoderShape,
    private readonly head: CenterNetTail,
    private readonly inner: CaptionDecoder,
  ) {
    this.variables = new Map([...head.variables, ...inner.variables]);
    this.buffers = inner.buffers ?? new Map();
    this.imageVectorParts = [inner.shape.pooledDim];
  }

  /** Builds the head and, through `createInner`, the decoder proper for the head's output shape. */
  static create(
    config: DecoderConfig,
    shape: DecoderShape,
    createInner: (config: DecoderConfig, shape: DecoderShape) => CaptionDecoder,
  ): HeadedDecoder {
    const head = config.featureHead;
    if (!head) throw new Error("HeadedDecoder needs a config with featureHead");
    const tail = new CenterNetTail(head.gridPool, head.output);
    try {
      const { featureHead: _, ...innerConfig } = config;
      return new HeadedDecoder(config, shape, tail, createInner(innerConfig, tail.outputShape(shape)));
    } catch (error) {
      tail.dispose();
      throw error;
    }
  }

  forward(
    inputs: DecoderInputs,
    tokens: tf.Tensor2D,
    training: boolean,
    imageRows?: tf.Tensor1D,
  ): TeacherForcedOutput {
    return tf.tidy(() => {
      // The head runs once per image; its output is spread over the captions by the inner decoder.
      const headed = this.head.apply(inputs.grid);
      const { logits, auxLoss } = this.inner.forward(headed, tokens, training, imageRows);
      return auxLoss ? { logits, auxLoss } : { logits };
    });
  }

  start(inputs: DecoderInputs): DecoderState {
    return tf.tidy(() => this.inner.start(this.head.apply(inputs.grid)));
  }

  imageVectors(inputs: DecoderInputs): tf.Tensor2D {
    return tf.tidy(() => this.head.apply(inputs.grid).pooled);
  }

  step(state: DecoderState, previous: tf.Tensor1D): DecoderStep {
    return this.inner.step(state, previous);
  }

  gatherState(state: DecoderState, indices: tf.Tensor1D): DecoderState {
    return this.inner.gatherState(state, indices);
  }

  dispose(): void {
    this.head.dispose();
    this.inner.dispose();
  }
}
