#!/usr/bin/python3
"""Golden values for src/eval/metrics.ts: BasicSR's calculate_psnr / calculate_ssim written out in numpy.

Run with Debian's python (numpy, PIL): /usr/bin/python3 dev/make_eval_fixtures.py
Writes tests/fixtures/eval_metrics.json and the synthetic PNG pairs tests/fixtures/eval_metrics/*.png.

The formulas follow XPixelGroup/BasicSR basicsr/metrics/psnr_ssim.py and basicsr/utils/color_util.py
(calculate_psnr, calculate_ssim, _ssim, to_y_channel, bgr2ycbcr) with one change: images here are RGB,
so the Y weights are applied in RGB order (BasicSR reads BGR with cv2 and uses bgr2ycbcr; the Y value
of a pixel is the same). cv2.filter2D(img, -1, window)[5:-5, 5:-5] is a 'valid' correlation with the
11x11 window, written here directly (the border mode of filter2D never reaches the kept region).

Real-image pairs: CelebA crops from ../shared/data/hr/celeba (never copied into the repository; only
the file names, a checksum of the decoded pixels and the expected numbers are stored). The test
decodes the same files and skips a pair when its decoded pixels differ from PIL's (checksum).
"""
import json
import os

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT_JSON = os.path.join(ROOT, 'tests', 'fixtures', 'eval_metrics.json')
OUT_DIR = os.path.join(ROOT, 'tests', 'fixtures', 'eval_metrics')
SHARED = os.path.normpath(os.path.join(ROOT, '..', 'shared', 'data', 'hr', 'celeba'))


# ---- BasicSR (RGB order) ---------------------------------------------------------------------

def rgb2ycbcr_y(img):
    """bgr2ycbcr(img, y_only=True) for a float32 image in [0, 1], with RGB channel order."""
    img_type = img.dtype  # float32
    out = np.dot(img, [65.481, 128.553, 24.966]) + 16.0
    out /= 255.  # _convert_output_img_type for float32
    return out.astype(img_type)


def to_y_channel(img):
    img = img.astype(np.float32) / 255.
    if img.ndim == 3 and img.shape[2] == 3:
        img = rgb2ycbcr_y(img)
        img = img[..., None]
    return img * 255.


def calculate_psnr(img, img2, crop_border=0, test_y_channel=False):
    assert img.shape == img2.shape
    img = img.astype(np.float64)
    img2 = img2.astype(np.float64)
    if crop_border != 0:
        img = img[crop_border:-crop_border, crop_border:-crop_border, ...]
        img2 = img2[crop_border:-crop_border, crop_border:-crop_border, ...]
    if test_y_channel:
        img = to_y_channel(img)
        img2 = to_y_channel(img2)
    img = img.astype(np.float64)
    img2 = img2.astype(np.float64)
    mse = np.mean((img - img2) ** 2)
    if mse == 0:
        return float('inf')
    return 10. * np.log10(255. * 255. / mse)


def gaussian_kernel(size, sigma):
    """cv2.getGaussianKernel(size, sigma) (sigma > 0): normalised exp(-(i - c)^2 / (2 sigma^2))."""
    c = (size - 1) / 2
    k = np.exp(-((np.arange(size) - c) ** 2) / (2 * sigma * sigma))
    return (k / k.sum()).reshape(size, 1)


def filter_valid(img, window):
    k = window.shape[0]
    h, w = img.shape
    out = np.zeros((h - k + 1, w - k + 1), dtype=np.float64)
    for dy in range(k):
        for dx in range(k):
            out += window[dy, dx] * img[dy:dy + h - k + 1, dx:dx + w - k + 1]
    return out


def _ssim(img, img2):
    c1 = (0.01 * 255) ** 2
    c2 = (0.03 * 255) ** 2
    img = img.astype(np.float64)
    img2 = img2.astype(np.float64)
    kernel = gaussian_kernel(11, 1.5)
    window = np.outer(kernel, kernel.transpose())
    mu1 = filter_valid(img, window)
    mu2 = filter_valid(img2, window)
    mu1_sq = mu1 ** 2
    mu2_sq = mu2 ** 2
    mu1_mu2 = mu1 * mu2
    sigma1_sq = filter_valid(img ** 2, window) - mu1_sq
    sigma2_sq = filter_valid(img2 ** 2, window) - mu2_sq
    sigma12 = filter_valid(img * img2, window) - mu1_mu2
    ssim_map = ((2 * mu1_mu2 + c1) * (2 * sigma12 + c2)) / ((mu1_sq + mu2_sq + c1) * (sigma1_sq + sigma2_sq + c2))
    return ssim_map.mean()


def calculate_ssim(img, img2, crop_border=0, test_y_channel=False):
    assert img.shape == img2.shape
    img = img.astype(np.float64)
    img2 = img2.astype(np.float64)
    if crop_border != 0:
        img = img[crop_border:-crop_border, crop_border:-crop_border, ...]
        img2 = img2[crop_border:-crop_border, crop_border:-crop_border, ...]
    if test_y_channel:
        img = to_y_channel(img)
        img2 = to_y_channel(img2)
    img = img.astype(np.float64)
    img2 = img2.astype(np.float64)
    ssims = [_ssim(img[..., i], img2[..., i]) for i in range(img.shape[2])]
    return float(np.array(ssims).mean())


# ---- cases -------------------------------------------------------------------------------------

def metrics(a, b):
    out = {}
    for cb in (0, 4):
        out[f'crop{cb}'] = {
            'psnr_rgb': calculate_psnr(a, b, cb, False),
            'psnr_y': calculate_psnr(a, b, cb, True),
            'ssim_rgb': calculate_ssim(a, b, cb, False),
            'ssim_y': calculate_ssim(a, b, cb, True),
        }
    return out


def synthetic_pairs():
    rng = np.random.default_rng(20261125)
    pairs = []
    for idx, (h, w) in enumerate([(64, 64), (40, 48), (64, 64)]):
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
        base = np.stack([
            128 + 100 * np.sin(xx / (5 + idx)) * np.cos(yy / 7),
            128 + 90 * np.cos((xx + yy) / 9),
            60 + 150 * ((xx - w / 2) ** 2 + (yy - h / 2) ** 2 < (min(h, w) / 3) ** 2),
        ], axis=2)
        a = np.clip(np.round(base + rng.normal(0, 6, base.shape)), 0, 255).astype(np.uint8)
        if idx == 0:  # noise
            b = np.clip(np.round(a + rng.normal(0, 12, a.shape)), 0, 255).astype(np.uint8)
        elif idx == 1:  # box blur + shift
            f = a.astype(np.float64)
            f = (f + np.roll(f, 1, 0) + np.roll(f, 1, 1) + np.roll(np.roll(f, 1, 0), 1, 1)) / 4
            b = np.clip(np.round(f), 0, 255).astype(np.uint8)
        else:  # contrast change and saturated corners
            b = np.clip(np.round(a.astype(np.float64) * 0.8 + 40), 0, 255).astype(np.uint8)
            b[:8, :8] = 255
            b[-8:, -8:] = 0
        pairs.append((f'synth{idx}', a, b))
    return pairs


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    cases = []
    for name, a, b in synthetic_pairs():
        fa, fb = f'{name}_a.png', f'{name}_b.png'
        Image.fromarray(a).save(os.path.join(OUT_DIR, fa), optimize=True)
        Image.fromarray(b).save(os.path.join(OUT_DIR, fb), optimize=True)
        # re-read to be sure the PNG holds exactly these pixels
        assert (np.asarray(Image.open(os.path.join(OUT_DIR, fa)).convert('RGB')) == a).all()
        cases.append({'name': name, 'kind': 'synthetic', 'a': f'eval_metrics/{fa}', 'b': f'eval_metrics/{fb}',
                      'expected': metrics(a, b)})
    # identical images: psnr inf, ssim 1
    a = synthetic_pairs()[0][1]
    ident = metrics(a, a)
    real = []
    if os.path.isdir(SHARED):
        files = sorted(os.listdir(SHARED))
        chosen = [(files[0], files[1]), (files[5], files[6]), (files[0], files[5])]
        for fa, fb in chosen:
            ia = np.asarray(Image.open(os.path.join(SHARED, fa)).convert('RGB'))
            ib = np.asarray(Image.open(os.path.join(SHARED, fb)).convert('RGB'))
            real.append({'name': f'{fa}~{fb}', 'kind': 'celeba', 'a': fa, 'b': fb,
                         'sum_a': int(ia.astype(np.int64).sum()), 'sum_b': int(ib.astype(np.int64).sum()),
                         'expected': metrics(ia, ib)})
        # flipped copy of one image (a real pair with identical statistics)
        ia = np.asarray(Image.open(os.path.join(SHARED, files[10])).convert('RGB'))
        real.append({'name': f'{files[10]}~flip', 'kind': 'celeba-flip', 'a': files[10], 'b': files[10],
                     'sum_a': int(ia.astype(np.int64).sum()), 'sum_b': int(ia.astype(np.int64).sum()),
                     'expected': metrics(ia, ia[:, ::-1, :].copy())})

    def clean(o):
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, float) and o == float('inf'):
            return 'inf'
        return float(o) if isinstance(o, (np.floating,)) else o

    out = {'source': 'dev/make_eval_fixtures.py (BasicSR psnr_ssim formulas in numpy, RGB order)',
           'identical': clean(ident), 'cases': clean(cases), 'celeba': clean(real)}
    with open(OUT_JSON, 'w') as f:
        json.dump(out, f, indent=1)
        f.write('\n')
    print(f'wrote {OUT_JSON}: {len(cases)} synthetic, {len(real)} CelebA cases')


if __name__ == '__main__':
    main()
