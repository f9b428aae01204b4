import { mulberry32 } from "../../core/rng.js";
import { normalizeParts } from "../../features/normalize-parts.js";
import type { TextFeaturizer, TextFeaturizerJson } from "./text-features.js";

/** Architecture of a joint image-text embedding; saved in model.json so a model rebuilds itself. */
export interface JointEmbeddingConfig {
  /** Encoder whose pooled vector feeds the image side, e.g. "mobilenet_v2_mid+centernet_224". */
  encoder: string;
  /** Sizes of the encoder parts inside the pooled vector, in order (each is centred and L2-normalised). */
  imageParts: number[];
  /** Hidden widths of the image MLP ([] = one linear projection). */
  imageHidden: number[];
  /** Width of the word (term) embeddings. */
  wordDim: number;
  /** Hidden widths of the text MLP on top of the mean term embedding. */
  textHidden: number[];
  /** Width of the joint space. */
  jointDim: number;
}

/**
 * Hubness correction (CSLS, Conneau et al. 2018, one-sided): some images sit close to every query
 * ("hubs") and crowd the top of many result lists. Each image's score is lowered by beta x its mean
 * cosine to its k nearest texts of a fixed bank of training captions, computed once per image.
 * The bank is kept as the captions' unit text embeddings (weight HUBNESS_BANK, [n, jointDim]), never
 * as text, so a saved model ships no caption of its training data.
 */
export interface HubnessCorrection {
  k: number;
  beta: number;
}

/** Weight holding the hubness bank: one unit text embedding per row, [n, jointDim]. */
export const HUBNESS_BANK = "hubness/bank";

export interface Param {
  shape: number[];
  values: Float32Array;
}

/**
 * Weights by stable name (the same names as the tf.Variables during training), plus the hubness
 * bank (HUBNESS_BANK), which is computed after training and never trained.
 */
export type ParamMap = Map<string, Param>;

/**
 * A joint embedding with its inference written in plain TypeScript: a query needs one mean over a
 * few term rows and two small matrix-vector products, far cheaper than starting a tfjs backend.
 * Training runs the same maths in tfjs (see train.ts); a test checks that the two agree.
 */
export class JointEmbedding {
  private correction: HubnessCorrection | undefined;

  constructor(
    readonly config: JointEmbeddingConfig,
    readonly featurizer: TextFeaturizer,
    readonly params: ParamMap,
    hubness?: HubnessCorrection,
  ) {
    if (hubness) this.setHubness(hubness);
  }

  /** The hubness correction's k and beta (its bank is the weight HUBNESS_BANK), if any. */
  get hubness(): HubnessCorrection | undefined {
    return this.correction;
  }

  /**
   * Turns the hubness correction on with a bank made from these texts: each is embedded and only its
   * unit vector is kept (texts with no known word are skipped). Replaces any earlier bank.
   */
  setHubnessBank(texts: Iterable<string>, k: number, beta: number): void {
    const dim = this.config.jointDim;
    const rows = [...texts].map((t) => this.embedText(t)).filter((v): v is Float32Array => v !== undefined);
    const values = new Float32Array(rows.length * dim);
    rows.forEach((v, i) => {
      values.set(v, i * dim);
    });
    this.params.set(HUBNESS_BANK, { shape: [rows.length, dim], values });
    this.setHubness({ k, beta });
  }

  /** Turns the hubness correction off and drops its bank. */
  clearHubness(): void {
    this.params.delete(HUBNESS_BANK);
    this.correction = undefined;
  }

  /** k and beta for the bank already in the weights (HUBNESS_BANK), checked against the joint width. */
  private setHubness({ k, beta }: HubnessCorrection): void {
    const bank = this.params.get(HUBNESS_BANK);
    if (!bank) throw new Error(`joint embedding: hubness correction without its bank weight ${HUBNESS_BANK}`);
    if (bank.shape.length !== 2 || bank.shape[1] !== this.config.jointDim) {
      throw new Error(
        `joint embedding: ${HUBNESS_BANK} has shape [${bank.shape.join(", ")}], expected [n, ${this.config.jointDim}]`,
      );
    }
    this.correction = { k, beta };
  }

  static init(config: JointEmbeddingConfig, featurizer: TextFeaturizer, seed = 1): JointEmbedding {
    const random = mulberry32(seed);
    const params: ParamMap = new Map();
    const dense = (name: string, fanIn: number, fanOut: number) => {
      // Glorot uniform: keeps activations at unit scale through the stack.
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      const w = new Float32Array(fanIn * fanOut).map(() => (random() * 2 - 1) * limit);
      params.set(`${name}/w`, { shape: [fanIn, fanOut], values: w });
      params.set(`${name}/b`, { shape: [fanOut], values: new Float32Array(fanOut) });
    };
    const stack = (prefix: string, input: number, hidden: number[]) => {
      let width = input;
      [...hidden, config.jointDim].forEach((out, layer) => {
        dense(`${prefix}/dense${layer}`, width, out);
        width = out;
      });
    };
    const imageDim = config.imageParts.reduce((a, b) => a + b, 0);
    params.set("image/mean", { shape: [imageDim], values: new Float32Array(imageDim) });
    stack("image", imageDim, config.imageHidden);
    const words = new Float32Array(featurizer.size * config.wordDim).map(() => (random() * 2 - 1) * 0.1);
    params.set("text/words", { shape: [featurizer.size, config.wordDim], values: words });
    stack("text", config.wordDim, config.textHidden);
    // CLIP's initial temperature 0.07, learned in log space.
    params.set("logit_scale", { shape: [], values: new Float32Array([Math.log(1 / 0.07)]) });
    return new JointEmbedding(config, featurizer, params);
  }

  get imageDim(): number {
    return this.config.imageParts.reduce((a, b) => a + b, 0);
  }

  param(name: string): Param {
    const p = this.params.get(name);
    if (!p) throw new Error(`joint embedding: missing weight ${name}`);
    return p;
  }

  /** pooled: one encoder pooled vector -> unit vector in the joint space. */
  embedImage(pooled: Float32Array): Float32Array {
    if (pooled.length !== this.imageDim) {
      throw new Error(`joint embedding expects ${this.imageDim} pooled features, got ${pooled.length}`);
    }
    const x = prepareImageInput(pooled, this.param("image/mean").values, this.config.imageParts);
    return l2normalize(this.mlp("image", x, this.config.imageHidden.length));
  }

  /** Unit vector for a text, or undefined when no word of it is known to the model. */
  embedText(text: string): Float32Array | undefined {
    const ids = this.featurizer.termIds(text);
    if (ids.length === 0) return undefined;
    const words = this.param("text/words").values;
    const dim = this.config.wordDim;
    const mean = new Float32Array(dim);
    for (const id of ids) {
      for (let j = 0; j < dim; j++) mean[j]! += words[id * dim + j]!;
    }
    for (let j = 0; j < dim; j++) mean[j]! /= ids.length;
    return l2normalize(this.mlp("text", mean, this.config.textHidden.length));
  }

  /** Width of the vectors stored in an index: the joint space plus one slot for the hub penalty. */
  get searchDim(): number {
    return this.config.jointDim + 1;
  }

  /**
   * What an index stores per image: [unit embedding, -beta x hubness]. Paired with queryVector's
   * trailing 1, one dot product gives cosine minus the penalty, so search stays a single pass.
   */
  searchVector(pooled: Float32Array): Float32Array {
    const v = this.embedImage(pooled);
    const out = new Float32Array(this.searchDim);
    out.set(v);
    out[v.length] = this.correction ? -this.correction.beta * this.hubOf(v, this.correction.k) : 0;
    return out;
  }

  /** [unit text embedding, 1], or undefined when no word of the text is known. */
  queryVector(text: string): Float32Array | undefined {
    const t = this.embedText(text);
    if (!t) return undefined;
    const out = new Float32Array(this.searchDim);
    out.set(t);
    out[t.length] = 1;
    return out;
  }

  /** Mean of the k largest cosines between an image embedding and the bank's text embeddings. */
  private hubOf(image: Float32Array, k: number): number {
    const bank = this.param(HUBNESS_BANK);
    const [n, dim] = bank.shape as [number, number];
    const cosines = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      let sum = 0;
      for (let j = 0; j < dim; j++) sum += bank.values[i * dim + j]! * image[j]!;
      cosines[i] = sum;
    }
    const top = cosines.sort((a, b) => b - a).slice(0, k);
    return top.reduce((a, b) => a + b, 0) / Math.max(top.length, 1);
  }

  private mlp(prefix: string, input: Float32Array, hiddenLayers: number): Float32Array {
    let x = input;
    for (let layer = 0; layer <= hiddenLayers; layer++) {
      const w = this.param(`${prefix}/dense${layer}/w`);
      const b = this.param(`${prefix}/dense${layer}/b`).values;
      const [fanIn, fanOut] = w.shape as [number, number];
      const y = Float32Array.from(b);
      for (let i = 0; i < fanIn; i++) {
        const xi = x[i]!;
        if (xi === 0) continue;
        const row = i * fanOut;
        for (let j = 0; j < fanOut; j++) y[j]! += xi * w.values[row + j]!;
      }
      if (layer < hiddenLayers) for (let j = 0; j < fanOut; j++) y[j] = Math.max(0, y[j]!);
      x = y;
    }
    return x;
  }

  toJSON(): {
    kind: "joint-embedding";
    config: JointEmbeddingConfig;
    featurizer: TextFeaturizerJson;
    hubness?: HubnessCorrection;
  } {
    const json = {
      kind: "joint-embedding" as const,
      config: this.config,
      featurizer: this.featurizer.toJSON(),
    };
    return this.correction ? { ...json, hubness: { ...this.correction } } : json;
  }
}

/** Each encoder part centred (train mean) and L2-normalised, then concatenated (normalizeParts). */
export const prepareImageInput = normalizeParts;

export function l2normalize(v: Float32Array): Float32Array {
  let norm = 0;
  for (const x of v) norm += x * x;
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  return v.map((x) => x * scale);
}
