// safetensors I/O (src/io): exact round trips per dtype with metadata, reading a file written by an
// independent writer (dev/make_nn_fixtures.py), FormatErrors for malformed files, atomic writes.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Tensor, fromTypedArray, liveTensors, randn, tensor, tidy, type DType } from '../src/tensor/index.js';
import {
  parseSafetensors,
  readSafetensors,
  readSafetensorsSync,
  serializeSafetensors,
  writeSafetensors,
} from '../src/io/index.js';
import { ArgumentError, FormatError } from '../src/core/errors.js';

const PYFIXTURE = path.resolve(process.cwd(), 'tests/fixtures/nn_pywriter.safetensors');

function tmpDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'facesr-st-'));
}

function disposeMap(m: Map<string, Tensor>): void {
  for (const t of m.values()) t.dispose();
}

/** One tensor of every dtype, including a 0-d, an empty and a non-contiguous one. */
function sample(): Map<string, Tensor> {
  return tidy(
    () =>
      new Map<string, Tensor>([
        ['f32', randn([3, 4])],
        ['f32_grad', randn([2, 2]).requiresGrad_(true)],
        ['f32_transposed', randn([2, 3]).transpose(0, 1)],
        ['f16', randn([5]).to({ dtype: 'float16' })],
        ['bf16', randn([2, 3]).mul(1000).to({ dtype: 'bfloat16' })],
        ['f64', tensor([Math.PI, -1e-300, 1e300], { dtype: 'float64' })],
        [
          'i64',
          fromTypedArray(BigInt64Array.from([0n, -1n, 2n ** 40n + 1n, -(2n ** 62n), 2n ** 63n - 1n]), [5]),
        ],
        ['i32', fromTypedArray(Int32Array.from([-(2 ** 31), 7, 2 ** 31 - 1]), [3])],
        ['u8', fromTypedArray(Uint8Array.from([0, 1, 127, 128, 255]), [5])],
        ['bool', tensor([1, 0, 1, 1], { dtype: 'bool' }).reshape(2, 2)],
        ['scalar', tensor(2.5)],
        ['empty', randn([0, 3])],
      ]),
  );
}

test('write -> read round trip keeps dtype, shape, bytes and metadata exactly', async () => {
  const dir = tmpDir();
  const before = liveTensors();
  try {
    const src = sample();
    const meta = { format: 'pt', epoch: '12', 'ünïcode key': 'välue ✓' };
    const file = path.join(dir, 'a.safetensors');
    await writeSafetensors(file, src, meta);
    for (const r of [await readSafetensors(file), readSafetensorsSync(file)]) {
      assert.deepEqual(r.metadata, meta);
      assert.deepEqual([...r.tensors.keys()].sort(), [...src.keys()].sort());
      for (const [k, t] of src) {
        const got = r.tensors.get(k)!;
        assert.equal(got.dtype, t.dtype, `${k} dtype`);
        assert.deepEqual(got.shape, t.shape, `${k} shape`);
        assert.deepEqual(
          got.bytes(),
          tidy(() => t.detach().contiguous().bytes()),
          `${k} bytes`,
        );
        assert.equal(got.requiresGrad, false, `${k} is read without requiresGrad`);
      }
      disposeMap(r.tensors);
    }
    // Header: 8-byte aligned data start, keys sorted, dtype names of the format.
    const raw = readFileSync(file);
    const n = Number(raw.readBigUInt64LE(0));
    assert.equal((8 + n) % 8, 0);
    const header = JSON.parse(raw.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string }>;
    const keys = Object.keys(header).filter((k) => k !== '__metadata__');
    assert.deepEqual(keys, [...keys].sort());
    const want: Record<string, string> = {
      f32: 'F32',
      f16: 'F16',
      bf16: 'BF16',
      f64: 'F64',
      i64: 'I64',
      i32: 'I32',
      u8: 'U8',
      bool: 'BOOL',
    };
    for (const [k, d] of Object.entries(want)) assert.equal(header[k]!.dtype, d, k);
    // In-memory serialisation is the same bytes as the file.
    assert.deepEqual(Buffer.from(serializeSafetensors(src, meta)), raw);
    disposeMap(src);
    assert.equal(liveTensors(), before, 'tensors leaked by write/read');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('reads a file written by the Python writer (dev/make_nn_fixtures.py)', () => {
  const { tensors, metadata } = readSafetensorsSync(PYFIXTURE);
  assert.deepEqual(metadata, { writer: 'dev/make_nn_fixtures.py', note: 'ünïcode ok' });
  const get = (k: string, dtype: DType, shape: number[]): Tensor => {
    const t = tensors.get(k);
    assert.ok(t, `missing ${k}`);
    assert.equal(t.dtype, dtype, `${k} dtype`);
    assert.deepEqual(t.shape, shape, `${k} shape`);
    return t;
  };
  assert.deepEqual(
    Array.from(get('f32', 'float32', [3, 4]).data() as Float32Array),
    Array.from({ length: 12 }, (_, i) => i / 4 - 1),
  );
  assert.deepEqual(Array.from(get('f64', 'float64', [2, 2]).data() as Float64Array), [
    1e-300,
    -2.5,
    Math.PI,
    1e300,
  ]);
  assert.deepEqual(
    Array.from(get('f16', 'float16', [2, 3]).toFloat32Array()),
    [0, 0.5, -2, 65504, 1.5, -0.125],
  );
  assert.deepEqual(Array.from(get('bf16', 'bfloat16', [5]).toFloat32Array()), [
    1,
    -3.5,
    256,
    2 ** -7,
    2 ** 127,
  ]);
  assert.deepEqual(Array.from(get('i64', 'int64', [5]).data() as BigInt64Array), [
    0n,
    -1n,
    2n ** 40n + 1n,
    -(2n ** 62n),
    2n ** 63n - 1n,
  ]);
  assert.deepEqual(Array.from(get('i32', 'int32', [2, 2]).data() as Int32Array), [
    -(2 ** 31),
    7,
    2 ** 31 - 1,
    0,
  ]);
  assert.deepEqual(Array.from(get('u8', 'uint8', [5]).data() as Uint8Array), [0, 1, 127, 128, 255]);
  assert.deepEqual(Array.from(get('bool', 'bool', [2, 3]).data() as Uint8Array), [1, 0, 1, 0, 0, 1]);
  assert.equal(get('scalar', 'float32', []).item(), 3.25);
  assert.equal(get('empty', 'float32', [0, 3]).numel, 0);
  assert.equal(tensors.size, 10);
  disposeMap(tensors);
});

// ---- malformed files ----
function build(header: unknown, data: Uint8Array = new Uint8Array(0), lengthOverride?: bigint): Buffer {
  const hb = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const out = Buffer.alloc(8 + hb.length + data.length);
  out.writeBigUInt64LE(lengthOverride ?? BigInt(hb.length), 0);
  hb.copy(out, 8);
  Buffer.from(data).copy(out, 8 + hb.length);
  return out;
}
const f32 = (shape: number[], offsets: number[]) => ({ dtype: 'F32', shape, data_offsets: offsets });

const BAD: Record<string, { bytes: () => Buffer; message: RegExp }> = {
  'a file shorter than the length prefix': { bytes: () => Buffer.from([1, 2, 3]), message: /only 3 bytes/ },
  'a truncated file (data cut short)': {
    bytes: () => {
      const good = Buffer.from(tidy(() => serializeSafetensors({ a: randn([4, 4]) })));
      return good.subarray(0, good.length - 10);
    },
    message: /outside the data/,
  },
  'a header length beyond the file': {
    bytes: () => build({ a: f32([1], [0, 4]) }, new Uint8Array(4), 1000n),
    message: /header length 1000 exceeds the file size/,
  },
  'a header length of 2^63': { bytes: () => build({}, new Uint8Array(0), 2n ** 63n), message: /exceeds/ },
  'a header that is not JSON': {
    bytes: () => build('{"a": {"dtype": "F32",'),
    message: /header is not JSON/,
  },
  'a JSON header that is not an object (null)': { bytes: () => build('null'), message: /not a JSON object/ },
  'a JSON header that is an array': { bytes: () => build('[1, 2]'), message: /not a JSON object/ },
  'offsets with end before begin': {
    bytes: () => build({ a: f32([1], [4, 0]) }, new Uint8Array(8)),
    message: /data offsets \[4, 0\]/,
  },
  'offsets past the end of the data': {
    bytes: () => build({ a: f32([2], [0, 8]) }, new Uint8Array(4)),
    message: /outside the data \(4 bytes\)/,
  },
  'offsets whose size does not match the shape': {
    bytes: () => build({ a: f32([3], [0, 8]) }, new Uint8Array(12)),
    message: /needs 12 bytes/,
  },
  'non-integer offsets': {
    bytes: () => build({ a: f32([1], [0.5, 4.5]) }, new Uint8Array(8)),
    message: /invalid data_offsets/,
  },
  'missing offsets': {
    bytes: () => build({ a: { dtype: 'F32', shape: [1] } }, new Uint8Array(4)),
    message: /invalid data_offsets/,
  },
  'a negative dimension': {
    bytes: () => build({ a: f32([-1], [0, 4]) }, new Uint8Array(4)),
    message: /invalid shape/,
  },
  'an unknown dtype': {
    bytes: () => build({ a: { dtype: 'F8_E4M3', shape: [4], data_offsets: [0, 4] } }, new Uint8Array(4)),
    message: /unsupported dtype F8_E4M3/,
  },
  'a dtype named like an Object property': {
    bytes: () => build({ a: { dtype: 'constructor', shape: [4], data_offsets: [0, 4] } }, new Uint8Array(4)),
    message: /unsupported dtype constructor/,
  },
  'non-string metadata': {
    bytes: () => build({ __metadata__: { epoch: 3 } }),
    message: /__metadata__ must map strings to strings/,
  },
};

for (const [what, c] of Object.entries(BAD)) {
  test(`reading ${what} throws a FormatError naming the file`, async () => {
    const dir = tmpDir();
    const before = liveTensors();
    try {
      const file = path.join(dir, 'bad.safetensors');
      writeFileSync(file, c.bytes());
      const check = (err: unknown): boolean => {
        assert.ok(err instanceof FormatError, `expected FormatError, got ${String(err)}`);
        assert.ok(err.message.includes(file), `message names the file: ${err.message}`);
        assert.match(err.message, c.message);
        return true;
      };
      assert.throws(() => readSafetensorsSync(file), check);
      await assert.rejects(readSafetensors(file), check);
      assert.equal(liveTensors(), before, 'no tensors left behind by a failed read');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('a failed parse disposes the tensors it had already read', () => {
  const before = liveTensors();
  const bytes = build(
    { a: f32([1], [0, 4]), b: f32([1], [4, 8]), z: { dtype: 'XX', shape: [1], data_offsets: [8, 12] } },
    new Uint8Array(12),
  );
  assert.throws(() => parseSafetensors(bytes, 'mem.safetensors'), /mem\.safetensors: tensor 'z'/);
  assert.equal(liveTensors(), before);
});

// ---- atomic writes ----
test('writes are atomic: no temporary files after success, none after a failure', async () => {
  const dir = tmpDir();
  try {
    const t = tidy(() => ({ w: randn([8, 8]) }));
    const file = path.join(dir, 'model.safetensors');
    await writeSafetensors(file, t);
    assert.deepEqual(readdirSync(dir), ['model.safetensors']);
    // Overwriting replaces the content, still without leftovers.
    const t2 = tidy(() => ({ w: randn([2]) }));
    await writeSafetensors(file, t2, { v: '2' });
    assert.deepEqual(readdirSync(dir), ['model.safetensors']);
    const r = readSafetensorsSync(file);
    assert.deepEqual(r.tensors.get('w')!.shape, [2]);
    assert.equal(r.metadata.v, '2');
    disposeMap(r.tensors);

    // Failure while writing the temporary file: the folder does not exist.
    await assert.rejects(writeSafetensors(path.join(dir, 'missing', 'x.safetensors'), t), /ENOENT/);
    assert.deepEqual(readdirSync(dir), ['model.safetensors']);

    // Failure at the rename (the target is a folder): the temporary file is removed.
    mkdirSync(path.join(dir, 'taken.safetensors'));
    await assert.rejects(writeSafetensors(path.join(dir, 'taken.safetensors'), t));
    assert.deepEqual(readdirSync(dir).sort(), ['model.safetensors', 'taken.safetensors']);
    assert.deepEqual(readdirSync(path.join(dir, 'taken.safetensors')), []);

    // Failure before writing (a disposed tensor): nothing is created, the old file is intact.
    const gone = tidy(() => randn([2]));
    gone.dispose();
    await assert.rejects(writeSafetensors(file, { w: gone }), ArgumentError);
    assert.deepEqual(readdirSync(dir).sort(), ['model.safetensors', 'taken.safetensors']);
    const again = readSafetensorsSync(file);
    assert.deepEqual(again.tensors.get('w')!.shape, [2]);
    disposeMap(again.tensors);
    t.w.dispose();
    t2.w.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
