// Tensor-layer behaviour that needs no PyTorch reference: dtypes, images, tidy scopes, disposal,
// error messages, grad modes, seeding and a leak check of a small training loop.
import test from 'node:test';
import assert from 'node:assert/strict';
import {
  F,
  Tensor,
  dispose,
  enableGrad,
  fromBytes,
  fromTypedArray,
  full,
  getRngState,
  imageToTensor,
  inferenceMode,
  isGradEnabled,
  keep,
  liveTensors,
  manualSeed,
  noGrad,
  ones,
  rand,
  randint,
  randn,
  randperm,
  setRngState,
  tensor,
  tensorToImage,
  tidy,
  zeros,
} from '../src/tensor/index.js';
import { assertClose } from './helpers/compare.js';

/** Deterministic bytes (LCG) so failures reproduce. */
function pseudoRandomBytes(n: number, seed = 12345): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

/** Elements of a non-int64 tensor as plain numbers. */
function nums(t: Tensor): number[] {
  return Array.from(t.data() as ArrayLike<number>);
}

function f32Bits(v: number): number {
  const f = new Float32Array([v]);
  return new Uint32Array(f.buffer)[0]!;
}

// ---------------------------------------------------------------------------------------------
// dtypes
// ---------------------------------------------------------------------------------------------

test('dtype round trip: float32', () =>
  tidy(() => {
    const src = Float32Array.from([0, -0, 1.5, -3.25, 1e-30, 3.4e38, Math.PI, -1e-7]);
    const t = fromTypedArray(src, [2, 4]);
    assert.equal(t.dtype, 'float32');
    assert.deepEqual(t.shape, [2, 4]);
    assert.deepEqual(t.data(), src);
    assert.deepEqual(t.reshape(4, 2).shape, [4, 2]);
    const s = tensor(3.5);
    assert.deepEqual(s.shape, []);
    assert.equal(s.item(), 3.5);
    assert.deepEqual(tensor([[1, 2, 3]]).toArray(), [[1, 2, 3]]);
  }));

test('dtype round trip: float16 (raw bits in Uint16Array)', () =>
  tidy(() => {
    const values = [0, 1, -2, 0.5, 65504, 2 ** -14, 2 ** -24, -1.5];
    const bits = [0x0000, 0x3c00, 0xc000, 0x3800, 0x7bff, 0x0400, 0x0001, 0xbe00];
    const t = tensor(values, { dtype: 'float16' });
    assert.equal(t.dtype, 'float16');
    assert.deepEqual(t.shape, [8]);
    assert.deepEqual(nums(t), bits);
    assert.deepEqual(Array.from(t.toFloat32Array()), values);
    // A Uint16Array is read as float16 bits.
    const back = fromTypedArray(Uint16Array.from(bits), [2, 4]);
    assert.equal(back.dtype, 'float16');
    assert.deepEqual(back.shape, [2, 4]);
    assert.deepEqual(Array.from(back.toFloat32Array()), values);
    // Rounding to nearest: 1/3 -> 0x3555 = 0.333251953125.
    const third = tensor([1 / 3], { dtype: 'float16' });
    assert.equal((third.data() as Uint16Array)[0], 0x3555);
    assert.equal(third.toFloat32Array()[0], 0.333251953125);
  }));

test('dtype round trip: bfloat16 (upper half of float32 bits)', () =>
  tidy(() => {
    const values = [1, -2, 0.5, 3.140625, -65536, 2 ** -100, 0];
    const bits = values.map((v) => f32Bits(v) >>> 16);
    const t = tensor(values, { dtype: 'bfloat16' });
    assert.equal(t.dtype, 'bfloat16');
    assert.deepEqual(t.shape, [7]);
    assert.deepEqual(nums(t), bits);
    assert.deepEqual(Array.from(t.toFloat32Array()), values.map(Math.fround));
    const back = fromBytes(t.bytes(), [7], 'bfloat16');
    assert.equal(back.dtype, 'bfloat16');
    assert.deepEqual(nums(back), bits);
  }));

test('dtype round trip: int64 keeps values beyond 2^53', () =>
  tidy(() => {
    const src = BigInt64Array.from([0n, -1n, 2n ** 53n + 1n, -(2n ** 63n), 2n ** 63n - 1n, 42n]);
    const t = fromTypedArray(src, [3, 2]);
    assert.equal(t.dtype, 'int64');
    assert.deepEqual(t.shape, [3, 2]);
    assert.deepEqual(t.data(), src);
    const small = tensor([1, -2, 3], { dtype: 'int64' });
    assert.deepEqual(small.data(), BigInt64Array.from([1n, -2n, 3n]));
    // float -> int64 truncates toward zero, as in PyTorch.
    assert.deepEqual(tensor([-1.7, 1.7, 2.5]).to('int64').data(), BigInt64Array.from([-1n, 1n, 2n]));
  }));

test('dtype round trip: int32', () =>
  tidy(() => {
    const src = Int32Array.from([-2147483648, 2147483647, 0, 7, -7, 123456]);
    const t = fromTypedArray(src, [2, 3]);
    assert.equal(t.dtype, 'int32');
    assert.deepEqual(t.shape, [2, 3]);
    assert.deepEqual(t.data(), src);
    assert.deepEqual(Array.from(t.toFloat32Array()), Array.from(src, Math.fround));
  }));

test('dtype round trip: uint8', () =>
  tidy(() => {
    const src = pseudoRandomBytes(4 * 5 * 3);
    const t = fromTypedArray(src, [4, 5, 3]);
    assert.equal(t.dtype, 'uint8');
    assert.deepEqual(t.shape, [4, 5, 3]);
    assert.deepEqual(t.data(), src);
    assert.deepEqual(t.to('float32').to('uint8').data(), src);
  }));

test('dtype round trip: bool', () =>
  tidy(() => {
    const src = Uint8Array.from([1, 0, 0, 1, 1, 0]);
    const t = fromBytes(src, [2, 3], 'bool');
    assert.equal(t.dtype, 'bool');
    assert.deepEqual(t.shape, [2, 3]);
    assert.deepEqual(t.data(), src);
    assert.deepEqual(nums(t.logicalNot()), [0, 1, 1, 0, 0, 1]);
    assert.deepEqual(nums(t.to('float32')), [1, 0, 0, 1, 1, 0]);
    assert.equal(full([2], true).dtype, 'bool');
    const cmp = tensor([1, 2, 3]).gt(1.5);
    assert.equal(cmp.dtype, 'bool');
    assert.deepEqual(nums(cmp), [0, 1, 1]);
  }));

test('fromBytes with a byte count that does not fit the shape throws', () =>
  tidy(() => {
    assert.throws(
      () => fromBytes(new Uint8Array(10), [3], 'float32'),
      /needs 12 bytes but the buffer has 10/,
    );
  }));

// ---------------------------------------------------------------------------------------------
// images
// ---------------------------------------------------------------------------------------------

for (const channels of [1, 3, 4]) {
  for (const range of ['0,1', '-1,1'] as const) {
    test(`imageToTensor/tensorToImage round trip is exact (${channels} channels, range ${range})`, () =>
      tidy(() => {
        const [width, height] = [7, 5];
        const pixels = pseudoRandomBytes(width * height * channels, 7 + channels);
        const t = imageToTensor(pixels, { width, height, channels }, { range });
        assert.deepEqual(t.shape, [1, channels, height, width]);
        assert.equal(t.dtype, 'float32');
        // HWC (y=2, x=4, c=last) lands at [0, c, 2, 4].
        const c = channels - 1;
        const v = pixels[(2 * width + 4) * channels + c]!;
        const got = t.select(0, 0).select(0, c).select(0, 2).select(0, 4).item();
        const want = range === '0,1' ? v / 255 : (v * 2) / 255 - 1;
        assert.ok(Math.abs(got - want) < 1e-6, `pixel value ${got} vs ${want}`);
        const img = tensorToImage(t, { range });
        assert.deepEqual([img.width, img.height, img.channels], [width, height, channels]);
        assert.deepEqual(img.pixels, pixels);
        // [C, H, W] input works too.
        assert.deepEqual(tensorToImage(t.squeeze(0), { range }).pixels, pixels);
      }));
  }
}

test('image round trip covers all 256 byte values in both ranges', () =>
  tidy(() => {
    const pixels = Uint8Array.from({ length: 256 }, (_, i) => i);
    for (const range of ['0,1', '-1,1'] as const) {
      const t = imageToTensor(pixels, { width: 256, height: 1, channels: 1 }, { range });
      assert.deepEqual(tensorToImage(t, { range }).pixels, pixels, `range ${range}`);
    }
  }));

test('imageToTensor with the wrong byte count names both counts', () => {
  assert.throws(
    () => imageToTensor(new Uint8Array(10), { width: 2, height: 2, channels: 3 }),
    /needs 12 bytes but received 10/,
  );
});

// ---------------------------------------------------------------------------------------------
// tidy, keep, dispose
// ---------------------------------------------------------------------------------------------

test('tidy disposes intermediates and keeps the returned tensor', () => {
  const before = liveTensors();
  let a: Tensor | undefined;
  let b: Tensor | undefined;
  const r = tidy(() => {
    a = ones([2, 2]);
    b = a.add(1);
    return b.mul(3);
  });
  assert.equal(liveTensors(), before + 1);
  assert.ok(a!.isDisposed && b!.isDisposed);
  assert.ok(!r.isDisposed);
  assert.deepEqual(nums(r), [6, 6, 6, 6]);
  r.dispose();
  assert.equal(liveTensors(), before);
});

test('tidy keeps tensors inside returned arrays, objects and Maps', () => {
  const before = liveTensors();
  const r = tidy(() => {
    const x = zeros([1]);
    const y = ones([2]);
    const z = x.add(y);
    zeros([3]); // dropped
    const m = new Map([['w', full([1], 2)]]);
    return { x, list: [y, z], n: 3, m };
  });
  assert.equal(liveTensors(), before + 4);
  assert.equal(r.n, 3);
  dispose(r);
  assert.ok(r.x.isDisposed && r.list[0]!.isDisposed && r.list[1]!.isDisposed && r.m.get('w')!.isDisposed);
  assert.equal(liveTensors(), before);
});

test('nested tidy: the inner result moves to the outer scope; keep() outlives every scope', () => {
  const before = liveTensors();
  let inner: Tensor | undefined;
  let kept: Tensor | undefined;
  const outer = tidy(() => {
    inner = tidy(() => ones([2]).mul(2));
    assert.equal(liveTensors(), before + 1);
    kept = keep(zeros([1]));
    return inner.add(1);
  });
  assert.ok(inner!.isDisposed, 'inner result is disposed by the outer scope');
  assert.ok(!kept!.isDisposed);
  assert.equal(liveTensors(), before + 2);
  outer.dispose();
  kept!.dispose();
  assert.equal(liveTensors(), before);
});

test('tidy disposes everything when fn throws, and refuses a Promise', () => {
  const before = liveTensors();
  assert.throws(
    () =>
      tidy(() => {
        ones([3]).add(1);
        throw new Error('boom');
      }),
    /boom/,
  );
  assert.equal(liveTensors(), before);
  assert.throws(
    () =>
      tidy(() => {
        ones([3]);
        return Promise.resolve(1);
      }),
    /returned a Promise/,
  );
  assert.equal(liveTensors(), before);
});

test("using a disposed tensor throws 'Tensor used after dispose()'", () => {
  const before = liveTensors();
  const t = ones([2, 2]);
  t.dispose();
  t.dispose(); // idempotent
  assert.equal(liveTensors(), before);
  assert.ok(t.isDisposed);
  assert.throws(() => t.add(1), /Tensor used after dispose\(\)/);
  assert.throws(() => t.shape, /Tensor used after dispose\(\)/);
  assert.throws(() => t.data(), /Tensor used after dispose\(\)/);
  tidy(() => {
    const u = ones([2, 2]);
    assert.throws(() => u.add(t), /Tensor used after dispose\(\)/);
    assert.throws(() => F.conv2d(t, u), /Tensor used after dispose\(\)/);
  });
  assert.equal(liveTensors(), before);
});

test('a view stays valid after its base is disposed', () =>
  tidy(() => {
    const base = tensor([1, 2, 3, 4]);
    const view = base.slice(0, 1, 3);
    base.dispose();
    assert.deepEqual(nums(view), [2, 3]);
  }));

// ---------------------------------------------------------------------------------------------
// error messages
// ---------------------------------------------------------------------------------------------

test("a libtorch shape error surfaces as a JS Error carrying libtorch's message", () => {
  const before = liveTensors();
  tidy(() => {
    const x = randn([1, 5, 8, 8]);
    const w = randn([4, 3, 3, 3]);
    assert.throws(
      () => F.conv2d(x, w),
      (e: unknown) => {
        assert.ok(e instanceof Error, 'an Error');
        assert.match(e.message, /expected input\[1, 5, 8, 8\] to have 3 channels, but got 5 channels/);
        return true;
      },
    );
    assert.throws(
      () => randn([2, 3]).matmul(randn([4, 5])),
      (e: unknown) =>
        e instanceof Error && /mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)/.test(e.message),
    );
  });
  assert.equal(liveTensors(), before, 'a failed op creates no tensor');
});

test('fromTypedArray with a wrong shape names both element counts', () => {
  assert.throws(
    () => fromTypedArray(new Float32Array(5), [2, 3]),
    (e: unknown) => e instanceof Error && /6 elements/.test(e.message) && /has 5/.test(e.message),
  );
});

test('interpolate with both size and scaleFactor (or neither) throws', () =>
  tidy(() => {
    const x = randn([1, 1, 4, 4]);
    assert.throws(() => F.interpolate(x, { size: 8, scaleFactor: 2 }), /exactly one of size and scaleFactor/);
    assert.throws(() => F.interpolate(x, { mode: 'bilinear' }), /exactly one of size and scaleFactor/);
  }));

// ---------------------------------------------------------------------------------------------
// grad modes
// ---------------------------------------------------------------------------------------------

test('noGrad: results do not require grad; the mode is restored, also after a throw', () =>
  tidy(() => {
    const x = randn([3]).requiresGrad_();
    assert.ok(isGradEnabled());
    const y = noGrad(() => {
      assert.equal(isGradEnabled(), false);
      return x.mul(2).add(1);
    });
    assert.equal(y.requiresGrad, false);
    assert.ok(isGradEnabled());
    assert.equal(x.mul(2).requiresGrad, true);
    const z = noGrad(() => enableGrad(() => x.mul(2)));
    assert.equal(z.requiresGrad, true);
    assert.throws(() =>
      noGrad(() => {
        throw new Error('inside');
      }),
    );
    assert.ok(isGradEnabled());
  }));

test('in-place updates of a leaf that requires grad need noGrad', () =>
  tidy(() => {
    const w = ones([2]).requiresGrad_();
    assert.throws(() => w.add_(1), /leaf Variable that requires grad/);
    noGrad(() => w.add_(1));
    assert.deepEqual(nums(w), [2, 2]);
    assert.ok(w.requiresGrad && w.isLeaf);
  }));

test('inferenceMode: results do not require grad and cannot be saved for backward', () =>
  tidy(() => {
    const x = randn([3]).requiresGrad_();
    const y = inferenceMode(() => {
      assert.equal(isGradEnabled(), false);
      return x.mul(2);
    });
    assert.equal(y.requiresGrad, false);
    assert.ok(isGradEnabled());
    assert.throws(() => y.mul(x), /Inference tensors cannot be saved for backward/);
    // A clone outside inference mode is a normal tensor again.
    const c = y.clone();
    const g = c.mul(x).sum();
    g.backward();
    assertClose(x.grad!, c.toFloat32Array(), { what: 'grad through a clone of an inference tensor' });
  }));

// ---------------------------------------------------------------------------------------------
// seeding
// ---------------------------------------------------------------------------------------------

test('manualSeed makes random draws repeat exactly and differ for another seed', () =>
  tidy(() => {
    const draw = (seed: number) => {
      manualSeed(seed);
      return [
        randn([100]).bytes(),
        rand([50]).bytes(),
        randint(0, 1000, [20]).bytes(),
        randperm(30).bytes(),
        F.dropout(ones([64]), 0.5).bytes(),
      ];
    };
    const a = draw(42);
    const b = draw(42);
    const c = draw(43);
    for (let k = 0; k < a.length; k++) {
      assert.deepEqual(a[k], b[k], `draw ${k} repeats for the same seed`);
      assert.notDeepEqual(a[k], c[k], `draw ${k} differs for another seed`);
    }
  }));

test('manualSeed(0) + randn match PyTorch (same CPU generator)', () =>
  tidy(() => {
    // /usr/bin/python3: torch.manual_seed(0); torch.randn(4); torch.randn(20)[:3]  (torch 1.13)
    manualSeed(0);
    assertClose(
      randn([4]),
      Float32Array.from([1.5409960746765137, -0.293428897857666, -2.1787893772125244, 0.5684312582015991]),
      {
        what: 'randn(4) after manualSeed(0)',
        rtol: 0,
        atol: 0,
      },
    );
    assertClose(
      randn([20]).slice(0, 0, 3),
      Float32Array.from([-0.35612836480140686, 0.4372227191925049, 0.4913049638271332]),
      {
        what: 'randn(20)[:3]',
        rtol: 0,
        atol: 0,
      },
    );
  }));

test('getRngState/setRngState replay the generator', () =>
  tidy(() => {
    manualSeed(7);
    randn([5]);
    const state = getRngState();
    const a = randn([10]).bytes();
    setRngState(state);
    assert.deepEqual(randn([10]).bytes(), a);
  }));

// ---------------------------------------------------------------------------------------------
// leaks
// ---------------------------------------------------------------------------------------------

test('200 training steps inside tidy return liveTensors() to the baseline exactly', () => {
  manualSeed(1);
  const w = randn([4, 3, 3, 3]).mul_(0.1).requiresGrad_();
  const b = zeros([4]).requiresGrad_();
  const x = randn([2, 3, 8, 8]);
  const target = randn([2, 4, 8, 8]);
  const params = [w, b];
  const baseline = liveTensors();
  const lr = 0.05;
  const losses: number[] = [];
  for (let step = 0; step < 200; step++) {
    const loss = tidy(() => {
      const out = F.conv2d(x, w, b, { padding: 1 }).relu();
      const l = F.mseLoss(out, target);
      l.backward();
      noGrad(() => {
        for (const p of params) p.add_(p.grad!, -lr);
      });
      for (const p of params) p.grad = null;
      return l.item();
    });
    losses.push(loss);
    assert.equal(liveTensors(), baseline, `live tensors after step ${step}`);
  }
  assert.ok(losses[199]! < losses[0]!, `loss decreases: ${losses[0]} -> ${losses[199]}`);
  assert.equal(w.grad, null);
  assert.ok(w.requiresGrad && w.isLeaf);
  dispose([w, b, x, target]);
  assert.equal(liveTensors(), baseline - 4);
});

// ---------------------------------------------------------------------------------------------
// Discrepancies with PyTorch 1.13 found by these tests and fixed in the engine
// ---------------------------------------------------------------------------------------------

test('var/std with correction 2 match PyTorch', () =>
  tidy(() => {
    // torch.var(torch.tensor([1., 2, 3, 4, 10]), dim=None, correction=2) = 50 / 3
    const x = tensor([1, 2, 3, 4, 10]);
    assertClose(x.var(undefined, { correction: 2 }), Float32Array.from([50 / 3]), {
      what: 'var correction 2',
    });
    assertClose(x.std(undefined, { correction: 2 }), Float32Array.from([Math.sqrt(50 / 3)]), {
      what: 'std correction 2',
    });
  }));

test('argmax without dim but keepdim keeps every dim as 1 (torch.argmax(x, None, True))', () =>
  tidy(() => {
    assert.deepEqual(randn([2, 3]).argmax(undefined, true).shape, [1, 1]);
  }));

test('interpolate rejects antialias for modes other than bilinear and bicubic', () =>
  tidy(() => {
    assert.throws(
      () => F.interpolate(randn([1, 1, 4, 4]), { mode: 'nearest', size: 2, antialias: true }),
      /antialias only applies to bilinear and bicubic, not 'nearest'/,
    );
  }));
