// Image files in and out through sharp. Decoding goes by content, never by extension; every image
// becomes 8-bit sRGB (HWC, 3 channels) with EXIF orientation applied, and `info` remembers what the
// original was (grayscale, alpha, CMYK, 16-bit, format) so outputs can match it.
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import type { Metadata, OutputInfo, Sharp } from 'sharp';
import { ArgumentError, FacesrError } from '../core/errors.js';

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
  // TIFF (0x2a) and BigTIFF (0x2b), little- or big-endian.
  if (
    b.length >= 4 &&
    ((b[0] === 0x49 && b[1] === 0x49 && (b[2] === 0x2a || b[2] === 0x2b) && b[3] === 0) ||
      (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0 && (b[3] === 0x2a || b[3] === 0x2b)))
  )
    return 'tiff';
  if (b.length >= 12 && ascii(4, 4) === 'ftyp') {
    // ISO-BMFF: the major brand, then (when the bytes are there) the compatible brands of the box.
    const brands = [ascii(8, 4)];
    const boxEnd = Math.min(b.length, ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0);
    for (let o = 16; o + 4 <= boxEnd; o += 4) brands.push(ascii(o, 4));
    if (brands.some((x) => x === 'avif' || x === 'avis')) return 'avif';
    if (brands.some((x) => HEIF_BRANDS.has(x))) return 'heif';
  }
  return null;
}

const HEIF_BRANDS = new Set(['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'hevm', 'hevs', 'mif1', 'msf1']);

/**
 * Whether the bytes stop before the format's own structure says the file ends (a download or copy
 * cut short). Only asked after a decode failed, to tell "truncated" from "corrupt".
 */
function endsEarly(format: ImageFormat, b: Buffer): boolean {
  switch (format) {
    case 'jpeg':
      // No end-of-image marker near the end (0xFFD9 cannot occur inside entropy-coded data).
      return !b.subarray(Math.max(0, b.length - 4096)).includes(Buffer.from([0xff, 0xd9]));
    case 'png':
      return !b.subarray(Math.max(0, b.length - 64)).includes('IEND');
    case 'gif':
      return b[b.length - 1] !== 0x3b;
    case 'webp':
      return b.length < 12 || 8 + b.readUInt32LE(4) > b.length;
    case 'tiff': {
      if (b.length < 8) return true;
      const le = b[0] === 0x49;
      if ((le ? b[2] : b[3]) === 0x2b) return b.length < 16;
      const ifd = le ? b.readUInt32LE(4) : b.readUInt32BE(4);
      return ifd + 2 > b.length;
    }
    default:
      return false;
  }
}

/** libvips / libjpeg messages that mean the data stopped early. */
const TRUNCATED_RE =
  /premature end of JPEG (image|file)|not enough data|unexpected end|truncat|out of data|end of file|\bEOF\b/i;
/** Decoder warnings (sharp 'warning' events) that mean damaged pixels even though decoding finished. */
const DAMAGE_WARNING_RE =
  /Corrupt JPEG data(?!: \d+ extraneous bytes)|premature end|not enough data|unexpected end/i;
/** Warnings that only say other warnings happened. */
const NOISE_WARNING_RE = /^(read gave \d+ warnings?|error in tile \d+ x \d+)$/i;

function damagedError(
  source: string,
  format: ImageFormat,
  bytes: Buffer,
  detail: string,
  cause?: unknown,
): ImageError {
  const fmt = format.toUpperCase();
  if (format === 'heif' && /unsupported|no decoder|not supported|codec/i.test(detail))
    return new ImageError(
      source,
      `HEIF/HEIC with this compression cannot be decoded by this build of sharp/libvips (${detail}); convert it to JPEG or PNG first`,
      { cause },
    );
  if (TRUNCATED_RE.test(detail) || endsEarly(format, bytes))
    return new ImageError(
      source,
      `truncated ${fmt}: the file ends before the image data does (${bytes.length} bytes; ${detail})`,
      { cause },
    );
  return new ImageError(source, `corrupt ${fmt} data (${detail})`, { cause });
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
  if (!st.isFile()) throw new ImageError(file, 'is not a regular file (a device, pipe or socket)');
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
  return n >= 100_000 ? `${(n / 1e6).toFixed(1)} MP` : `${n} pixels`;
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
    meta = await serialDecode(() => sharp(bytes, { limitInputPixels: false }).metadata());
  } catch (err) {
    throw damagedError(source, format, bytes, cleanVips(err), err);
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
  // failOn 'error' tolerates harmless quirks (extra bytes before a marker, odd TIFF tags); damage that
  // libjpeg only warns about (bad Huffman codes, a data segment cut short) is caught from the warnings.
  // sharp keeps libvips warnings in one process-wide queue that whichever pipeline ends next empties,
  // so decodes in this thread run one at a time (each still uses libvips' threads), and damage seen in
  // the warnings is confirmed by a strict decode of these bytes alone before the image is refused.
  let decoderWarnings: string[] = [];
  const decode = (failOn: 'error' | 'warning') => {
    const pipeline = sharp(bytes, { limitInputPixels: false, failOn, pages: 1, page: 0 });
    const seen: string[] = [];
    pipeline.on('warning', (w: unknown) => seen.push(String(w).replace(/\s+/g, ' ').trim()));
    return pipeline
      .autoOrient()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true })
      .then(
        (r) => ({ r, seen }),
        (err: unknown) => {
          decoderWarnings = seen;
          throw err;
        },
      );
  };
  try {
    const first = await serialDecode(() => decode('error'));
    raw = first.r;
    decoderWarnings = first.seen;
  } catch (err) {
    const detail = [cleanVips(err), ...decoderWarnings.filter((w) => !NOISE_WARNING_RE.test(w))];
    throw damagedError(source, format, bytes, [...new Set(detail)].join('; '), err);
  }
  const damage = decoderWarnings.filter((w) => DAMAGE_WARNING_RE.test(w));
  if (damage.length > 0) {
    let confirmed = true;
    try {
      await serialDecode(() => decode('warning'));
      confirmed = false; // decodes cleanly even when every warning is fatal: the warnings were another image's
    } catch (err) {
      // A strict failure that names no damage (a harmless quirk made fatal) does not confirm it either.
      confirmed =
        DAMAGE_WARNING_RE.test(cleanVips(err)) || decoderWarnings.some((w) => DAMAGE_WARNING_RE.test(w));
    }
    if (confirmed) throw damagedError(source, format, bytes, [...new Set(damage)].join('; '));
    decoderWarnings = decoderWarnings.filter((w) => !DAMAGE_WARNING_RE.test(w));
  }
  for (const w of new Set(decoderWarnings))
    if (!NOISE_WARNING_RE.test(w) && w) warnings.push(`decoder warning: ${w}`);
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

let decodeQueue: Promise<unknown> = Promise.resolve();
/** Runs decodes of this thread one after another (see readImage: sharp's warning queue is shared). */
function serialDecode<T>(fn: () => Promise<T>): Promise<T> {
  const run = decodeQueue.then(fn, fn);
  decodeQueue = run.catch(() => undefined);
  return run;
}

/** The informative part of a libvips error: its distinct lines, the noise (seek retries, tiles) left out. */
function cleanVips(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  const lines = m
    .split('\n')
    .map((l) => l.replace(/\s+/g, ' ').trim())
    .filter((l) => l && !/^source: bad seek|^\(?[\d.]+\)?$|^error in tile/i.test(l));
  const text = [...new Set(lines)].slice(0, 3).join('; ') || m.trim();
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

export type OutputFormat = 'jpeg' | 'png' | 'webp';

export interface EncodeOptions {
  format: OutputFormat;
  /** JPEG/WebP quality 1-100 (default 92). */
  quality?: number;
  /** Write a single gray channel (a grayscale original stays grayscale). */
  grayscale?: boolean;
  /** Alpha channel to re-attach (width*height bytes). JPEG has none: the image is flattened onto white. */
  alpha?: Uint8Array;
  /**
   * Carry EXIF (orientation reset to 1: pixels are already upright) and the colour profile of this
   * original (its file bytes). Default: no metadata.
   */
  metadataFrom?: Buffer;
}

/** Encodes 8-bit pixels (1 gray, 2 gray+alpha, 3 RGB or 4 RGBA) to PNG, JPEG or WebP bytes. */
export async function encodeImage(img: RawImage, o: EncodeOptions): Promise<Buffer> {
  const n = img.width * img.height;
  if (!Number.isInteger(img.width) || !Number.isInteger(img.height) || img.width < 1 || img.height < 1)
    throw new ArgumentError(`encodeImage: bad size ${img.width}x${img.height}`);
  if (![1, 2, 3, 4].includes(img.channels))
    throw new ArgumentError(`encodeImage: ${img.channels} channels; expected 1, 2, 3 or 4`);
  if (img.data.length !== n * img.channels)
    throw new ArgumentError(
      `encodeImage: ${img.data.length} bytes of pixels for ${img.width}x${img.height}x${img.channels} (expected ${n * img.channels})`,
    );
  if (o.alpha && o.alpha.length !== n)
    throw new ArgumentError(`encodeImage: alpha has ${o.alpha.length} bytes; expected ${n}`);
  const { width, height } = img;
  const pixels = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  // Colour and alpha apart: gray or RGB bytes, plus the alpha plane when there is one.
  let colour = pixels;
  let colourChannels = img.channels;
  let alpha = o.alpha ? Buffer.from(o.alpha.buffer, o.alpha.byteOffset, o.alpha.byteLength) : undefined;
  if (img.channels === 2 || img.channels === 4) {
    const split = splitAlpha(pixels, img.channels, n);
    colour = split.colour;
    colourChannels = img.channels - 1;
    alpha ??= split.alpha;
  }
  if (alpha && o.format === 'jpeg') {
    // JPEG has no alpha (4 bands would be written as CMYK): flatten onto white.
    colour = flattenOnWhite(colour, colourChannels, alpha, n);
    alpha = undefined;
  }
  const raw = (channels: number) => ({ raw: { width, height, channels: channels as 1 | 2 | 3 | 4 } });
  let p: Sharp;
  if (o.metadataFrom) {
    // sharp keeps EXIF only from a pipeline's input, so the new pixels replace the original's pixels
    // in a pipeline that starts from the original (upright, resized to the output size).
    const src = await sharp(o.metadataFrom, { pages: 1 }).metadata();
    p = sharp(o.metadataFrom, { pages: 1, page: 0, limitInputPixels: false })
      .autoOrient()
      .resize(width, height, { fit: 'fill', kernel: 'nearest' })
      .composite([{ input: colour, ...raw(colourChannels), blend: 'source' }])
      .removeAlpha() // the composite adds one; the original's alpha is not ours
      .keepExif();
    if (alpha) {
      // Alpha joins in a second pass: composited with alpha, the colour under alpha 0 would be lost
      // (premultiplied). The first pass goes through an uncompressed PNG, which keeps the EXIF.
      const carrier = await p.png({ compressionLevel: 0 }).toBuffer();
      p = sharp(carrier).joinChannel(alpha, raw(1)).keepExif();
    }
    // Pixels were converted to sRGB on reading: tag them as sRGB, not with the original profile.
    if (src.icc && !o.grayscale) p = p.withIccProfile('srgb');
  } else if (alpha && !o.alpha) {
    p = sharp(pixels, raw(img.channels)); // already interleaved
  } else if (alpha) {
    p = sharp(joinAlpha(colour, colourChannels, alpha, n), raw(colourChannels + 1));
  } else {
    p = sharp(colour, raw(colourChannels));
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

function joinAlpha(px: Uint8Array, channels: number, alpha: Uint8Array, n: number): Buffer {
  const out = Buffer.alloc(n * (channels + 1));
  for (let i = 0, j = 0, k = 0; i < n; i++) {
    for (let c = 0; c < channels; c++) out[j++] = px[k++]!;
    out[j++] = alpha[i]!;
  }
  return out;
}

function flattenOnWhite(px: Uint8Array, channels: number, alpha: Uint8Array, n: number): Buffer {
  const out = Buffer.alloc(n * channels);
  for (let i = 0, k = 0; i < n; i++) {
    const a = alpha[i]! / 255;
    for (let c = 0; c < channels; c++, k++) out[k] = Math.round(px[k]! * a + 255 * (1 - a));
  }
  return out;
}

function splitAlpha(px: Uint8Array, channels: number, n: number): { colour: Buffer; alpha: Buffer } {
  const colour = Buffer.alloc(n * (channels - 1));
  const alpha = Buffer.alloc(n);
  for (let i = 0, j = 0, k = 0; i < n; i++) {
    for (let c = 1; c < channels; c++) colour[k++] = px[j++]!;
    alpha[i] = px[j++]!;
  }
  return { colour, alpha };
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
  // The atomic write is local (below), not io's: io pulls in the tensor layer and with it the libtorch
  // addon, and this module must work in loader worker threads that never load the addon.
  await writeFileAtomic(file, await encodeImage(img, { ...o, format }));
}

/**
 * Writes bytes through a hidden temporary sibling, flushed and then renamed over the target, so a
 * reader never sees half a file and a failed write leaves nothing behind. Errors name the file.
 */
async function writeFileAtomic(file: string, data: Uint8Array): Promise<void> {
  const tmp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
  );
  let fh: FileHandle | undefined;
  try {
    fh = await open(tmp, 'wx');
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, file);
  } catch (err) {
    await fh?.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    const code = (err as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT'
        ? `cannot write: the folder ${path.dirname(file)} does not exist`
        : code === 'EACCES' || code === 'EPERM'
          ? 'cannot write: permission denied'
          : code === 'EISDIR' || code === 'ENOTEMPTY' || code === 'EEXIST'
            ? 'cannot write: a folder of that name is in the way'
            : code === 'ENOSPC'
              ? 'cannot write: no space left on the device'
              : `cannot write (${code ?? String(err)})`;
    throw new ImageError(file, reason, { cause: err });
  }
}
