// `facesr enhance`: restore the small faces in photos, folders or globs.
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { ArgumentError, FacesrError } from '../core/errors.js';
import { writeFileAtomic } from '../io/index.js';
import { DEFAULT_PIXEL_LIMIT, writeImage, type OutputFormat } from '../data/image.js';
import { expandInputs, runBatch } from '../data/files.js';
import { type Detector, type Face, type RgbImage, cropFrame, resizeSquare } from '../data/faces.js';
import { setNumThreads } from '../tensor/index.js';
import {
  DEFAULT_MAX_FACE,
  DEFAULT_MIN_FACE,
  type EnhanceResult,
  type FaceReport,
  enhance,
} from '../infer/enhance.js';
import { createDetector } from '../infer/detectors.js';
import { DEFAULT_MODEL, type LoadedModel, loadModel } from '../models/modelfile.js';
import { deviceOption, intOption, numOption } from './args.js';
import { readBoxFile } from './data.js';

export const ENHANCE_HELP = `Usage: facesr enhance <photos|folders|globs...> -o OUT [options]

Finds the faces in each photo, cuts each in the framing the model was trained on (a square 1.2x the
face box), restores it with the model (16x16 -> 64x64, x4), resizes it to the face's size in the
output and pastes it back with a feathered mask and matched colours. The rest of the photo is
unchanged (or up-scaled with a Lanczos filter at --scale 2|4). Results are written to OUT with the
input's name, in its format (JPEG, PNG, WebP; others as PNG), keeping EXIF, ICC and orientation.
A grayscale photo stays grayscale.

The model restores small faces: faces larger than --max-size (default ${DEFAULT_MAX_FACE} px, box long side
in the photo) are left as they are: the model sees every face at 16x16, and measured on held-out
faces (dev/measure_max_size.mjs) it beats plain up-sampling of the face up to a 14-px box and is
about 1.5 dB behind it at 20 px.

Options:
  -o, --out DIR             output folder (created)
  --model NAME|FILE         shipped model name or a .safetensors model file (default ${DEFAULT_MODEL})
  --scale 1|2|4             up-scale the whole photo (default 1)
  --only-faces              write the restored 64x64 crops (OUT/<name>_<face>.png), not photos
  --compare                 also write, per restored face, OUT/compare/<name>_<face>.png: the
                            face's frame before (bicubic) and after, side by side, 128 px each
  --min-size N              leave faces under N px (box long side) as they are (default ${DEFAULT_MIN_FACE})
  --max-size N              leave faces over N px as they are (default ${DEFAULT_MAX_FACE})
  --detector NAME           retinaface or ssd (default: retinaface when its weights are given by
                            --detector-weights or the FACESR_RETINAFACE variable, else ssd, which
                            ships in the npm package but misses more small faces)
  --detector-weights FILE   RetinaFace weights (e.g. ../shared/models/retinaface_mnet025.safetensors)
  --score T                 detector score threshold (default 0.5)
  --boxes FILE              take faces from a JSON box file instead of a detector (as in
                            'facesr data harvest': {"x.jpg": {"boxes_xywh": [[x, y, w, h], ...]}})
  --device DEV              cpu (default), cuda or cuda:N
  --threads N               libtorch threads (default: all cores)
  --suffix S                added to output names before the extension (default none)
  --ext EXT                 output format: auto (the input's, default), jpg, png or webp
  --quality Q               JPEG/WebP quality 1-100 (default 92)
  --overwrite               replace outputs that exist (without it they are reported as failures)
  --no-faces copy|skip      a photo with no face to restore is copied through (default) or skipped;
                            either way it is reported
  --json FILE               per-photo and per-face report: box, score, native size, frame,
                            restored or why not, time in ms
  --dry-run                 find faces and report only: no model, no images written (--json is)
  --pixel-limit N           largest photo, input and scaled output, in pixels (default ${DEFAULT_PIXEL_LIMIT / 1e6} MP);
                            larger ones are refused with a message, never half-processed. Memory
                            is about 21 bytes per output pixel (an 81 MP JPEG: 1.7 GB), plus the
                            detector's tiles
  --quiet                   no progress line
  -h, --help                this text

Exit status: 0 when every input was processed (or skipped), 1 when any failed.`;

const EXTS: Record<string, OutputFormat> = { jpg: 'jpeg', jpeg: 'jpeg', png: 'png', webp: 'webp' };
const EXT_OF: Record<OutputFormat, string> = { jpeg: '.jpg', png: '.png', webp: '.webp' };

interface FileReport {
  file: string;
  output: string | null;
  status: 'done' | 'copied' | 'skipped' | 'dry-run';
  width: number;
  height: number;
  faces: FaceReport[];
  timings: EnhanceResult['timings'];
}

export async function enhanceCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      out: { type: 'string', short: 'o' },
      model: { type: 'string' },
      scale: { type: 'string' },
      'only-faces': { type: 'boolean' },
      compare: { type: 'boolean' },
      'min-size': { type: 'string' },
      'max-size': { type: 'string' },
      detector: { type: 'string' },
      'detector-weights': { type: 'string' },
      score: { type: 'string' },
      boxes: { type: 'string' },
      device: { type: 'string' },
      threads: { type: 'string' },
      suffix: { type: 'string' },
      ext: { type: 'string' },
      quality: { type: 'string' },
      overwrite: { type: 'boolean' },
      'no-faces': { type: 'string' },
      json: { type: 'string' },
      'dry-run': { type: 'boolean' },
      'pixel-limit': { type: 'string' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(ENHANCE_HELP);
    return 0;
  }
  const dryRun = values['dry-run'] ?? false;
  if (!values.out && !dryRun) throw new ArgumentError('enhance: give the output folder with -o OUT');
  if (positionals.length === 0) throw new ArgumentError('enhance: give photos, folders or globs to enhance');
  const out = values.out ?? '';
  const scale = Number(values.scale ?? '1');
  if (![1, 2, 4].includes(scale))
    throw new ArgumentError(`Expected 1, 2 or 4 for --scale but received '${values.scale}'`);
  const minSize = numOption(values['min-size'], '--min-size', DEFAULT_MIN_FACE);
  const maxSize = numOption(values['max-size'], '--max-size', DEFAULT_MAX_FACE);
  if (maxSize < minSize) throw new ArgumentError(`--max-size ${maxSize} is below --min-size ${minSize}`);
  const score = numOption(values.score, '--score', 0.5, 1);
  const quality = values.quality === undefined ? undefined : intOption(values.quality, '--quality', 92);
  if (quality !== undefined && quality > 100)
    throw new ArgumentError(`Expected integer in [1, 100] for --quality but received '${values.quality}'`);
  const pixelLimit = intOption(values['pixel-limit'], '--pixel-limit', DEFAULT_PIXEL_LIMIT);
  const device = deviceOption(values.device);
  if (values.threads !== undefined) setNumThreads(intOption(values.threads, '--threads', 1));
  const noFaces = values['no-faces'] ?? 'copy';
  if (noFaces !== 'copy' && noFaces !== 'skip')
    throw new ArgumentError(`Expected copy or skip for --no-faces but received '${noFaces}'`);
  const extArg = (values.ext ?? 'auto').replace(/^\./, '').toLowerCase();
  if (extArg !== 'auto' && !EXTS[extArg])
    throw new ArgumentError(`Expected auto, jpg, png or webp for --ext but received '${values.ext}'`);
  const suffix = values.suffix ?? '';
  if (/[/\\]/.test(suffix)) throw new ArgumentError(`--suffix must not hold a path separator: '${suffix}'`);

  // Where faces come from.
  let boxes: Map<string, { faces: Face[] }> | null = null;
  let detector: Detector | null = null;
  if (values.boxes) {
    boxes = await readBoxFile(values.boxes);
  } else {
    const weights = values['detector-weights'] ?? process.env.FACESR_RETINAFACE;
    const name = values.detector ?? (weights ? 'retinaface' : 'ssd');
    if (!values.detector && !weights)
      console.error(
        'facesr: no RetinaFace weights (--detector-weights or FACESR_RETINAFACE): using the SSD detector, which misses more small faces',
      );
    detector = createDetector(name, { weights, scoreThreshold: score });
  }

  const { files, problems } = await expandInputs(positionals);
  if (files.length === 0 && problems.length === 0)
    throw new ArgumentError(`enhance: no images found in ${positionals.join(', ')}`);
  let model: LoadedModel | null = null;
  try {
    if (!dryRun && files.length > 0) model = await loadModel(values.model, { device });
    if (!dryRun) await mkdir(out, { recursive: true });

    const reports: FileReport[] = [];
    const claimed = new Map<string, string>(); // output -> input
    let restored = 0;
    let left = 0;
    let copied = 0;
    let skipped = 0;
    const started = performance.now();
    const quiet = values.quiet ?? false;
    const tty = process.stderr.isTTY;

    const claim = (file: string, target: string): string => {
      const key = path.resolve(target);
      const other = claimed.get(key);
      if (other && other !== file)
        throw new FacesrError(`${file}: its output ${target} is also the output of ${other}`);
      if (key === path.resolve(file))
        throw new FacesrError(`${file}: the output would replace the input itself`);
      if (!values.overwrite && existsSync(target))
        throw new FacesrError(`${file}: the output ${target} exists; give --overwrite to replace it`);
      claimed.set(key, file);
      return target;
    };

    const work = async (file: string): Promise<void> => {
      let faces: Face[] | undefined;
      if (boxes) {
        const key = path.basename(file);
        const entry = boxes.get(key) ?? boxes.get(file) ?? boxes.get(path.relative(process.cwd(), file));
        if (!entry) throw new FacesrError(`${file}: no entry for '${key}' in the box file ${values.boxes}`);
        faces = entry.faces;
      }
      const stem = path.basename(file).replace(/\.[^.]*$/, '') || 'image';
      // Outputs that exist are refused before any work (the format is only known after decoding,
      // so for --ext auto the input's own extension is checked first when it is one we write).
      const inExt = path.extname(file).toLowerCase().slice(1);
      if (!dryRun && !values['only-faces']) {
        const guess = extArg !== 'auto' ? EXTS[extArg]! : EXTS[inExt];
        if (guess)
          claim(
            file,
            path.join(out, `${stem}${suffix}${extArg === 'auto' ? path.extname(file) : EXT_OF[guess]}`),
          );
      }
      const r = await enhance(file, {
        ...(model ? { model } : {}),
        ...(faces ? { faces } : { detector: detector! }),
        scale: scale as 1 | 2 | 4,
        minSize,
        maxSize,
        pixelLimit,
        dryRun,
        ...(extArg !== 'auto' ? { format: EXTS[extArg]! } : {}),
        ...(quality ? { quality } : {}),
        encode: !dryRun && !values['only-faces'],
      });
      const nRestored = r.faces.filter((f) => f.restored).length;
      restored += nRestored;
      left += r.faces.length - nRestored;
      const report: FileReport = {
        file,
        output: null,
        status: 'done',
        width: r.input.width,
        height: r.input.height,
        faces: r.faces,
        timings: r.timings,
      };
      reports.push(report);
      if (dryRun) {
        report.status = 'dry-run';
        return;
      }
      if (values.compare) {
        const dir = path.join(out, 'compare');
        await mkdir(dir, { recursive: true });
        let k = 0;
        for (const f of r.faces) {
          if (!f.restored) continue;
          const pair = sideBySide(
            resizeSquare(cropFrame(r.input, f.frame), 128),
            resizeSquare(r.crops[k++]!, 128),
          );
          const target = claim(
            file,
            path.join(dir, `${stem}${suffix}_${String(f.index).padStart(3, '0')}.png`),
          );
          await writeImage(target, { ...pair, channels: 3 }, { grayscale: r.grayscale });
        }
      }
      if (values['only-faces']) {
        let k = 0;
        for (const f of r.faces) {
          if (!f.restored) continue;
          const target = claim(
            file,
            path.join(out, `${stem}${suffix}_${String(f.index).padStart(3, '0')}.png`),
          );
          await writeImage(target, { ...r.crops[k++]!, channels: 3 }, { grayscale: r.grayscale });
        }
        if (nRestored === 0) {
          report.status = 'skipped';
          skipped++;
        }
        return;
      }
      const ext = extArg === 'auto' && EXTS[inExt] === r.format ? path.extname(file) : EXT_OF[r.format];
      const target = claim(file, path.join(out, `${stem}${suffix}${ext}`));
      report.output = target;
      if (nRestored === 0) {
        if (noFaces === 'skip') {
          report.status = 'skipped';
          report.output = null;
          skipped++;
          return;
        }
        report.status = 'copied';
        copied++;
        // Unchanged and in its own format: the original bytes as they are.
        if (scale === 1 && r.format === r.input.info.format) {
          await writeFileAtomic(target, r.input.bytes);
          return;
        }
      }
      await writeFileAtomic(target, r.bytes!);
    };

    const { failures } = await runBatch(files, work, {
      onProgress: (p) => {
        if (quiet) return;
        const rep = reports.find((x) => x.file === p.file);
        const what = !p.ok
          ? 'FAILED'
          : rep
            ? `${rep.faces.filter((f) => f.restored || (dryRun && !f.skipped)).length}/${rep.faces.length} faces${rep.status === 'copied' ? ' (copied)' : rep.status === 'skipped' ? ' (skipped)' : ''}`
            : 'ok';
        const line = `[${p.done}/${p.total}] ${path.basename(p.file)}: ${what}`;
        if (tty) process.stderr.write(`\r\x1b[K${line}`);
        else process.stderr.write(`${line}\n`);
      },
    });
    if (tty && !quiet && files.length) process.stderr.write('\n');
    const seconds = (performance.now() - started) / 1000;

    if (values.json) {
      const order = new Map(files.map((f, i) => [f, i]));
      reports.sort((a, b) => order.get(a.file)! - order.get(b.file)!);
      const doc = {
        model: model ? (model.name ?? model.file) : null,
        detector: boxes ? `boxes:${values.boxes}` : detector!.name,
        scale,
        files: reports,
        failures: [...problems.map((p) => ({ file: p.path, error: p.reason })), ...failures],
      };
      await writeFileAtomic(values.json, JSON.stringify(doc, null, 2) + '\n');
    }

    const bad = [...problems.map((p) => ({ file: p.path, error: p.reason })), ...failures];
    const done = reports.filter((r) => r.status === 'done').length;
    const found = restored + left;
    console.log(
      dryRun
        ? `dry run: ${reports.length} photos, ${found} faces found (${reports.reduce((n, r) => n + r.faces.filter((f) => !f.skipped).length, 0)} would be restored), ${bad.length} failed, ${seconds.toFixed(1)} s`
        : `${done} photos enhanced, ${copied} copied (no face to restore), ${skipped} skipped, ${bad.length} failed; ${restored} faces restored` +
            (left ? ` (${left} left as they were: outside --min-size/--max-size)` : '') +
            `; ${seconds.toFixed(1)} s`,
    );
    if (bad.length) {
      console.error(`${bad.length} input(s) failed:`);
      for (const b of bad)
        console.error(
          `  ${b.file}: ${b.error.startsWith(`${b.file}: `) ? b.error.slice(b.file.length + 2) : b.error}`,
        );
    }
    return bad.length ? 1 : 0;
  } finally {
    detector?.dispose?.();
    model?.net.dispose();
  }
}

/** Two images of the same height, left and right. */
function sideBySide(a: RgbImage, b: RgbImage): RgbImage {
  const width = a.width + b.width;
  const data = new Uint8Array(width * a.height * 3);
  for (let y = 0; y < a.height; y++) {
    data.set(a.data.subarray(y * a.width * 3, (y + 1) * a.width * 3), y * width * 3);
    data.set(b.data.subarray(y * b.width * 3, (y + 1) * b.width * 3), (y * width + a.width) * 3);
  }
  return { data, width, height: a.height };
}
