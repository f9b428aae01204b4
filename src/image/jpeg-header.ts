/**
 * The size of a plain JPEG read from its markers, without a sharp call (one fewer trip through
 * libuv's thread pool and libvips, 0.3-0.9 ms per photo). "Plain" is what needs no other metadata for
 * the fast enlargement path: 8-bit, 3 components (YCbCr or RGB), and before the scan only JFIF, tables,
 * restart interval, comments and one Huffman frame header. Anything else, including any EXIF, XMP,
 * ICC profile or Adobe segment (orientation, colour, gain maps), gives undefined: ask sharp.
 */
export function plainJpegSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return undefined;
  let size: { width: number; height: number } | undefined;
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1]!;
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    if (marker === 0xda) return size; // start of scan: the header is complete
    const length = (bytes[at + 2]! << 8) | bytes[at + 3]!;
    const end = at + 2 + length;
    if (length < 2 || end > bytes.length) return undefined;
    if (marker === 0xc0 || marker === 0xc1 || marker === 0xc2) {
      // baseline, extended or progressive Huffman: precision, height, width, component count
      if (size || length !== 8 + 3 * 3 || bytes[at + 4] !== 8 || bytes[at + 9] !== 3) return undefined;
      const height = (bytes[at + 5]! << 8) | bytes[at + 6]!;
      const width = (bytes[at + 7]! << 8) | bytes[at + 8]!;
      if (width === 0 || height === 0) return undefined;
      size = { width, height };
    } else if (
      !(marker === 0xe0 || marker === 0xdb || marker === 0xc4 || marker === 0xdd || marker === 0xfe)
    ) {
      return undefined;
    }
    at = end;
  }
  return undefined;
}
