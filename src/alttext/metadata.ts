import { createHash } from "node:crypto";
import { ExifTool, type WriteTags } from "exiftool-vendored";

/**
 * How captionkit signs its own descriptions: XMP photoshop:CaptionWriter (IPTC "Description Writer", the
 * standard field for who wrote the description) set to "captionkit (<checksum of the text>)". A description
 * is captionkit's only while the checksum still matches, so one a person has edited since counts as theirs.
 */
export const CAPTION_WRITER = "captionkit";

export function captionWriterTag(description: string): string {
  const checksum = createHash("sha256").update(description).digest("hex").slice(0, 12);
  return `${CAPTION_WRITER} (${checksum})`;
}

/** Fields photo tools show as the description; any of them may hold a person's text. */
const DESCRIPTION_TAGS = [
  "XMP-dc:Description",
  "EXIF:ImageDescription",
  "IPTC:Caption-Abstract",
  "PNG:Description",
];

/** Text cameras put in EXIF ImageDescription by themselves: nobody wrote it, so it may be replaced. */
const CAMERA_PLACEHOLDERS = new Set([
  "olympus digital camera",
  "sony dsc",
  "exif_jpeg_picture",
  "konica minolta digital camera",
  "minolta digital camera",
  "digital camera",
]);

export type DescriptionOwner = "none" | "captionkit" | "person";

export interface MetadataWrite {
  /** False when a person's description was found and kept (no --overwrite). */
  written: boolean;
  /** The untouched copy exiftool kept (`<file>_original`). */
  backup?: string;
}

export interface WriteOptions {
  /** Replace a description captionkit did not write. Default false: keep it and report `written: false`. */
  overwrite?: boolean;
  /**
   * Keep `<file>_original` before changing the file. For images, whenever they are written to; for
   * sidecars, only when a person's description is replaced (a captionkit-only sidecar is not worth a copy).
   */
  backup?: boolean;
}

/**
 * Writes descriptions where photo tools read them, through exiftool (one long-lived perl process), which
 * edits metadata blocks in place and never re-encodes pixels. A description that captionkit did not write
 * is never replaced unless asked. Call close() when done, or the exiftool process keeps node alive.
 */
export class MetadataWriter {
  private exiftool: ExifTool | undefined;

  private tool(): ExifTool {
    this.exiftool ??= new ExifTool({ maxProcs: 1, taskTimeoutMillis: 30_000 });
    return this.exiftool;
  }

  /** Who wrote the description that `file` (an image or an .xmp sidecar) holds now. */
  async owner(file: string): Promise<DescriptionOwner> {
    const tags = (await this.tool().readRaw(file, {
      readArgs: ["-G1", ...DESCRIPTION_TAGS.map((tag) => `-${tag}`), "-XMP-photoshop:CaptionWriter"],
    })) as Record<string, unknown>;
    const texts = new Set<string>();
    let writer: string | undefined;
    for (const [key, value] of Object.entries(tags)) {
      if (typeof value !== "string" && typeof value !== "number") continue;
      const text = String(value).trim();
      if (key.endsWith(":CaptionWriter")) writer = text;
      else if (/:(Description|ImageDescription|Caption-Abstract)$/.test(key) && text) {
        if (!(key.endsWith(":ImageDescription") && CAMERA_PLACEHOLDERS.has(text.toLowerCase())))
          texts.add(text);
      }
    }
    if (texts.size === 0) return "none";
    // Every description field must still hold the very text captionkit signed.
    const [text] = texts;
    return texts.size === 1 && writer === captionWriterTag(text!) ? "captionkit" : "person";
  }

  /**
   * Sets dc:description (x-default) in `<image>.xmp` (darktable/digiKam naming: the full file name plus
   * .xmp). An existing sidecar is edited, so its other fields (ratings, keywords, edits) stay; a missing one
   * is created.
   */
  async writeSidecar(
    imagePath: string,
    description: string,
    options: WriteOptions = {},
  ): Promise<MetadataWrite> {
    const sidecar = `${imagePath}.xmp`;
    const owner = await this.owner(sidecar).catch(() => "none" as const);
    if (owner === "person" && !options.overwrite) return { written: false };
    const backup = owner === "person" && (options.backup ?? true);
    await this.tool().write(sidecar, this.tags(description, false), {
      writeArgs: backup ? [] : ["-overwrite_original"],
    });
    return backup ? { written: true, backup: `${sidecar}_original` } : { written: true };
  }

  /**
   * Writes XMP dc:description and EXIF ImageDescription into the image itself. With `backup`, exiftool
   * first keeps the untouched file as `<image>_original` (an existing backup is never replaced, so it stays
   * the true original across reruns).
   */
  async embed(imagePath: string, description: string, options: WriteOptions = {}): Promise<MetadataWrite> {
    if (!options.overwrite && (await this.owner(imagePath)) === "person") return { written: false };
    const backup = options.backup ?? true;
    await this.tool().write(imagePath, this.tags(description, true), {
      writeArgs: backup ? [] : ["-overwrite_original"],
    });
    return backup ? { written: true, backup: `${imagePath}_original` } : { written: true };
  }

  private tags(description: string, exif: boolean): WriteTags {
    return {
      "XMP-dc:Description": description,
      "XMP-photoshop:CaptionWriter": captionWriterTag(description),
      ...(exif ? { "EXIF:ImageDescription": description } : {}),
    } as WriteTags;
  }

  async close(): Promise<void> {
    await this.exiftool?.end();
    this.exiftool = undefined;
  }
}
