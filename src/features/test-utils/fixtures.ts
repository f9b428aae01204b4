import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import sharp from "sharp";
import { writeTinyEncoder } from "../../encoders/test-utils/tiny-onnx.js";
import type { ImageRef } from "../chunk.js";

/** `count` small PNGs with distinct patterns (plus, optionally, one corrupt file) and a tiny ONNX encoder. */
export async function featureFixture(
  dir: string,
  count: number,
  options: { corrupt?: boolean } = {},
): Promise<{ images: ImageRef[]; encoder: string }> {
  await mkdir(path.join(dir, "images"), { recursive: true });
  const images: ImageRef[] = [];
  for (let i = 0; i < count; i++) {
    const w = 20 + i;
    const h = 16;
    const px = Buffer.alloc(w * h * 3);
    for (let j = 0; j < px.length; j++) px[j] = (j * (i + 3) * 7 + i * 31) % 256;
    const file = path.join(dir, "images", `img${i}.png`);
    await sharp(px, { raw: { width: w, height: h, channels: 3 } })
      .png()
      .toFile(file);
    images.push({ id: `img${i}.png`, path: file });
  }
  if (options.corrupt) {
    const file = path.join(dir, "images", "broken.jpg");
    await writeFile(file, Buffer.from("this is not a jpeg"));
    images.splice(1, 0, { id: "broken.jpg", path: file });
  }
  const encoderDir = await writeTinyEncoder(path.join(dir, "encoder"));
  return { images, encoder: `onnx:${encoderDir}` };
}
