import { z } from "zod";
import type { Vocabulary, VocabularyJson } from "../data/vocabulary.js";
import { decoderConfigSchema, decoderShapeSchema } from "../decoders/config.js";
import type { CaptionDecoder } from "../decoders/types.js";
import { type PreprocessSpec, preprocessSpecSchema } from "../image/preprocess.js";

/*
 * The model folder format in one place: model.json of a single model and of an ensemble, with their
 * defaults. A folder is `model.json` + weights (single), or `model.json` + member folders (ensemble).
 */

export const MODEL_FORMAT = "captionkit-model";
export const MODEL_VERSION = 1;
export const MODEL_FILE = "model.json";
export const WEIGHTS_FILE = "weights.bin";

export type WeightsDtype = "float16" | "float32";

const weightEntrySchema = z
  .object({
    name: z.string().min(1),
    shape: z.array(z.number().int().min(0)),
    /** "variable": trainable weight; "buffer": non-trainable state (batch-norm statistics). */
    kind: z.enum(["variable", "buffer"]),
    /** Byte offset in weights.bin. */
    offset: z.number().int().min(0),
  })
  .strict();

const vocabularySchema = z
  .object({ tokens: z.array(z.string()).min(4), minCount: z.number(), maxLength: z.number() })
  .strict();

export const modelFileSchema = z
  .object({
    format: z.literal(MODEL_FORMAT),
    version: z.literal(MODEL_VERSION),
    name: z.string().min(1),
    /** Encoder registry name (src/encoders createEncoder). */
    encoder: z.string().min(1),
    decoder: decoderConfigSchema,
    shape: decoderShapeSchema,
    vocabulary: vocabularySchema,
    preprocessing: preprocessSpecSchema,
    weights: z
      .object({
        file: z.string().min(1),
        dtype: z.enum(["float16", "float32"]),
        byteLength: z.number().int().min(0),
        sha256: z.string().regex(/^[0-9a-f]{64}$/),
        entries: z.array(weightEntrySchema),
      })
      .strict(),
    /** Caption every image and its mirror image together by default (test-time mirroring). */
    mirror: z.boolean().default(false),
    /** Free-form: the metrics the model reached (e.g. val BLEU-4, CIDEr-D at beam 1 and 3). */
    metrics: z.record(z.string(), z.unknown()).default({}),
    /** Free-form: how it was trained (config, time, tokens/s, ...). */
    training: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

export type ModelFile = z.output<typeof modelFileSchema>;

/** Everything about a model besides its weights. */
export interface ModelMeta {
  name: string;
  encoder: string;
  vocabulary: VocabularyJson;
  preprocessing: PreprocessSpec;
  /**
   * Whether the captioner, by default, averages the model over each image and its mirror image
   * (test-time mirroring: twice the encoder and decoder work for a measured quality gain).
   */
  mirror?: boolean;
  metrics?: Record<string, unknown>;
  training?: Record<string, unknown>;
}

export interface SaveModelOptions {
  /** On-disk precision of weights.bin. Default float16 (half the size; decoding results barely move). */
  dtype?: WeightsDtype;
}

/**
 * A model folder read and checked without building its decoder: who it is, and each member's decoder
 * config and shape (one for a single model). Enough for a runtime whose graphs are already built.
 */
export interface ModelDescription {
  vocabulary: Vocabulary;
  meta: ModelMeta;
  /** sha256 of weights.bin (of an ensemble: of its members' digests). */
  weightsDigest: string;
  members: Array<{ config: ModelFile["decoder"]; shape: ModelFile["shape"] }>;
}

export interface LoadedModel {
  /** One decoder, or an EnsembleDecoder for an ensemble folder (src/model/ensemble.ts). */
  decoder: CaptionDecoder;
  vocabulary: Vocabulary;
  meta: ModelMeta;
  /**
   * sha256 of weights.bin (of an ensemble: of its members' digests): what a model's n-gram prior is
   * checked against, so that a prior never outlives the weights it was fitted to.
   */
  weightsDigest: string;
}

export const ENSEMBLE_FORMAT = "captionkit-ensemble";

/**
 * model.json of an ensemble folder: member model folders (subfolders, each a complete captionkit
 * model) whose next-word probabilities are averaged. Its encoder is the members' encoders joined
 * with "+", in member order, so one `a+b` encoder feeds every member its own slice; or `encoder` when
 * that join does not work as it is (a 7x7 member next to a 14x14 one reads the 14x14 encoder's
 * output averaged over 2x2 blocks, which is what centernet_448 is of centernet_448_grid14).
 */
export const ensembleFileSchema = z
  .object({
    format: z.literal(ENSEMBLE_FORMAT),
    version: z.literal(1),
    name: z.string().min(1),
    /** Member folders, relative to the ensemble folder. */
    members: z.array(z.string().min(1)).min(2),
    /** Encoder of the joined model; default: the members' encoders joined with "+". */
    encoder: z.string().min(1).optional(),
    /** Caption every image and its mirror image together by default (test-time mirroring; docs/generation.md). */
    mirror: z.boolean().default(false),
    /**
     * The member folder that scores queries for generative text-to-image search instead of the whole
     * ensemble (one of `members`): scoring runs a decoder over every shortlisted photo, so one member
     * costs a fraction of the ensemble (docs/search.md has the measured recall of each choice).
     */
    searchScorer: z.string().min(1).optional(),
    metrics: z.record(z.string(), z.unknown()).default({}),
    training: z.record(z.string(), z.unknown()).default({}),
  })
  .strict()
  .refine((f) => f.searchScorer === undefined || f.members.includes(f.searchScorer), {
    message: "searchScorer must be one of the members",
    path: ["searchScorer"],
  });
export type EnsembleFile = z.output<typeof ensembleFileSchema>;

/** What saveEnsemble records besides the members. */
export interface EnsembleMeta {
  name: string;
  /** Encoder of the joined model, when the members' encoders joined with "+" do not fit as they are. */
  encoder?: string;
  /** Caption with test-time mirroring by default. */
  mirror?: boolean;
  /** Index (from 0) of the member that scores queries for generative search. */
  searchScorer?: number;
  metrics?: Record<string, unknown>;
  training?: Record<string, unknown>;
}
