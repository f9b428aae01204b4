/** Encoder output for one image under one encoder name (a single or a "+"-joined encoder). */
export interface ImageFeatures {
  encoder: string;
  /** [pooledSize] */
  pooled: Float32Array;
  /** [regions * channels] row-major, kept only when a ranking method needs it (generative). */
  grid?: Float32Array;
  /** Number of grid regions (gridH * gridW). */
  regions?: number;
}

export interface ProcessedImage {
  caption: string;
  confidence: number;
  features: ImageFeatures[];
}

export interface PipelineInput {
  path: string;
  bytes: Uint8Array;
  /** sha256 of bytes, when the caller has it (the indexer does). */
  hash?: string;
}

/**
 * What the indexer needs from the models, injected so the index logic is tested with synthetic
 * features and captions (see indexer.test.ts) and the real pipeline lives in default-pipeline.ts.
 */
export interface IndexPipeline {
  /** Caption model id recorded in the index (a folder name or a test name). */
  readonly captionModel: string;
  /** Folder of the caption model, recorded so that generative search can load the same model. */
  readonly captionModelDir?: string;
  /** Joint-embedding model id; undefined when the pipeline has no embedding model. */
  readonly embeddingModel?: string;
  /**
   * The pipeline reads each image from its path itself (a queue's workers do): process() then gets
   * empty bytes, so the indexer holds no photo in memory while batches are out.
   */
  readonly readsPaths?: boolean;
  /** One result per input, same order; an Error for an image that cannot be read or encoded. */
  process(inputs: PipelineInput[]): Promise<(ProcessedImage | Error)[]>;
  /** Joint-embedding vector from stored features, or undefined if the needed encoder is missing. */
  embed?(features: ImageFeatures[]): Float32Array | undefined;
  /** Called once a batch's results are in the index (a queue drops the jobs it kept until then). */
  committed?(inputs: PipelineInput[]): Promise<void> | void;
  dispose(): void;
}
