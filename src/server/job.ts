// One enhance request's work, in memory: check the photo against the limits, detect, restore the
// chosen faces, and build the answer (the photo's bytes, or the JSON report with crops).
import sharp from 'sharp';
import {
  type Detector,
  type Face,
  type RgbImage,
  boxSide,
  cropFrame,
  frameBox,
  resizeSquare,
} from '../data/faces.js';
import { sniffFormat } from '../data/image.js';
import { type FaceReport, type RestorationModel, enhance } from '../infer/enhance.js';
import { HttpError } from './errors.js';
import type { RequestOptions } from './options.js';

export const MIME: Record<string, string> = { jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp' };

export interface ServerFace extends Omit<FaceReport, 'skipped'> {
  skipped?: FaceReport['skipped'] | 'not-selected';
  before?: string;
  after?: string;
}

export interface JobResult {
  bytes: Buffer;
  format: 'jpeg' | 'png' | 'webp';
  width: number;
  height: number;
  faces: ServerFace[];
  /** The JSON report (output=json), without the photo's data URL (added by the caller). */
  report: Record<string, unknown>;
}

const mp = (n: number) => `${(n / 1e6).toFixed(1)} MP`;

/**
 * Refuses, before any decoding, bytes that are not an image (422) and photos whose input or scaled
 * output is over the pixel limit (413).
 */
export async function checkPhoto(
  bytes: Buffer,
  scale: number,
  pixelLimit: number,
  name: string,
): Promise<void> {
  if (bytes.length === 0) throw new HttpError(400, 'empty_image', `${name} is empty (0 bytes)`);
  if (!sniffFormat(bytes))
    throw new HttpError(
      422,
      'not_an_image',
      `${name} is not an image this server reads; supported: JPEG, PNG, WebP, TIFF, GIF, AVIF/HEIF`,
    );
  let w = 0;
  let h = 0;
  try {
    const m = await sharp(bytes, { limitInputPixels: false }).metadata();
    w = m.width ?? 0;
    h = m.pageHeight && (m.pages ?? 1) > 1 ? m.pageHeight : (m.height ?? 0);
  } catch (err) {
    throw new HttpError(422, 'not_an_image', `${name} is damaged (${(err as Error).message.split('\n')[0]})`);
  }
  if (!w || !h) throw new HttpError(422, 'not_an_image', `${name} is damaged (no image size in its header)`);
  if (w * h > pixelLimit)
    throw new HttpError(
      413,
      'too_many_pixels',
      `${name} is ${w}x${h} (${mp(w * h)}), over this server's limit of ${mp(pixelLimit)}`,
    );
  const out = w * scale * h * scale;
  if (out > pixelLimit)
    throw new HttpError(
      413,
      'too_many_pixels',
      `the x${scale} output of ${name} would be ${w * scale}x${h * scale} (${mp(out)}), over this server's limit of ${mp(pixelLimit)}; use a smaller scale`,
    );
}

async function pngDataUrl(img: RgbImage, gray: boolean): Promise<string> {
  let p = sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), {
    raw: { width: img.width, height: img.height, channels: 3 },
  });
  if (gray) p = p.toColourspace('b-w');
  return `data:image/png;base64,${(await p.png().toBuffer()).toString('base64')}`;
}

/**
 * Runs the pipeline on a checked photo. With `o.faces` only those faces (detector order) are
 * restored, whatever their size; the others are reported as 'not-selected'.
 * @throws HttpError 400 for face indices the photo does not have.
 */
export async function runJob(
  bytes: Buffer,
  o: RequestOptions,
  ctx: { model: RestorationModel; detector: Detector; pixelLimit: number; name: string },
): Promise<JobResult> {
  let all: Face[] = [];
  let kept: number[] = [];
  // A detector that remembers every face and hands enhance only the chosen ones (one decode).
  const choosing: Detector = {
    name: ctx.detector.name,
    ...(ctx.detector.framing ? { framing: ctx.detector.framing } : {}),
    detect: async (img) => {
      all = await ctx.detector.detect(img);
      kept = all.map((_, i) => i);
      if (o.faces) {
        const bad = o.faces.filter((i) => i >= all.length);
        if (bad.length)
          throw new HttpError(
            400,
            'bad_option',
            `Expected face indices below ${all.length} (the faces found in ${ctx.name}) for faces but received ${bad.join(',')}`,
          );
        kept = o.faces.slice().sort((a, b) => a - b);
      }
      return kept.map((i) => all[i]!);
    },
  };
  const r = await enhance(bytes, {
    model: ctx.model,
    detector: choosing,
    scale: o.scale,
    minSize: o.faces ? 0 : o.minSize,
    maxSize: o.faces ? Infinity : o.maxSize,
    pixelLimit: ctx.pixelLimit,
    name: ctx.name,
    ...(o.format ? { format: o.format } : {}),
    ...(o.quality ? { quality: o.quality } : {}),
  });
  const byIndex = new Map<number, ServerFace>();
  for (const f of r.faces) byIndex.set(kept[f.index]!, { ...f, index: kept[f.index]! });
  const faces: ServerFace[] = [];
  for (const [i, f] of all.entries()) {
    const got = byIndex.get(i);
    if (got) faces.push(got);
    else if (f.box[2] > f.box[0] && f.box[3] > f.box[1])
      faces.push({
        index: i,
        box: f.box.map((v) => Math.round(v * 100) / 100) as Face['box'],
        score: Math.round(f.score * 1e4) / 1e4,
        nativeSize: Math.round(boxSide(f.box) * 100) / 100,
        frame: frameBox(f.box, r.input.width, r.input.height, ctx.detector.framing ?? {}),
        restored: false,
        skipped: 'not-selected',
        ms: 0,
      });
  }
  if (o.output === 'json' && o.crops) {
    // r.crops follow r.faces' restored faces in order.
    let k = 0;
    for (const f of r.faces) {
      if (!f.restored) continue;
      const sf = byIndex.get(kept[f.index]!)!;
      const crop = r.crops[k++]!;
      sf.before = await pngDataUrl(resizeSquare(cropFrame(r.input, f.frame), crop.width), r.grayscale);
      sf.after = await pngDataUrl(crop, r.grayscale);
    }
  }
  const report = {
    model: 'file' in ctx.model ? (ctx.model.name ?? ctx.model.file) : 'restoration',
    detector: ctx.detector.name,
    scale: o.scale,
    input: {
      width: r.input.width,
      height: r.input.height,
      format: r.input.info.format,
      grayscale: r.grayscale,
    },
    output: { width: r.width, height: r.height, format: r.format, bytes: r.bytes!.length },
    faces,
    timings: r.timings,
    warnings: r.input.warnings,
  };
  return { bytes: r.bytes!, format: r.format, width: r.width, height: r.height, faces, report };
}
