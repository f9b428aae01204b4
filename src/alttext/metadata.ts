import { ExifTool, type WriteTags } from "exiftool-vendored";

/**
 * Writes descriptions where photo tools read them, through exiftool (one long-lived perl process), which
 * edits metadata blocks in place and never re-encodes pixels. Call close() when done, or the exiftool
 * process keeps node alive.
 */
export class MetadataWriter {
  private exiftool: ExifTool | undefined;

  private tool(): ExifTool {
    this.exiftool ??= new ExifTool({ maxProcs: 1, taskTimeoutMillis: 30_000 });
    return this.exiftool;
  }

  /**
   * Sets dc:description (x-default) in `<image>.xmp` (darktable/digiKam naming: the full file name plus
   * .xmp). An existing sidecar is edited, so its other fields (ratings, keywords, edits) stay; a missing one
   * is created.
   */
  async writeSidecar(imagePath: string, description: string): Promise<string> {
    const sidecar = `${imagePath}.xmp`;
    await this.tool().write(sidecar, { "XMP-dc:Description": description } as WriteTags, {
      writeArgs: ["-overwrite_original"],
    });
    return sidecar;
  }

  /**
   * Writes XMP dc:description and EXIF ImageDescription into the image itself. With `backup`, exiftool
   * first keeps the untouched file as `<image>_original` (an existing backup is never replaced, so it stays
   * the true original across reruns).
   */
  async embed(
    imagePath: string,
    description: string,
    options: { backup: boolean },
  ): Promise<{ backup?: string }> {
    await this.tool().write(
      imagePath,
      { "XMP-dc:Description": description, "EXIF:ImageDescription": description } as WriteTags,
      { writeArgs: options.backup ? [] : ["-overwrite_original"] },
    );
    return options.backup ? { backup: `${imagePath}_original` } : {};
  }

  async close(): Promise<void> {
    await this.exiftool?.end();
    this.exiftool = undefined;
  }
}
