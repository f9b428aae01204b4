import { z } from "zod";
import type { DecoderConfig, DecoderShape } from "./types.js";

/**
 * Strict schemas of a resolved decoder config and shape as stored in model.json. (The training config
 * has its own schema with defaults; a model file always records every value.)
 */
export const featureHeadSchema = z
  .object({
    kind: z.literal("centernet-tail"),
    gridPool: z.union([z.literal(1), z.literal(2)]),
    output: z.enum(["neck", "expand"]).optional(),
  })
  .strict();

const showAttendTell = z
  .object({
    kind: z.literal("show-attend-tell"),
    embedDim: z.number().int().positive(),
    hiddenDim: z.number().int().positive(),
    attentionDim: z.number().int().positive(),
    dropout: z.number().min(0).max(0.95),
    attentionRegularization: z.number().min(0).optional(),
    featureBatchNorm: z.boolean().optional(),
    gate: z.enum(["channel", "scalar"]).optional(),
    featureHead: featureHeadSchema.optional(),
  })
  .strict();

const transformer = z
  .object({
    kind: z.literal("transformer"),
    layers: z.number().int().positive(),
    modelDim: z.number().int().positive(),
    heads: z.number().int().positive(),
    feedForwardDim: z.number().int().positive(),
    dropout: z.number().min(0).max(0.95),
    maxLength: z.number().int().positive().optional(),
    featureHead: featureHeadSchema.optional(),
  })
  .strict();

export const decoderConfigSchema: z.ZodType<DecoderConfig> = z.discriminatedUnion("kind", [
  showAttendTell,
  transformer,
]);

export const decoderShapeSchema: z.ZodType<DecoderShape> = z
  .object({
    vocabSize: z.number().int().positive(),
    regions: z.number().int().positive(),
    featureDim: z.number().int().positive(),
    pooledDim: z.number().int().min(0),
  })
  .strict();
