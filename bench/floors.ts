/**
 * What this machine allows the default model, from counted work and measured speeds (issue 18's
 * targets against the hardware):
 * 1. the float32 product peak of onnxruntime here (a 512x1024x1024 MatMul, 1 and 2 threads);
 * 2. the floating-point work of one photo, counted from onnxruntime's profile of the real graphs: the
 *    encoder (photo and mirror), the decoders' start graph, and the beam steps (rows counted while
 *    captioning 32 photos at beam 3), with the time each takes;
 * 3. from these, the images/s no code can pass here (all work at the 2-thread peak), and the one-photo
 *    figures at batch 1;
 * 4. the two int8 designs, on synthetic layers of the models' sizes: onnxruntime's 8-bit MatMulNBits
 *    against float32 MatMul (the decoder steps' products), and QLinearConv against Conv (the encoder's),
 *    alone and with the hard-swish between layers in float32.
 *
 *   npx tsx bench/floors.ts [--model DIR] [--flickr8k DIR]
 *
 * Run it on an idle machine: every figure is a speed. Images are Flickr8k val photos when ../shared is
 * present (the step count depends on the captions), synthetic ones otherwise.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";

const cache = mkdtempSync(path.join(os.tmpdir(), "captionkit-floors-"));
process.env.CAPTIONKIT_ONNX_CACHE = cache; // the graphs this run builds land here, to be profiled

const { loadCaptioner } = await import("../src/captioner/captioner.js");
const { defaultModelDir } = await import("../src/core/paths.js");
const { OnnxGraphBuilder } = await import("../src/core/onnx-builder.js");
const { loadOnnxRuntime } = await import("../src/core/onnxruntime.js");
const { planSpecs } = await import("../src/decoders/onnx/plan.js");
const { satStepInputs } = await import("../src/decoders/onnx/sat-graph.js");
const { transformerStepInputs } = await import("../src/decoders/onnx/transformer-graph.js");
const { describeModel } = await import("../src/model/load.js");
const { valPhotosOrSynthetic } = await import("./flickr8k-val.js");

const { values } = parseArgs({ options: { model: { type: "string" }, flickr8k: { type: "string" } } });
const modelDir = values.model ?? defaultModelDir();
const ort = await loadOnnxRuntime();
type Session = Awaited<ReturnType<typeof ort.InferenceSession.create>>;
type Feeds = Record<string, InstanceType<typeof ort.Tensor>>;

const load = () => os.loadavg()[0]!.toFixed(2);
let seed = 12345;
const random = () => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648 - 0.5;
};
const floats = (dims: number[], scale = 1) =>
  new ort.Tensor(
    "float32",
    Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => random() * scale),
    dims,
  );

/** Mean ms of one run over enough runs to fill ~`budget` ms (after two warm-up runs). */
async function timeRuns(session: Session, feeds: Feeds, budget = 1500): Promise<number> {
  await session.run(feeds);
  const t = performance.now();
  await session.run(feeds);
  const runs = Math.max(3, Math.min(2000, Math.round(budget / Math.max(0.01, performance.now() - t))));
  const began = performance.now();
  for (let i = 0; i < runs; i++) await session.run(feeds);
  return (performance.now() - began) / runs;
}

const options = (threads: number) =>
  ({
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
  }) as const;

/** Floating-point operations of one run of `model` on `feeds`, summed over its products and convolutions. */
async function countFlops(model: Uint8Array | string, feeds: Feeds): Promise<number> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "captionkit-profile-"));
  try {
    const session = await ort.InferenceSession.create(model as Uint8Array, {
      ...options(1),
      enableProfiling: true,
      profileFilePrefix: path.join(dir, "run"),
    });
    await session.run(feeds);
    session.endProfiling();
    await session.release();
    const file = readdirSync(dir).find((f) => f.endsWith(".json"));
    if (!file) throw new Error("onnxruntime wrote no profile");
    const events = JSON.parse(readFileSync(path.join(dir, file), "utf8")) as ProfileEvent[];
    return events
      .filter((e) => e.cat === "Node" && e.name.endsWith("_kernel_time"))
      .reduce((s, e) => s + flopsOf(e), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface ProfileEvent {
  cat: string;
  name: string;
  args: {
    op_name?: string;
    input_type_shape?: Record<string, number[]>[];
    output_type_shape?: Record<string, number[]>[];
  };
}

const size = (dims: number[] | undefined) => (dims ?? []).reduce((a, b) => a * b, 1);
const shapes = (list: Record<string, number[]>[] | undefined) => (list ?? []).map((s) => Object.values(s)[0]);

/** 2 x multiply-adds of a convolution or product node, from the shapes onnxruntime recorded. */
function flopsOf(e: ProfileEvent): number {
  const op = e.args.op_name ?? "";
  const [a, w] = shapes(e.args.input_type_shape);
  const [out] = shapes(e.args.output_type_shape);
  if (!a || !out) return 0;
  if (/Conv$/.test(op) && w) return 2 * size(out) * size(w.slice(1)); // w [Cout, Cin / group, kh, kw]
  // A [..., M, K] (or K x M transposed) times [..., K, N]: size(A) x N multiply-adds
  if (/MatMul|Gemm/.test(op)) return 2 * size(a) * (out[out.length - 1] ?? 0);
  return 0;
}

// 1. the float32 product peak
console.log(`machine: ${os.cpus().length} cores (${os.cpus()[0]?.model}); load at start ${load()}\n`);
const peak: Record<number, number> = {};
{
  const b = new OnnxGraphBuilder();
  const w = b.floats("w", floats([1024, 1024]).data as Float32Array, [1024, 1024]);
  b.node("MatMul", ["x", w], {}, "y", true);
  const model = b.build({
    name: "peak",
    opset: 17,
    inputs: [{ name: "x", dims: [512, 1024] }],
    outputs: ["y"],
  });
  for (const threads of [1, 2]) {
    const session = await ort.InferenceSession.create(model, options(threads));
    const ms = await timeRuns(session, { x: floats([512, 1024]) });
    peak[threads] = (2 * 512 * 1024 * 1024) / ms / 1e6;
    console.log(
      `float32 product peak, ${threads} thread(s): ${peak[threads]!.toFixed(0)} GFLOP/s (load ${load()})`,
    );
    await session.release();
  }
}

// 2. the work of one photo in the real graphs, and its measured time

const captioner = await loadCaptioner({ modelDir, batchSize: 32 });
const batch = await valPhotosOrSynthetic(32, values.flickr8k);
const runtime = captioner.model.runtime;
let stepRows = 0;
const open = runtime.open.bind(runtime);
runtime.open = (views) => {
  const session = open(views);
  const step = session.step.bind(session);
  session.step = (state, previous) => {
    stepRows += previous.length * views.length; // one search row is a decoder row per view
    return step(state, previous);
  };
  return session;
};
await captioner.caption(batch.slice(0, 2), { beam: 3 }); // warm-up
stepRows = 0;
const began = performance.now();
await captioner.caption(batch, { beam: 3 });
const batchMs = performance.now() - began;
const timings = captioner.lastTimings;
const rowsPerPhoto = stepRows / batch.length;
const source = typeof batch[0] === "string" ? "Flickr8k val" : "synthetic";
console.log(
  `\n${captioner.modelName}, 32 ${source} photos at beam 3: ${batchMs.toFixed(0)} ms = ${(32e3 / batchMs).toFixed(1)} images/s ` +
    `(preprocess ${timings.preprocess.toFixed(0)}, encode ${timings.encode.toFixed(0)}, generate ${timings.generate.toFixed(0)} ms); ` +
    `${rowsPerPhoto.toFixed(1)} decoder rows stepped per photo (load ${load()})`,
);
captioner.dispose();

const files = (dir: string, ext: string): string[] =>
  readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(ext))
    .map((f) => path.join(dir, f));
const encoderFile = files(path.join(cache, "encoders"), ".onnx")[0];
const startFile = files(cache, "start.onnx")[0];
const stepFile = files(cache, "step.onnx")[0];
if (!encoderFile || !startFile || !stepFile) throw new Error(`expected the built graphs under ${cache}`);
const plan = planSpecs((await describeModel(modelDir)).members);
const size448 = captioner.preprocessing.size;

const encoderProbe = await ort.InferenceSession.create(encoderFile, options(2));
const encoderFeeds = { [encoderProbe.inputNames[0]!]: floats([2, size448, size448, 3], 255) };
const encoderFlops = await countFlops(encoderFile, encoderFeeds);
await encoderProbe.release();
const { regions, featureDim, pooledDim } = plan.shape;
const startFlops = await countFlops(startFile, {
  grid: floats([2, regions, featureDim]),
  pooled: floats([2, pooledDim]),
});

/** Step feeds for `rows` rows over `groups` per-image value sets, `t` tokens already seen. */
function stepFeeds(views: number, rows: number, groups: number, t: number): Feeds {
  const symbols: Record<string, number> = { groups, rows, t };
  const feeds: Feeds = {
    tokens: new ort.Tensor(
      "int32",
      Int32Array.from({ length: rows }, (_, i) => 4 + (i % 40)),
      [views, rows / views],
    ),
  };
  if (plan.leaves.some((l) => l.config.kind === "transformer"))
    feeds.position = new ort.Tensor("int64", BigInt64Array.of(BigInt(t)), [1]);
  for (const leaf of plan.leaves) {
    const inputs = leaf.config.kind === "transformer" ? transformerStepInputs(leaf) : satStepInputs(leaf);
    for (const { name, dims } of inputs)
      feeds[name] = floats(dims.map((d) => (typeof d === "string" ? symbols[d]! : d)));
  }
  return feeds;
}
const stepFlopsPerRow = (await countFlops(stepFile, stepFeeds(2, 6, 2, 6))) / 6;
const stepFlops = stepFlopsPerRow * rowsPerPhoto;
const total = encoderFlops + startFlops + stepFlops;
const gf = (f: number) => (f / 1e9).toFixed(2);
const perPhoto = {
  encode: timings.encode / 32,
  generate: timings.generate / 32,
  preprocess: timings.preprocess / 32,
};
console.log(
  "\n| work of one photo (batch of 32, beam 3) | GFLOP | measured ms per photo | GFLOP/s reached |",
);
console.log("| --- | --- | --- | --- |");
console.log(
  `| encoder, photo + mirror | ${gf(encoderFlops)} | ${perPhoto.encode.toFixed(1)} | ${(encoderFlops / perPhoto.encode / 1e6).toFixed(0)} |`,
);
console.log(
  `| decoders: start ${gf(startFlops)} + ${rowsPerPhoto.toFixed(0)} step rows x ${(stepFlopsPerRow / 1e6).toFixed(1)} MFLOP | ${gf(startFlops + stepFlops)} | ${perPhoto.generate.toFixed(1)} | ${((startFlops + stepFlops) / perPhoto.generate / 1e6).toFixed(0)} |`,
);
console.log(
  `| total | ${gf(total)} | ${(batchMs / 32).toFixed(1)} | ${(total / (batchMs / 32) / 1e6).toFixed(0)} |`,
);
const floorMs = total / (peak[2]! * 1e6);
console.log(
  `\nceiling: every operation at the 2-thread peak (${peak[2]!.toFixed(0)} GFLOP/s) gives ${floorMs.toFixed(1)} ms per photo = ` +
    `${(1000 / floorMs).toFixed(1)} images/s at most (targets: 40 for a folder, 30 for serve); the encoder alone: ` +
    `${(1000 / (encoderFlops / (peak[2]! * 1e6))).toFixed(1)} images/s`,
);

// 3. one photo at batch 1: the step as the captioner runs it (one thread, 3 beams x 2 views)
const oneStep = await ort.InferenceSession.create(stepFile, options(1));
const sixRows = await timeRuns(oneStep, stepFeeds(2, 6, 2, 6));
const greedy = [
  await timeRuns(oneStep, stepFeeds(1, 1, 1, 6)),
  await timeRuns(oneStep, stepFeeds(2, 2, 2, 6)),
];
await oneStep.release();
const stepsPerCaption = rowsPerPhoto / 6; // 3 beams x 2 views
console.log(
  `one photo: a beam step (6 rows) takes ${sixRows.toFixed(2)} ms on one thread (${((6 * stepFlopsPerRow) / sixRows / 1e6).toFixed(0)} GFLOP/s), ` +
    `x ${stepsPerCaption.toFixed(1)} steps = ${(sixRows * stepsPerCaption).toFixed(0)} ms of steps per caption (target for the whole photo: 50 ms); ` +
    `greedy step 1 view ${greedy[0]!.toFixed(3)} ms, 2 views ${greedy[1]!.toFixed(3)} ms (target 0.5) (load ${load()})`,
);

// 4. the int8 designs on synthetic layers
const { onnx } = (await import("onnx-proto")).default;
const DT = onnx.TensorProto.DataType;
const ATTR = onnx.AttributeProto.AttributeType;
type ProtoNode = InstanceType<typeof onnx.NodeProto>;
type ProtoTensor = InstanceType<typeof onnx.TensorProto>;
const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const tensor = (name: string, dims: number[], dataType: number, data: ArrayBufferView) =>
  onnx.TensorProto.create({ name, dims, dataType, rawData: bytes(data) });
const int = (name: string, i: number) => onnx.AttributeProto.create({ name, type: ATTR.INT, i });
const intList = (name: string, ints: number[]) => onnx.AttributeProto.create({ name, type: ATTR.INTS, ints });
function protoModel(nodes: ProtoNode[], inits: ProtoTensor[], input: number[], output: string): Uint8Array {
  const dim = input.map((d, i) => (i === 0 ? { dimParam: "n" } : { dimValue: d }));
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [
        { domain: "", version: 17 },
        { domain: "com.microsoft", version: 1 },
      ],
      graph: {
        name: "probe",
        node: nodes,
        initializer: inits,
        input: [{ name: "x", type: { tensorType: { elemType: DT.FLOAT, shape: { dim } } } }],
        output: [{ name: output, type: { tensorType: { elemType: DT.FLOAT } } }],
      },
    }),
  ).finish();
}

/** 20 products of 512 x 512 (20 MB of float32, a default-model step's size), float32 or 8-bit blocks of 32. */
function products(int8: boolean): Uint8Array {
  const [k, layers, block] = [512, 20, 32];
  const nodes: ProtoNode[] = [];
  const inits: ProtoTensor[] = [];
  let x = "x";
  for (let l = 0; l < layers; l++) {
    const w = floats([k, k], 0.1).data as Float32Array;
    if (!int8) {
      inits.push(tensor(`w${l}`, [k, k], DT.FLOAT, w));
      nodes.push(onnx.NodeProto.create({ opType: "MatMul", input: [x, `w${l}`], output: [`y${l}`] }));
    } else {
      const blocks = k / block;
      const q = new Uint8Array(k * k);
      const scales = new Float32Array(k * blocks);
      for (let n = 0; n < k; n++)
        for (let b = 0; b < blocks; b++) {
          let max = 0;
          for (let i = 0; i < block; i++) max = Math.max(max, Math.abs(w[(b * block + i) * k + n]!));
          const scale = max / 127 || 1;
          scales[n * blocks + b] = scale;
          for (let i = 0; i < block; i++)
            q[(n * blocks + b) * block + i] = Math.round(w[(b * block + i) * k + n]! / scale) + 128;
        }
      inits.push(
        tensor(`q${l}`, [k, blocks, block], DT.UINT8, q),
        tensor(`s${l}`, [k * blocks], DT.FLOAT, scales),
      );
      nodes.push(
        onnx.NodeProto.create({
          opType: "MatMulNBits",
          domain: "com.microsoft",
          input: [x, `q${l}`, `s${l}`],
          output: [`y${l}`],
          attribute: [
            int("K", k),
            int("N", k),
            int("bits", 8),
            int("block_size", block),
            int("accuracy_level", 4),
          ],
        }),
      );
    }
    x = `y${l}`;
  }
  return protoModel(nodes, inits, [1, k], x);
}

console.log("\n| 20 products of 512 x 512, one thread | float32 MatMul ms | 8-bit MatMulNBits ms |");
console.log("| --- | --- | --- |");
const [fp32Products, int8Products] = [products(false), products(true)];
for (const rows of [1, 2, 6, 192]) {
  const feeds = { x: floats([rows, 512]) };
  const ms: number[] = [];
  for (const m of [fp32Products, int8Products]) {
    const session = await ort.InferenceSession.create(m, options(1));
    ms.push(await timeRuns(session, feeds));
    await session.release();
  }
  console.log(`| ${rows} row(s) | ${ms[0]!.toFixed(3)} | ${ms[1]!.toFixed(3)} |`);
}

/** 8 convolutions of one MobileNetV3 shape, float32 or uint8 (QLinearConv), optionally hard-swish between. */
function convs(c: ConvShape, int8: boolean, hardSwish: boolean): Uint8Array {
  const { channels, k, depthwise } = c;
  const fanIn = depthwise ? 1 : channels;
  const attrs = [
    intList("kernel_shape", [k, k]),
    intList("pads", [(k - 1) / 2, (k - 1) / 2, (k - 1) / 2, (k - 1) / 2]),
    int("group", depthwise ? channels : 1),
  ];
  const nodes: ProtoNode[] = [];
  const inits: ProtoTensor[] = int8
    ? [tensor("scale", [], DT.FLOAT, Float32Array.of(0.05)), tensor("zero", [], DT.UINT8, Uint8Array.of(128))]
    : [];
  const node = (opType: string, input: string[], output: string, attribute = [] as typeof attrs): string => {
    nodes.push(onnx.NodeProto.create({ opType, input, output: [output], attribute }));
    return output;
  };
  let x = "x";
  if (int8) x = node("QuantizeLinear", ["x", "scale", "zero"], "xq");
  for (let l = 0; l < 8; l++) {
    const count = channels * fanIn * k * k;
    if (int8) {
      inits.push(
        tensor(
          `w${l}`,
          [channels, fanIn, k, k],
          DT.INT8,
          Int8Array.from({ length: count }, () => Math.round(random() * 200)),
        ),
        tensor(`ws${l}`, [channels], DT.FLOAT, new Float32Array(channels).fill(0.001)),
        tensor(`wz${l}`, [channels], DT.INT8, new Int8Array(channels)),
        tensor(`b${l}`, [channels], DT.INT32, new Int32Array(channels)),
      );
      const inputs = [x, "scale", "zero", `w${l}`, `ws${l}`, `wz${l}`, "scale", "zero", `b${l}`];
      x = node("QLinearConv", inputs, `c${l}`, attrs);
      if (hardSwish) {
        node("DequantizeLinear", [x, "scale", "zero"], `d${l}`);
        node("HardSwish", [`d${l}`], `h${l}`);
        x = node("QuantizeLinear", [`h${l}`, "scale", "zero"], `hq${l}`);
      }
    } else {
      inits.push(
        tensor(`w${l}`, [channels, fanIn, k, k], DT.FLOAT, floats([count], 0.2).data as Float32Array),
        tensor(`b${l}`, [channels], DT.FLOAT, new Float32Array(channels)),
      );
      x = node("Conv", [x, `w${l}`, `b${l}`], `c${l}`, attrs);
      if (hardSwish) x = node("HardSwish", [x], `h${l}`);
    }
  }
  if (int8) x = node("DequantizeLinear", [x, "scale", "zero"], "out");
  return protoModel(nodes, inits, [2, channels, c.side, c.side], x);
}
interface ConvShape {
  channels: number;
  side: number;
  k: number;
  depthwise: boolean;
}

console.log(
  "\n| 8 convolutions, batch 2 (photo + mirror), two threads | float32 ms | uint8 ms | float32 + hard-swish ms | uint8 + hard-swish in float32 ms |",
);
console.log("| --- | --- | --- | --- | --- |");
for (const c of [
  { channels: 64, side: 112, k: 1, depthwise: false },
  { channels: 120, side: 28, k: 1, depthwise: false },
  { channels: 240, side: 28, k: 1, depthwise: false },
  { channels: 480, side: 14, k: 1, depthwise: false },
  { channels: 240, side: 28, k: 3, depthwise: true },
]) {
  const feeds = { x: floats([2, c.channels, c.side, c.side], 4) };
  const ms: string[] = [];
  for (const [int8, hardSwish] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ] as const) {
    const session = await ort.InferenceSession.create(convs(c, int8, hardSwish), options(2));
    ms.push((await timeRuns(session, feeds, 1000)).toFixed(2));
    await session.release();
  }
  const label = `${c.depthwise ? "depthwise " : ""}${c.k}x${c.k}, ${c.channels} channels at ${c.side}x${c.side}`;
  console.log(`| ${label} | ${ms.join(" | ")} |`);
}
console.log(`(load ${load()})`);
rmSync(cache, { recursive: true, force: true });
