// Image files in and out through sharp. Decoding goes by content, never by extension; every image
// becomes 8-bit sRGB (HWC, 3 channels) with EXIF orientation applied, and `info` remembers what the
// original was (grayscale, alpha, CMYK, 16-bit, format) so outputs can match it.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import type { Metadata, OutputInfo, Sharp } from 'sharp';
import { FacesrError } from '../core/errors.js';
import { writeFileAtomic } from '../io/safetensors.js';

/** A bad or unreadable image: names the file and says what is wrong with it. */
export class ImageError extends FacesrError {
  constructor(
    readonly file: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${reason}`, options);
  }
}

/** Default largest image accepted: 100 megapixels (a 10000x10000 photo). */
export const DEFAULT_PIXEL_LIMIT = 100_000_000;

export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'tiff' | 'gif' | 'avif' | 'heif';

export interface ImageInfo {
  /** Format found from the bytes. */
  format: ImageFormat;
  /** Size after EXIF orientation. */
  width: number;
  height: number;
  /** Channels in the file (1 gray, 2 gray+alpha, 3, 4 RGBA or CMYK, 5 CMYK+alpha). */
  channels: number;
  hasAlpha: boolean;
  /** libvips colour space of the file: 'srgb', 'b-w', 'cmyk', 'rgb16', 'grey16', ... */
  space: string;
  /** Bits per sample in the file (8 or 16). */
  bitDepth: number;
  isGrayscale: boolean;
  /** EXIF orientation tag of the file (1-8), 1 if none. */
  orientation: number;
  /** Frames in the file (animated GIF/WebP, multi-page TIFF). */
  pages: number;
  hasExif: boolean;
  hasIcc: boolean;
}

/** 8-bit interleaved pixels. */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

export interface DecodedImage extends RawImage {
  channels: 3;
  /** Where it came from (path or '<buffer>'), for messages. */
  source: string;
  info: ImageInfo;
  /** The alpha channel (width*height bytes) when the original had one. */
  alpha?: Uint8Array;
  /** Things the caller should know (first frame of an animation used, ...). */
  warnings: string[];
  /** The file's bytes, kept so an output can carry its metadata (see encodeImage). */
  bytes: Buffer;
}

export interface ReadOptions {
  /** Largest width*height accepted (default DEFAULT_PIXEL_LIMIT). */
  pixelLimit?: number;
  /** For an animation: decode the first frame (default) or refuse it. */
  animated?: 'first' | 'error';
  /** Name used in messages when input is a Buffer. */
  name?: string;
}

/** Recognises a format from the first bytes; null when it is not an image sharp reads. */
export function sniffFormat(b: Uint8Array): ImageFormat | null {
  const ascii = (o: number, n: number) => String.fromCharCode(...b.subarray(o, o + n));
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 8 && b[0] === 0x89 && ascii(1, 3) === 'PNG') return 'png';
  if (b.length >= 6 && (ascii(0, 6) === 'GIF87a' || ascii(0, 6) === 'GIF89a')) return 'gif';
  if (b.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 4) === 'WEBP') return 'webp';
  if (
    b.length >= 4 &&
    ((b[0] === 0x49 && b[1] === 0x49 && b[2] === 0x2a && b[3] === 0) ||
      (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0 && b[3] === 0x2a))
  )
    return 'tiff';
  if (b.length >= 12 && ascii(4, 4) === 'ftyp') {
    const brand = ascii(8, 4);
    if (brand === 'avif' || brand === 'avis') return 'avif';
    if (['heic', 'heix', 'hevc', 'hevx', 'mif1', 'msf1'].includes(brand)) return 'heif';
  }
  return null;
}

function describeStart(b: Uint8Array): string {
  const head = b.subarray(0, 8);
  const printable = [...head].every((c) => c >= 0x20 && c < 0x7f);
  return printable
    ? `'${String.fromCharCode(...head)}'`
    : [...head].map((c) => c.toString(16).padStart(2, '0')).join(' ');
}

async function readBytes(file: string): Promise<Buffer> {
  let st;
  try {
    st = await stat(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ImageError(
      file,
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : `cannot read (${code ?? String(err)})`,
      { cause: err },
    );
  }
  if (st.isDirectory()) throw new ImageError(file, 'is a folder, not an image file');
  if (st.size === 0) throw new ImageError(file, 'file is empty (0 bytes)');
  try {
    return await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ImageError(
      file,
      code === 'EACCES' ? 'permission denied' : `cannot read (${code ?? String(err)})`,
      { cause: err },
    );
  }
}

function mp(n: number): string {
  return `${(n / 1e6).toFixed(1)} MP`;
}

/**
 * Reads an image file (or bytes) into 8-bit sRGB pixels with orientation applied.
 * Throws ImageError naming the file for: missing, empty, not an image, corrupt or truncated data,
 * over the pixel limit, an animation when animated is 'error'.
 */
export async function readImage(
  input: string | Buffer | Uint8Array,
  opts: ReadOptions = {},
): Promise<DecodedImage> {
  const source = typeof input === 'string' ? input : (opts.name ?? '<buffer>');
  const bytes =
    typeof input === 'string'
      ? await readBytes(input)
      : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (bytes.length === 0) throw new ImageError(source, 'file is empty (0 bytes)');
  const format = sniffFormat(bytes);
  if (!format) {
    const ext = typeof input === 'string' ? path.extname(input) : '';
    throw new ImageError(
      source,
      `not an image this tool reads (content starts with ${describeStart(bytes)}${ext ? `, whatever the '${ext}' extension says` : ''}); supported: JPEG, PNG, WebP, TIFF, GIF, AVIF/HEIF`,
    );
  }
  const limit = opts.pixelLimit ?? DEFAULT_PIXEL_LIMIT;
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw new ImageError(source, `corrupt ${format.toUpperCase()} (${cleanVips(err)})`, { cause: err });
  }
  const w0 = meta.width ?? 0;
  const h0 = meta.height ?? 0;
  if (!w0 || !h0)
    throw new ImageError(source, `corrupt ${format.toUpperCase()} (no image size in the header)`);
  const pages = meta.pages ?? 1;
  const frameH = meta.pageHeight && pages > 1 ? meta.pageHeight : h0;
  if (w0 * frameH > limit) {
    throw new ImageError(
      source,
      `image is ${w0}x${frameH} (${mp(w0 * frameH)}), over the pixel limit of ${mp(limit)}; raise the limit (pixelLimit / --pixel-limit) if you have the memory`,
    );
  }
  const warnings: string[] = [];
  const animated = pages > 1 && (format === 'gif' || format === 'webp');
  if (animated) {
    if (opts.animated === 'error')
      throw new ImageError(source, `is an animation (${pages} frames); give a still image`);
    warnings.push(`animation with ${pages} frames: used the first frame`);
  } else if (pages > 1) {
    warnings.push(`${pages} pages: used the first page`);
  }
  const orientation = meta.orientation ?? 1;
  const swap = orientation >= 5 && orientation <= 8;
  const info: ImageInfo = {
    format,
    width: swap ? frameH : w0,
    height: swap ? w0 : frameH,
    channels: meta.channels ?? 3,
    hasAlpha: meta.hasAlpha ?? false,
    space: meta.space ?? 'srgb',
    bitDepth:
      meta.depth === 'ushort' || meta.depth === 'short'
        ? 16
        : meta.depth === 'float' || meta.depth === 'double'
          ? 32
          : 8,
    isGrayscale: meta.space === 'b-w' || meta.space === 'grey16' || (meta.channels ?? 3) <= 2,
    orientation,
    pages,
    hasExif: Boolean(meta.exif),
    hasIcc: Boolean(meta.icc),
  };
  let raw: { data: Buffer; info: OutputInfo };
  try {
    raw = await sharp(bytes, { limitInputPixels: false, failOn: 'error', pages: 1, page: 0 })
      .autoOrient()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    const msg = cleanVips(err);
    const truncated = /premature end|truncat|unexpected end|read error|out of data|EOF/i.test(msg);
    throw new ImageError(
      source,
      `${truncated ? 'truncated' : 'corrupt'} ${format.toUpperCase()} data (${msg})`,
      { cause: err },
    );
  }
  const { width, height, channels } = raw.info;
  const px = new Uint8Array(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength);
  let rgb: Uint8Array;
  let alpha: Uint8Array | undefined;
  if (channels === 3) rgb = px;
  else if (channels === 4) {
    rgb = new Uint8Array(width * height * 3);
    alpha = new Uint8Array(width * height);
    for (let i = 0, j = 0, k = 0; i < width * height; i++, j += 4, k += 3) {
      rgb[k] = px[j]!;
      rgb[k + 1] = px[j + 1]!;
      rgb[k + 2] = px[j + 2]!;
      alpha[i] = px[j + 3]!;
    }
  } else {
    throw new ImageError(source, `decoded to ${channels} channels; expected RGB`);
  }
  return { data: rgb, width, height, channels: 3, source, info, alpha, warnings, bytes };
}

function cleanVips(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return m.split('\n').filter(Boolean).slice(0, 2).join('; ').replace(/\s+/g, ' ').trim();
}

export type OutputFormat = 'jpeg' | 'png' | 'webp';

export interface EncodeOptions {
  format: OutputFormat;
  /** JPEG/WebP quality 1-100 (default 92). */
  quality?: number;
  /** Write a single gray channel (a grayscale original stays grayscale). */
  grayscale?: boolean;
  /** Alpha channel to re-attach (width*height bytes). */
  alpha?: Uint8Array;
  /**
   * Carry EXIF (orientation reset to 1: pixels are already upright) and the colour profile of this
   * original (its file bytes). Default: no metadata.
   */
  metadataFrom?: Buffer;
}

/** Encodes 8-bit pixels (1, 3 or 4 channels) to PNG, JPEG or WebP bytes. */
export async function encodeImage(img: RawImage, o: EncodeOptions): Promise<Buffer> {
  let pixels = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  let channels = img.channels;
  if (o.alpha && channels === 3) {
    pixels = interleaveAlpha(img.data, o.alpha, img.width * img.height);
    channels = 4;
  }
  const rawOpts = { raw: { width: img.width, height: img.height, channels: channels as 1 | 2 | 3 | 4 } };
  let p: Sharp;
  if (o.metadataFrom) {
    // sharp keeps EXIF only from a pipeline's input, so the new pixels replace the original's pixels
    // in a pipeline that starts from the original (upright, resized to the output size).
    const src = await sharp(o.metadataFrom, { pages: 1 }).metadata();
    p = sharp(o.metadataFrom, { pages: 1, limitInputPixels: false })
      .autoOrient()
      .resize(img.width, img.height, { fit: 'fill', kernel: 'nearest' })
      .composite([{ input: pixels, ...rawOpts, blend: 'source' }])
      .keepExif();
    // Pixels were converted to sRGB on reading: tag them as sRGB, not with the original profile.
    if (src.icc && !o.grayscale) p = p.withIccProfile('srgb');
  } else {
    p = sharp(pixels, rawOpts);
  }
  if (o.grayscale) p = p.toColourspace('b-w');
  const q = o.quality ?? 92;
  switch (o.format) {
    case 'jpeg':
      p = p.jpeg({ quality: q, chromaSubsampling: q >= 90 ? '4:4:4' : '4:2:0' });
      break;
    case 'png':
      p = p.png({ compressionLevel: 6 });
      break;
    case 'webp':
      p = p.webp({ quality: q });
      break;
  }
  return p.toBuffer();
}

function interleaveAlpha(rgb: Uint8Array, alpha: Uint8Array, n: number): Buffer {
  const out = Buffer.alloc(n * 4);
  for (let i = 0, j = 0, k = 0; i < n; i++, j += 4, k += 3) {
    out[j] = rgb[k]!;
    out[j + 1] = rgb[k + 1]!;
    out[j + 2] = rgb[k + 2]!;
    out[j + 3] = alpha[i]!;
  }
  return out;
}

/** Output format for a file name's extension, or null. */
export function formatForExtension(file: string): OutputFormat | null {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.jpg' || ext === '.jpeg') return 'jpeg';
  if (ext === '.png') return 'png';
  if (ext === '.webp') return 'webp';
  return null;
}

/** Encodes and writes an image atomically; the format comes from o.format or the file's extension. */
export async function writeImage(file: string, img: RawImage, o: Partial<EncodeOptions> = {}): Promise<void> {
  const format = o.format ?? formatForExtension(file);
  if (!format)
    throw new ImageError(
      file,
      `cannot tell the output format from the extension '${path.extname(file)}' (use .png, .jpg or .webp)`,
    );
  await writeFileAtomic(file, await encodeImage(img, { ...o, format }));
}
