// The renderer's raw image format, GWIMG1, and its conversion to PNG.
//
//   offset 0   6 bytes   ASCII "GWIMG1"
//   offset 6   u32 LE    width in pixels (>= 1)
//   offset 10  u32 LE    height in pixels (>= 1)
//   offset 14  RGB8      width * height * 3 bytes, rows top to bottom, pixels left to right
//
// The raw bytes are what two runs of a frame are compared by: PNG encoding goes through zlib,
// whose output may change between zlib versions even for identical pixels.
import { PNG } from 'pngjs';

export const RAW_MAGIC = 'GWIMG1';
export const RAW_HEADER_BYTES = 14;
/** Larger than the scene format allows (4096), so only a corrupt header trips it. */
export const MAX_DIMENSION = 16_384;

/** An 8-bit RGB image: `pixels` holds width * height * 3 bytes, row-major, top row first. */
export interface RgbImage {
  width: number;
  height: number;
  pixels: Uint8Array;
}

export class ImageFormatError extends Error {
  override name = 'ImageFormatError';
}

/** Parses GWIMG1 bytes, checking the magic, the dimensions and that the length is exact. */
export function decodeRawImage(bytes: Uint8Array): RgbImage {
  if (bytes.length < RAW_HEADER_BYTES) {
    throw new ImageFormatError(`raw image: ${bytes.length} bytes is shorter than the ${RAW_HEADER_BYTES}-byte GWIMG1 header`);
  }
  const magic = String.fromCharCode(...bytes.subarray(0, 6));
  if (magic !== RAW_MAGIC) {
    throw new ImageFormatError(`raw image: bad magic ${JSON.stringify(magic)}, expected ${JSON.stringify(RAW_MAGIC)}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const width = view.getUint32(6, true);
  const height = view.getUint32(10, true);
  for (const [name, n] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (n < 1 || n > MAX_DIMENSION) throw new ImageFormatError(`raw image: ${name} ${n} is outside 1..${MAX_DIMENSION}`);
  }
  const expected = RAW_HEADER_BYTES + width * height * 3;
  if (bytes.length !== expected) {
    throw new ImageFormatError(`raw image: ${width}x${height} needs ${expected} bytes, got ${bytes.length}`);
  }
  return { width, height, pixels: bytes.subarray(RAW_HEADER_BYTES) };
}

function checkImage(image: RgbImage): void {
  const { width, height, pixels } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > MAX_DIMENSION || height > MAX_DIMENSION) {
    throw new ImageFormatError(`image: bad dimensions ${width}x${height}`);
  }
  if (pixels.length !== width * height * 3) {
    throw new ImageFormatError(`image: ${width}x${height} RGB needs ${width * height * 3} bytes, got ${pixels.length}`);
  }
}

/** The inverse of decodeRawImage. */
export function encodeRawImage(image: RgbImage): Uint8Array {
  checkImage(image);
  const out = new Uint8Array(RAW_HEADER_BYTES + image.pixels.length);
  out.set(new TextEncoder().encode(RAW_MAGIC), 0);
  const view = new DataView(out.buffer);
  view.setUint32(6, image.width, true);
  view.setUint32(10, image.height, true);
  out.set(image.pixels, RAW_HEADER_BYTES);
  return out;
}

/** Encodes an RGB image as an 8-bit truecolour PNG (no alpha channel). */
export function encodePng(image: RgbImage): Buffer {
  checkImage(image);
  const png = new PNG({ width: image.width, height: image.height });
  png.data = Buffer.from(image.pixels.buffer, image.pixels.byteOffset, image.pixels.byteLength);
  return PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false });
}

/** Decodes a PNG into RGB, dropping any alpha (pngjs always hands back RGBA). */
export function decodePng(bytes: Uint8Array): RgbImage {
  const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const { width, height, data } = png;
  const pixels = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < pixels.length; i += 3, j += 4) {
    pixels[i] = data[j]!;
    pixels[i + 1] = data[j + 1]!;
    pixels[i + 2] = data[j + 2]!;
  }
  return { width, height, pixels };
}

/** The renderer's stdout straight to PNG bytes. */
export function rawToPng(raw: Uint8Array): Buffer {
  return encodePng(decodeRawImage(raw));
}
