import { z } from "zod";

/*
 * The one definition of a decoder's config: what training presets set (defaults are the training
 * defaults) and what model.json records. The TypeScript types are inferred from it (decoders/types.ts).
 * Options marked optional have their default applied where they are used, so older model files that
 * lack them load unchanged.
 */

/**
 * Trainable layers between the feature cache and the decoder proper, so training can fine-tune the end of
 * the encoder. "centernet-tail" runs CenterNet's last two backbone blocks and its `extern1` neck on the
 * `centernet_448_block12_grid14` features (starting from the graph's weights), then averages the 14x14
 * grid over gridPool x gridPool blocks: with gridPool 2 the decoder proper sees exactly `centernet_448`.
 * With output "expand" it stops at block 14's expanded depthwise output instead (720 channels: with
 * gridPool 2, exactly `centernet_448_expand`).
 */
export const featureHeadSchema = z
  .object({
    kind: z.literal("centernet-tail"),
    gridPool: z.union([z.literal(1), z.literal(2)]),
    /** Default "neck". */
    output: z.enum(["neck", "expand"]).optional(),
  })
  .strict();

const dropout = z.number().min(0).max(0.9);

export const showAttendTellSchema = z
  .object({
    kind: z.literal("show-attend-tell"),
    /** Word embedding size. */
    embedDim: z.number().int().positive().default(512),
    /** LSTM hidden size. */
    hiddenDim: z.number().int().positive().default(512),
    /** Additive attention projection size. */
    attentionDim: z.number().int().positive().default(512),
    /** Dropout before the output projection. */
    dropout: dropout.default(0.5),
    /**
     * Weight of the doubly stochastic attention regularisation returned as `auxLoss`:
     * lambda * mean over the batch of sum over regions of (1 - sum over time of alpha)^2. Default 1.0.
     */
    attentionRegularization: z.number().min(0).optional(),
    /** Batch-normalise the grid and pooled features before use (running statistics saved with the model). Default false. */
    featureBatchNorm: z.boolean().optional(),
    /**
     * The attention gate beta = sigmoid(f_beta(h)) that scales the context: "channel" (default) has one
     * gate per feature channel, as the widely used PyTorch reference implementation; "scalar" has one
     * per step, as in the paper.
     */
    gate: z.enum(["channel", "scalar"]).optional(),
    /** Trainable encoder layers run before the decoder (fine-tuning; docs/decoders.md). Default none. */
    featureHead: featureHeadSchema.optional(),
  })
  .strict();

export const transformerSchema = z
  .object({
    kind: z.literal("transformer"),
    /** Decoder layers (pre-LN). */
    layers: z.number().int().positive().default(2),
    /** Model width. */
    modelDim: z.number().int().positive().default(256),
    /** Attention heads; must divide modelDim. */
    heads: z.number().int().positive().default(4),
    /** Feed-forward inner width. */
    feedForwardDim: z.number().int().positive().default(1024),
    /** Dropout on attention outputs, feed-forward and embeddings. */
    dropout: dropout.default(0.1),
    /** Longest token sequence (including <start>) the learned positions cover. Default 32. */
    maxLength: z.number().int().positive().optional(),
    /** Trainable encoder layers run before the decoder (fine-tuning; docs/decoders.md). Default none. */
    featureHead: featureHeadSchema.optional(),
  })
  .strict();

export const decoderConfigSchema = z.discriminatedUnion("kind", [showAttendTellSchema, transformerSchema]);

/** What every decoder needs to know about its inputs, besides its own config. */
export const decoderShapeSchema = z
  .object({
    vocabSize: z.number().int().positive(),
    /** Grid regions (gridH * gridW). */
    regions: z.number().int().positive(),
    /** Channels of each grid region. */
    featureDim: z.number().int().positive(),
    pooledDim: z.number().int().min(0),
  })
  .strict();
