/**
 * Encoder speed alone (no decoding): ms per image on one thread (tfjs wasm), batch 1 and 8.
 *
 *   npx tsx bench/encoders.ts [--encoders a,b] [--rounds N]
 */
import { parseArgs } from "node:util";
import { createEncoder } from "../src/encoders/registry.js";

const { values } = parseArgs({
  options: {
    encoders: { type: "string", default: "mobilenet_v2_mid,centernet_224,mobilenet_v2_mid+centernet_224" },
    rounds: { type: "string", default: "3" },
  },
});
const rounds = Number(values.rounds);
console.log("| encoder | batch | ms/image | grid | pooled |");
console.log("| --- | --- | --- | --- | --- |");
for (const name of values.encoders.split(",")) {
  const encoder = await createEncoder(name);
  for (const batch of [1, 8]) {
    const x = new Float32Array(batch * encoder.inputSize * encoder.inputSize * 3).map(
      (_, i) => (i % 251) / 251,
    );
    await encoder.encode(x, batch); // warm-up: kernel setup, weight upload
    const start = performance.now();
    for (let r = 0; r < rounds; r++) await encoder.encode(x, batch);
    const ms = (performance.now() - start) / (rounds * batch);
    console.log(
      `| ${name} | ${batch} | ${ms.toFixed(1)} | ${encoder.gridShape.join("x")} | ${encoder.pooledSize} |`,
    );
  }
  encoder.dispose();
}
