import { existsSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import type { tf } from "../tfjs/backend.js";

/** tfjs on first use: the built-in encoder specs (builtin.ts) import this module, and listing them must stay cheap. */
async function loadTf(): Promise<typeof tf> {
  return (await import("../tfjs/backend.js")).tf;
}

/** The parts of a tfjs-converter model.json this loader reads or patches. */
export interface ModelJson {
  modelTopology: { node?: GraphNode[] } & Record<string, unknown>;
  weightsManifest: tf.io.WeightsManifestConfig;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  signature?: Record<string, unknown>;
  userDefinedMetadata?: Record<string, unknown>;
}

export interface GraphNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, unknown>;
}

/** Reads every weight shard, in manifest order, as one contiguous buffer per shard. */
export type ShardReader = (shardPath: string) => Promise<Uint8Array>;

const require = createRequire(import.meta.url);

/** Absolute path of a file inside an installed package, resolved through node_modules (never fetched). */
export function resolvePackageFile(pkg: string, file: string): string {
  // Not require.resolve(`${pkg}/package.json`): packages with an "exports" map (nsfwjs) hide it.
  for (const dir of require.resolve.paths(pkg) ?? []) {
    const candidate = path.join(dir, pkg, file);
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`cannot find ${file} in the installed package ${pkg}: run npm install`);
}

/** `package@version/file` of a file in an installed package: what identifies the graph it holds. */
export function packageFileId(pkg: string, file: string): string {
  const { version } = JSON.parse(readFileSync(resolvePackageFile(pkg, "package.json"), "utf8")) as {
    version?: string;
  };
  return `${pkg}@${version ?? "?"}/${file}`;
}

/**
 * A tfjs IOHandler that reads model.json + shards from disk. tfjs in Node cannot fetch file:// URLs
 * and tfjs-node (which has a file:// handler) is not a dependency, so the artifacts are assembled here.
 * `patch` may edit the parsed JSON in memory before the graph is built (e.g. free a fixed batch dim).
 */
export function diskIOHandler(
  json: ModelJson,
  readShard: ShardReader,
  patch?: (json: ModelJson) => void,
): tf.io.IOHandler {
  return {
    load: async () => {
      patch?.(json);
      return (await loadTf()).io.getModelArtifactsForJSON(json as tf.io.ModelJSON, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const shard of group.paths) {
            const bytes = await readShard(shard);
            buffers.push(
              bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
            );
          }
        }
        return [specs, buffers];
      });
    },
  };
}

/**
 * Reads a standard model.json + binary shard files from a folder on disk: the artifacts a GraphModel
 * is built from (tfjs runtime) or converted to ONNX from (see tfjs-to-onnx.ts).
 */
export async function loadArtifactsFromFile(
  jsonPath: string,
  patch?: (json: ModelJson) => void,
): Promise<tf.io.ModelArtifacts> {
  const json = JSON.parse(await readFile(jsonPath, "utf8")) as ModelJson;
  const dir = path.dirname(jsonPath);
  return diskIOHandler(json, (shard) => readFile(path.join(dir, shard)), patch).load!();
}

/** Loads a standard model.json + binary shard files from a folder on disk. */
export async function loadGraphModelFromFile(
  jsonPath: string,
  patch?: (json: ModelJson) => void,
): Promise<tf.GraphModel> {
  const tfjs = await loadTf();
  return tfjs.loadGraphModel(tfjs.io.fromMemory(await loadArtifactsFromFile(jsonPath, patch)));
}

/**
 * nsfwjs ships each model as UMD `.min.js` bundles: model.min.js exports the model.json object and each
 * group1-shardNofM.min.js exports that shard's bytes as a base64 string. require() evaluates them from
 * node_modules without any network access.
 */
export async function loadNsfwjsArtifacts(modelDir: string): Promise<tf.io.ModelArtifacts> {
  const json = require(path.join(modelDir, "model.min.js")) as ModelJson;
  // Clone: require() caches the module object and the patch/load must not leak across instances.
  const copy = structuredClone(json);
  return diskIOHandler(copy, async (shard) => {
    const b64 = require(path.join(modelDir, `${shard}.min.js`)) as string;
    return Buffer.from(b64, "base64");
  }).load!();
}

/** An nsfwjs model as a tfjs GraphModel (see loadNsfwjsArtifacts). */
export async function loadNsfwjsModel(modelDir: string): Promise<tf.GraphModel> {
  const tfjs = await loadTf();
  return tfjs.loadGraphModel(tfjs.io.fromMemory(await loadNsfwjsArtifacts(modelDir)));
}

/**
 * Sets every dimension of a Placeholder's declared shape to -1 except the channel dim, so the graph
 * accepts any batch and any input size (CenterNet's JSON declares a fixed [1, 512, 512, 3]).
 */
export function freeInputShape(json: ModelJson, placeholder: string): void {
  const node = json.modelTopology.node?.find((n) => n.name === placeholder);
  if (!node) throw new Error(`model has no input node "${placeholder}"`);
  const shapeAttr = node.attr?.shape as { shape?: { dim?: { size: string }[] } } | undefined;
  const dims = shapeAttr?.shape?.dim;
  if (dims) for (let i = 0; i < dims.length - 1; i++) dims[i] = { size: "-1" };
  const sig = json.signature as
    | { inputs?: Record<string, { tensorShape?: { dim?: { size: string }[] } }> }
    | undefined;
  for (const input of Object.values(sig?.inputs ?? {})) {
    const sdims = input.tensorShape?.dim;
    if (sdims) for (let i = 0; i < sdims.length - 1; i++) sdims[i] = { size: "-1" };
  }
}
