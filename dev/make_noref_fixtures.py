#!/usr/bin/python3
"""Reference values for the no-reference metrics of src/eval (niqe.ts, brisque.ts).

Run with Debian's python: /usr/bin/python3 dev/make_noref_fixtures.py
Needs numpy, scipy, PIL, torch (python3-torch, used by BasicSR's imresize) and cv2 with the contrib
quality module (python3-opencv) plus the BRISQUE model of opencv-data
(/usr/share/opencv4/quality): apt-get install python3-opencv python3-scipy opencv-data.

Writes tests/fixtures/noref/*.png (the images) and tests/fixtures/noref/expected.json.

Images: real photos from the MIT-licensed demo folder of @vladmandic/face-api (node_modules, the
same source as examples/): two 192x192 scene crops (one clean, one JPEG q20 and one blurred) and
64x64 face crops (the frames `facesr data harvest --detector ssd` cut from sample1/sample5, area
resized with PIL's BOX filter), each also as the 'bicubic' output of its 16x16 reduction and one
with noise and one grayscale. All are saved as PNG so that both sides decode the same pixels.

NIQE reference: BasicSR's calculate_niqe / niqe / compute_feature / estimate_aggd_param
(XPixelGroup/BasicSR basicsr/metrics/niqe.py, the version with MATLAB imresize and rounding),
written out below with the same numpy/scipy calls, imresize = BasicSR's
basicsr/utils/matlab_functions.imresize (torch) copied in structure. Changes: block_size is a
parameter (BasicSR fixes 96; the tests also check 32 for 64x64 faces), and the arithmetic type is a
parameter. Each value is computed twice: 'value' in float64 (MATLAB's double arithmetic, what
niqe.ts does) and 'basicsr_float32' with BasicSR's own float32 planes, where the local variance
E[x^2] - mu^2 of smooth regions loses digits to cancellation and the AGGD shape can move by a
few grid steps.
Pristine model: ../shared/data/metrics/niqe_pristine_params.json (BasicSR's niqe_pris_params.npz).

BRISQUE reference: OpenCV's own implementation, cv2.quality.QualityBRISQUE_compute and
QualityBRISQUE_computeFeatures (opencv_contrib quality module, Debian 4.6), with the LIVE model files
of opencv-data. The script also re-computes the score from OpenCV's features with a numpy transcription
of the range scaling and the RBF epsilon-SVR (the steps src/eval/brisque.ts implements) and checks
that it agrees with OpenCV's score.
"""
import json
import math
import os

import cv2
import numpy as np
import torch
from PIL import Image, ImageFilter
from scipy.ndimage import convolve
from scipy.special import gamma

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(ROOT, 'tests', 'fixtures', 'noref')
DEMO = os.path.join(ROOT, 'node_modules', '@vladmandic', 'face-api', 'demo')
NIQE_PARAMS = os.path.normpath(os.path.join(ROOT, '..', 'shared', 'data', 'metrics', 'niqe_pristine_params.json'))
BRISQUE_DIR = '/usr/share/opencv4/quality'
BRISQUE_MODEL = os.path.join(BRISQUE_DIR, 'brisque_model_live.yml')
BRISQUE_RANGE = os.path.join(BRISQUE_DIR, 'brisque_range_live.yml')

# Frames (x, y, side) of faces found by `facesr data harvest --detector ssd` on the demo photos.
FACES = [
    ('sample1.jpg', 368, 337, 269),
    ('sample1.jpg', 804, 404, 255),
    ('sample5.jpg', 747, 94, 237),
    ('sample5.jpg', 541, 397, 279),
]


# ---- BasicSR: matlab_functions.imresize (torch) ----------------------------------------------

def cubic(x):
    absx = torch.abs(x)
    absx2 = absx**2
    absx3 = absx**3
    return (1.5 * absx3 - 2.5 * absx2 + 1) * ((absx <= 1).type_as(absx)) + (
        -0.5 * absx3 + 2.5 * absx2 - 4 * absx + 2) * (((absx > 1) * (absx <= 2)).type_as(absx))


def calculate_weights_indices(in_length, out_length, scale, kernel_width, antialiasing, dtype=torch.float32):
    if (scale < 1) and antialiasing:
        kernel_width = kernel_width / scale
    x = torch.linspace(1, out_length, out_length, dtype=dtype)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = torch.floor(u - kernel_width / 2)
    p = math.ceil(kernel_width) + 2
    indices = left.view(out_length, 1).expand(out_length, p) + torch.linspace(0, p - 1, p, dtype=dtype).view(1, p).expand(
        out_length, p)
    distance_to_center = u.view(out_length, 1).expand(out_length, p) - indices
    if (scale < 1) and antialiasing:
        weights = scale * cubic(distance_to_center * scale)
    else:
        weights = cubic(distance_to_center)
    weights_sum = torch.sum(weights, 1).view(out_length, 1)
    weights = weights / weights_sum.expand(out_length, p)
    weights_zero_tmp = torch.sum((weights == 0), 0)
    if not math.isclose(weights_zero_tmp[0], 0, rel_tol=1e-6):
        indices = indices.narrow(1, 1, p - 2)
        weights = weights.narrow(1, 1, p - 2)
    if not math.isclose(weights_zero_tmp[-1], 0, rel_tol=1e-6):
        indices = indices.narrow(1, 0, p - 2)
        weights = weights.narrow(1, 0, p - 2)
    weights = weights.contiguous()
    indices = indices.contiguous()
    sym_len_s = -indices.min() + 1
    sym_len_e = indices.max() - in_length
    indices = indices + sym_len_s - 1
    return weights, indices, int(sym_len_s), int(sym_len_e)


@torch.no_grad()
def imresize(img, scale, antialiasing=True, dtype=torch.float32):
    """BasicSR's imresize for a 2-D numpy image (the case NIQE uses); dtype float32 as BasicSR, or float64."""
    img = torch.from_numpy(img[None].copy()).to(dtype)
    in_c, in_h, in_w = img.size()
    out_h, out_w = math.ceil(in_h * scale), math.ceil(in_w * scale)
    weights_h, indices_h, sym_len_hs, sym_len_he = calculate_weights_indices(in_h, out_h, scale, 4, antialiasing, dtype)
    weights_w, indices_w, sym_len_ws, sym_len_we = calculate_weights_indices(in_w, out_w, scale, 4, antialiasing, dtype)
    img_aug = torch.empty(in_c, in_h + sym_len_hs + sym_len_he, in_w, dtype=dtype)
    img_aug.narrow(1, sym_len_hs, in_h).copy_(img)
    sym_patch = img[:, :sym_len_hs, :]
    inv_idx = torch.arange(sym_patch.size(1) - 1, -1, -1).long()
    img_aug.narrow(1, 0, sym_len_hs).copy_(sym_patch.index_select(1, inv_idx))
    sym_patch = img[:, -sym_len_he:, :]
    inv_idx = torch.arange(sym_patch.size(1) - 1, -1, -1).long()
    img_aug.narrow(1, sym_len_hs + in_h, sym_len_he).copy_(sym_patch.index_select(1, inv_idx))
    out_1 = torch.empty(in_c, out_h, in_w, dtype=dtype)
    kw = weights_h.size(1)
    for i in range(out_h):
        idx = int(indices_h[i][0])
        for j in range(in_c):
            out_1[j, i, :] = img_aug[j, idx:idx + kw, :].transpose(0, 1).mv(weights_h[i])
    out_1_aug = torch.empty(in_c, out_h, in_w + sym_len_ws + sym_len_we, dtype=dtype)
    out_1_aug.narrow(2, sym_len_ws, in_w).copy_(out_1)
    sym_patch = out_1[:, :, :sym_len_ws]
    inv_idx = torch.arange(sym_patch.size(2) - 1, -1, -1).long()
    out_1_aug.narrow(2, 0, sym_len_ws).copy_(sym_patch.index_select(2, inv_idx))
    sym_patch = out_1[:, :, -sym_len_we:]
    inv_idx = torch.arange(sym_patch.size(2) - 1, -1, -1).long()
    out_1_aug.narrow(2, sym_len_ws + in_w, sym_len_we).copy_(sym_patch.index_select(2, inv_idx))
    out_2 = torch.empty(in_c, out_h, out_w, dtype=dtype)
    kw = weights_w.size(1)
    for i in range(out_w):
        idx = int(indices_w[i][0])
        for j in range(in_c):
            out_2[j, :, i] = out_1_aug[j, :, idx:idx + kw].mv(weights_w[i])
    return out_2.squeeze(0).numpy()


# ---- BasicSR: metrics/niqe.py ----------------------------------------------------------------

def estimate_aggd_param(block):
    block = block.flatten()
    gam = np.arange(0.2, 10.001, 0.001)  # len = 9801
    gam_reciprocal = np.reciprocal(gam)
    r_gam = np.square(gamma(gam_reciprocal * 2)) / (gamma(gam_reciprocal) * gamma(gam_reciprocal * 3))
    left_std = np.sqrt(np.mean(block[block < 0]**2))
    right_std = np.sqrt(np.mean(block[block > 0]**2))
    gammahat = left_std / right_std
    rhat = (np.mean(np.abs(block)))**2 / np.mean(block**2)
    rhatnorm = (rhat * (gammahat**3 + 1) * (gammahat + 1)) / ((gammahat**2 + 1)**2)
    array_position = np.argmin((r_gam - rhatnorm)**2)
    alpha = gam[array_position]
    beta_l = left_std * np.sqrt(gamma(1 / alpha) / gamma(3 / alpha))
    beta_r = right_std * np.sqrt(gamma(1 / alpha) / gamma(3 / alpha))
    return (alpha, beta_l, beta_r)


def compute_feature(block):
    feat = []
    alpha, beta_l, beta_r = estimate_aggd_param(block)
    feat.extend([alpha, (beta_l + beta_r) / 2])
    shifts = [[0, 1], [1, 0], [1, 1], [1, -1]]
    for i in range(len(shifts)):
        shifted_block = np.roll(block, shifts[i], axis=(0, 1))
        alpha, beta_l, beta_r = estimate_aggd_param(block * shifted_block)
        mean = (beta_r - beta_l) * (gamma(2 / alpha) / gamma(1 / alpha))
        feat.extend([alpha, mean, beta_l, beta_r])
    return feat


def niqe(img, mu_pris_param, cov_pris_param, gaussian_window, block_size_h=96, block_size_w=96):
    assert img.ndim == 2
    h, w = img.shape
    num_block_h = math.floor(h / block_size_h)
    num_block_w = math.floor(w / block_size_w)
    img = img[0:num_block_h * block_size_h, 0:num_block_w * block_size_w]
    distparam = []
    for scale in (1, 2):
        mu = convolve(img, gaussian_window, mode='nearest')
        sigma = np.sqrt(np.abs(convolve(np.square(img), gaussian_window, mode='nearest') - np.square(mu)))
        img_nomalized = (img - mu) / (sigma + 1)
        feat = []
        for idx_w in range(num_block_w):
            for idx_h in range(num_block_h):
                block = img_nomalized[idx_h * block_size_h // scale:(idx_h + 1) * block_size_h // scale,
                                      idx_w * block_size_w // scale:(idx_w + 1) * block_size_w // scale]
                feat.append(compute_feature(block))
        distparam.append(np.array(feat))
        if scale == 1:
            img = imresize(img / 255., scale=0.5, antialiasing=True,
                           dtype=torch.float64 if img.dtype == np.float64 else torch.float32)
            img = img * 255.
    distparam = np.concatenate(distparam, axis=1)
    mu_distparam = np.nanmean(distparam, axis=0)
    distparam_no_nan = distparam[~np.isnan(distparam).any(axis=1)]
    cov_distparam = np.cov(distparam_no_nan, rowvar=False)
    invcov_param = np.linalg.pinv((cov_pris_param + cov_distparam) / 2)
    quality = np.matmul(
        np.matmul((mu_pris_param - mu_distparam), invcov_param), np.transpose((mu_pris_param - mu_distparam)))
    quality = np.sqrt(quality)
    return float(np.squeeze(quality)), mu_distparam


def to_y_channel_rgb(img):
    """BasicSR's to_y_channel for an RGB float32 image in [0, 255] (bgr2ycbcr with the weights in RGB order)."""
    img = img.astype(np.float32) / 255.
    out = np.dot(img, [65.481, 128.553, 24.966]) + 16.0
    out /= 255.
    return out.astype(np.float32)[..., None] * 255.


def calculate_niqe(img_rgb, params, crop_border=0, block_size=96, dtype=np.float32):
    """BasicSR's calculate_niqe; dtype float32 is BasicSR's arithmetic, float64 MATLAB's (double)."""
    img = img_rgb.astype(np.float32)
    img = to_y_channel_rgb(img)
    img = np.squeeze(img)
    if crop_border != 0:
        img = img[crop_border:-crop_border, crop_border:-crop_border]
    img = img.round().astype(dtype)
    return niqe(img, params['mu'], params['cov'], params['window'], block_size, block_size)


# ---- BRISQUE -----------------------------------------------------------------------------------

def read_brisque_model():
    fs = cv2.FileStorage(BRISQUE_RANGE, cv2.FILE_STORAGE_READ)
    rng = fs.getNode('range').mat()
    svm = cv2.ml.SVM_load(BRISQUE_MODEL)
    return svm, rng


def brisque_from_features(feat, svm, rng):
    """Range scaling to [-1, 1] and the RBF epsilon-SVR, as brisque.ts does them."""
    f = np.asarray(feat, np.float64)
    lo, hi = rng[0].astype(np.float64), rng[1].astype(np.float64)
    x = -1 + 2 * (f - lo) / (hi - lo)
    sv = svm.getSupportVectors().astype(np.float64)
    alpha, svidx = svm.getDecisionFunction(0)[1:3]
    rho = svm.getDecisionFunction(0)[0]
    g = svm.getGamma()
    k = np.exp(-g * np.sum((sv - x[None]) ** 2, axis=1))
    s = float(np.dot(alpha.ravel(), k[svidx.ravel()]) - rho)
    return min(max(s, 0.0), 100.0)


def brisque(img_rgb, svm, rng):
    bgr = np.ascontiguousarray(img_rgb[..., ::-1])
    score = float(cv2.quality.QualityBRISQUE_compute(bgr, BRISQUE_MODEL, BRISQUE_RANGE)[0])
    feat = cv2.quality.QualityBRISQUE_computeFeatures(bgr).ravel().astype(np.float64)
    port = brisque_from_features(feat, svm, rng)
    assert abs(port - score) < 2e-3, f'SVR transcription {port} vs OpenCV {score}'
    return score, feat


# ---- images ------------------------------------------------------------------------------------

def save(name, arr):
    Image.fromarray(arr).save(os.path.join(OUT, name), optimize=True)
    return name


def make_images():
    imgs = []
    s1 = Image.open(os.path.join(DEMO, 'sample1.jpg')).convert('RGB')
    s5 = Image.open(os.path.join(DEMO, 'sample5.jpg')).convert('RGB')
    # scenes: a 192x192 crop of each photo reduced to 640 px wide
    a = np.asarray(s1.resize((640, 427), Image.BOX).crop((120, 100, 312, 292)))
    b = np.asarray(s5.resize((640, 466), Image.BOX).crop((240, 30, 432, 222)))
    imgs.append(('scene', save('scene_a.png', a)))
    buf = os.path.join(OUT, '_tmp.jpg')
    Image.fromarray(b).save(buf, quality=20)
    bj = np.asarray(Image.open(buf).convert('RGB'))
    os.remove(buf)
    imgs.append(('scene', save('scene_b_jpeg20.png', bj)))
    blur = np.asarray(Image.fromarray(a).filter(ImageFilter.GaussianBlur(1.5)))
    imgs.append(('scene', save('scene_a_blur.png', blur)))
    rng = np.random.default_rng(0)
    for i, (src, x, y, side) in enumerate(FACES):
        im = s1 if src == 'sample1.jpg' else s5
        face = im.crop((x, y, x + side, y + side)).resize((64, 64), Image.BOX)
        f = np.asarray(face)
        imgs.append(('face', save(f'face{i}.png', f)))
        lr = face.resize((16, 16), Image.BOX)
        up = np.asarray(lr.resize((64, 64), Image.BICUBIC))
        imgs.append(('face', save(f'face{i}_bicubic.png', up)))
        if i == 0:
            noisy = np.clip(f.astype(np.float64) + rng.normal(0, 12, f.shape), 0, 255).round().astype(np.uint8)
            imgs.append(('face', save('face0_noise.png', noisy)))
        if i == 1:
            g = np.asarray(face.convert('L'))
            imgs.append(('face', save('face1_gray.png', np.repeat(g[..., None], 3, axis=2))))
    return imgs


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(NIQE_PARAMS) as fh:
        p = json.load(fh)
    params = {
        'mu': np.array(p['mu_pris_param'], np.float64),
        'cov': np.array(p['cov_pris_param'], np.float64),
        'window': np.array(p['gaussian_window'], np.float64),
    }
    svm, rng = read_brisque_model()
    out = {
        'about': 'dev/make_noref_fixtures.py: NIQE = BasicSR niqe.py (numpy/scipy, torch imresize); '
                 'BRISQUE = OpenCV quality module ' + cv2.__version__ + ' with opencv-data LIVE model',
        'images': [],
    }
    for kind, name in make_images():
        arr = np.asarray(Image.open(os.path.join(OUT, name)).convert('RGB'))
        rec = {'file': name, 'width': arr.shape[1], 'height': arr.shape[0], 'niqe': {}}
        blocks = [96, 32] if kind == 'scene' else [32]
        for bs in blocks:
            q32, mu32 = calculate_niqe(arr, params, 0, bs, np.float32)
            q, mu = calculate_niqe(arr, params, 0, bs, np.float64)
            rec['niqe'][str(bs)] = {
                'value': q,
                'mean_features': [float(v) for v in mu],
                'basicsr_float32': q32,
                'basicsr_float32_mean_features': [float(v) for v in mu32],
            }
        score, feat = brisque(arr, svm, rng)
        rec['brisque'] = {'score': score, 'features': [float(v) for v in feat]}
        out['images'].append(rec)
        print(name, {k: (round(v['value'], 4), round(v['basicsr_float32'], 4)) for k, v in rec['niqe'].items()},
              'brisque', round(score, 4))
    # MATLAB-style imresize by 0.5 of a small ramp-plus-noise plane (odd size), for the port's unit test
    r = np.random.default_rng(1)
    plane = (np.add.outer(np.arange(13), 2 * np.arange(11)) * 5 + r.uniform(0, 40, (13, 11))).astype(np.float32)
    out['imresize_half'] = {
        'input': plane.round(3).tolist(),
        'output': imresize(plane.round(3).astype(np.float32), 0.5).astype(np.float64).tolist(),
    }
    with open(os.path.join(OUT, 'expected.json'), 'w') as fh:
        json.dump(out, fh, indent=1)
        fh.write('\n')


if __name__ == '__main__':
    main()
