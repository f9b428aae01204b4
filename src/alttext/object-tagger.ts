import { loadGraphModelFromFile, resolvePackageFile } from "../encoders/model-loader.js";
import { BYTE_RANGE, type Normalization } from "../image/normalization.js";
import { preprocessImage } from "../image/preprocess.js";
import { tf } from "../tfjs/backend.js";
import { initTfjs } from "../tfjs/init.js";

/** COCO-80 names in the detector's class-index order (as in @vladmandic/human src/object/labels.ts). */
// biome-ignore format: a table, ten names a line
export const COCO_LABELS = [
  "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
  "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
  "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
  "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
  "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
  "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
  "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard",
  "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
  "teddy bear", "hair drier", "toothbrush",
] as const;

export interface DetectedObject {
  label: string;
  /** COCO class index 0..79. */
  class: number;
  score: number;
  /** [x, y, width, height] as fractions of the image (0..1), so they apply at any resolution. */
  box: [number, number, number, number];
}

export interface TagOptions {
  /** Detections below this score are dropped (default 0.3). */
  minScore?: number;
  /** Boxes overlapping a better one of any class by more than this IoU are dropped (default 0.5). */
  iouThreshold?: number;
  /** At most this many objects, best first (default 20). */
  maxObjects?: number;
}

/**
 * CenterNet's full COCO detector at 512 (MobileNetV3 CenterNet from @vladmandic/human) as an object
 * tagger: what is in the picture, with a score and a box. Input is the image preprocessed with
 * `inputSize` and `normalization` (raw 0..255 pixels, as human feeds it).
 */
export class ObjectTagger {
  readonly inputSize = 512;
  readonly normalization: Normalization = BYTE_RANGE;

  private constructor(private model: tf.GraphModel | undefined) {}

  static async create(): Promise<ObjectTagger> {
    await initTfjs();
    return new ObjectTagger(
      await loadGraphModelFromFile(resolvePackageFile("@vladmandic/human", "models/centernet.json")),
    );
  }

  /** image: [512, 512, 3] NHWC float32 normalised with `this.normalization`. */
  async tag(image: Float32Array, options: TagOptions = {}): Promise<DetectedObject[]> {
    const model = this.model;
    if (!model) throw new Error("object tagger was disposed");
    const s = this.inputSize;
    if (image.length !== s * s * 3)
      throw new Error(`object tagger: expected ${s}x${s}x3 floats, got ${image.length}`);
    const detections = tf.tidy(() => {
      const input = tf.tensor4d(image, [1, s, s, 3]); // [1, 512, 512, 3]
      return model.execute(input, "tower_0/detections") as tf.Tensor; // [1, 100, 6]: x1 y1 x2 y2 score class
    });
    const rows = (await detections.array()) as number[][][];
    detections.dispose();
    const minScore = options.minScore ?? 0.3;
    const candidates = (rows[0] ?? [])
      .filter(([, , , , score, cls]) => score! >= minScore && Number.isInteger(cls) && cls! >= 0 && cls! < 80)
      .sort((a, b) => b[4]! - a[4]!);
    const kept: DetectedObject[] = [];
    for (const [x1, y1, x2, y2, score, cls] of candidates) {
      const box: [number, number, number, number] = [
        clamp01(x1! / s),
        clamp01(y1! / s),
        clamp01((x2! - x1!) / s),
        clamp01((y2! - y1!) / s),
      ];
      if (kept.some((k) => iou(k.box, box) > (options.iouThreshold ?? 0.5))) continue;
      kept.push({ label: COCO_LABELS[cls!]!, class: cls!, score: Math.round(score! * 1000) / 1000, box });
      if (kept.length >= (options.maxObjects ?? 20)) break;
    }
    return kept;
  }

  /** Decodes and preprocesses an image file or its bytes (ImageError on bad input), then tags it. */
  async tagImage(input: string | Uint8Array, options: TagOptions = {}): Promise<DetectedObject[]> {
    const pixels = await preprocessImage(input, { size: this.inputSize, normalization: this.normalization });
    return this.tag(pixels, options);
  }

  dispose(): void {
    this.model?.dispose();
    this.model = undefined;
  }
}

function clamp01(v: number): number {
  return Math.min(1, Math.max(0, v));
}

/** Intersection over union of two [x, y, w, h] boxes (greedy NMS over at most 100 boxes: no tf op needed). */
export function iou(a: readonly number[], b: readonly number[]): number {
  const [ax, ay, aw, ah] = a as [number, number, number, number];
  const [bx, by, bw, bh] = b as [number, number, number, number];
  const w = Math.max(0, Math.min(ax + aw, bx + bw) - Math.max(ax, bx));
  const h = Math.max(0, Math.min(ay + ah, by + bh) - Math.max(ay, by));
  const inter = w * h;
  const union = aw * ah + bw * bh - inter;
  return union > 0 ? inter / union : 0;
}
