// The options of POST /v1/enhance, from the query string and multipart text fields: one table that
// both the parser and the OpenAPI document read, so the two cannot disagree.
import { ArgumentError } from '../core/errors.js';
import { DEFAULT_MAX_FACE, DEFAULT_MIN_FACE } from '../infer/enhance.js';
import type { OutputFormat } from '../data/image.js';

export interface RequestOptions {
  scale: 1 | 2 | 4;
  minSize: number;
  maxSize: number;
  /** Indices (detector order) of the faces to restore; null: every face in [minSize, maxSize]. */
  faces: number[] | null;
  format?: OutputFormat;
  quality?: number;
  output: 'image' | 'json';
  /** JSON only: per-face before/after crops as data URLs. */
  crops: boolean;
  /** JSON only: the whole result as a data URL. */
  image: boolean;
}

/** One option: its JSON schema (OpenAPI) and its description. */
export interface OptionSpec {
  schema: Record<string, unknown>;
  description: string;
}

export const OPTION_SPECS: Record<keyof RequestOptions, OptionSpec> = {
  scale: {
    schema: { type: 'integer', enum: [1, 2, 4], default: 1 },
    description: 'Up-scale the whole photo (Lanczos for the background).',
  },
  minSize: {
    schema: { type: 'number', minimum: 0, default: DEFAULT_MIN_FACE },
    description: 'Faces whose box long side is under this many pixels are left as they are.',
  },
  maxSize: {
    schema: { type: 'number', minimum: 0, default: DEFAULT_MAX_FACE },
    description:
      'Faces whose box long side is over this many pixels are left as they are (the model sees every face at 16x16).',
  },
  faces: {
    schema: { type: 'string', pattern: '^(all|\\d+(,\\d+)*)$', default: 'all', example: '0,2,5' },
    description:
      "Which faces to restore: 'all' (every face in [minSize, maxSize]) or comma-separated indices in the detector's order (the `index` of a previous JSON report of the same photo).",
  },
  format: {
    schema: { type: 'string', enum: ['jpeg', 'png', 'webp'] },
    description: "Output format (default: the input's when JPEG, PNG or WebP, else PNG).",
  },
  quality: {
    schema: { type: 'integer', minimum: 1, maximum: 100, default: 92 },
    description: 'JPEG/WebP quality.',
  },
  output: {
    schema: { type: 'string', enum: ['image', 'json'], default: 'image' },
    description: "'image': the restored photo's bytes; 'json': a report with faces, crops and the photo.",
  },
  crops: {
    schema: { type: 'boolean', default: true },
    description: "With output=json: each restored face's before/after crops (64x64 PNG data URLs).",
  },
  image: {
    schema: { type: 'boolean', default: true },
    description: 'With output=json: the restored photo as a data URL.',
  },
};

export const OPTION_NAMES = Object.keys(OPTION_SPECS) as (keyof RequestOptions)[];

const quote = (v: string) => `'${v.length > 40 ? v.slice(0, 37) + '...' : v}'`;

function num(v: string, name: string, expected: string, ok: (n: number) => boolean): number {
  const n = v.trim() === '' ? NaN : Number(v);
  if (!Number.isFinite(n) || !ok(n))
    throw new ArgumentError(`Expected ${expected} for ${name} but received ${quote(v)}`);
  return n;
}

function bool(v: string, name: string): boolean {
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new ArgumentError(`Expected true or false for ${name} but received ${quote(v)}`);
}

/**
 * Parses request options (every value a string, as from a query string or form fields).
 * @throws ArgumentError naming the option for unknown names, repeated names and bad values.
 */
export function parseRequestOptions(raw: Record<string, unknown>): RequestOptions {
  const o: RequestOptions = {
    scale: 1,
    minSize: DEFAULT_MIN_FACE,
    maxSize: DEFAULT_MAX_FACE,
    faces: null,
    output: 'image',
    crops: true,
    image: true,
  };
  for (const [name, value] of Object.entries(raw)) {
    if (!Object.hasOwn(OPTION_SPECS, name))
      throw new ArgumentError(`Unknown option '${name}'. Options: ${OPTION_NAMES.join(', ')}`);
    if (Array.isArray(value))
      throw new ArgumentError(`Option ${name} is given ${value.length} times; give it once`);
    if (typeof value !== 'string') throw new ArgumentError(`Expected a string value for ${name}`);
    const v = value;
    switch (name as keyof RequestOptions) {
      case 'scale':
        o.scale = num(v, 'scale', '1, 2 or 4', (n) => n === 1 || n === 2 || n === 4) as 1 | 2 | 4;
        break;
      case 'minSize':
        o.minSize = num(v, 'minSize', 'number >= 0', (n) => n >= 0);
        break;
      case 'maxSize':
        o.maxSize = num(v, 'maxSize', 'number >= 0', (n) => n >= 0);
        break;
      case 'faces':
        if (v === 'all') o.faces = null;
        else if (/^\d{1,6}(,\d{1,6})*$/.test(v)) o.faces = [...new Set(v.split(',').map(Number))];
        else
          throw new ArgumentError(
            `Expected 'all' or comma-separated face indices (e.g. 0,2,5) for faces but received ${quote(v)}`,
          );
        break;
      case 'format':
        if (v !== 'jpeg' && v !== 'png' && v !== 'webp')
          throw new ArgumentError(`Expected jpeg, png or webp for format but received ${quote(v)}`);
        o.format = v;
        break;
      case 'quality':
        o.quality = num(
          v,
          'quality',
          'integer in [1, 100]',
          (n) => Number.isInteger(n) && n >= 1 && n <= 100,
        );
        break;
      case 'output':
        if (v !== 'image' && v !== 'json')
          throw new ArgumentError(`Expected image or json for output but received ${quote(v)}`);
        o.output = v;
        break;
      case 'crops':
        o.crops = bool(v, 'crops');
        break;
      case 'image':
        o.image = bool(v, 'image');
        break;
    }
  }
  if (o.maxSize < o.minSize) throw new ArgumentError(`maxSize ${o.maxSize} is below minSize ${o.minSize}`);
  return o;
}
