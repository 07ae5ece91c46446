#!/usr/bin/python3
"""Golden fixtures for tests/data-degrade.test.ts (src/data/degrade.ts), computed with PyTorch/numpy.

Run with Debian's python3-torch (the libtorch 1.13 the addon links against) and PIL:

    /usr/bin/python3 dev/make_degrade_fixtures.py

Inputs are real faces from ../shared/data/hr/celeba decoded with PIL (which gives the same bytes as
sharp/readImage for these WebP files; the test checks that when the folder exists). The pixels are
stored as uint8 so the tests need no access to the shared data. Both sides map uint8 to float the
same way as imageToTensor: x / 255 for range '0,1', x * (2/255) - 1 for '-1,1' (float32 ops).

Writes
  tests/fixtures/degrade_interp.safetensors
      img/<name>        uint8 [H, W, 3]
      <case id>         float32 output of F.interpolate; "__metadata__"."cases" lists
                        {id, image, range, mode, antialias, factor | size}
  tests/fixtures/degrade_blur.safetensors
      img/blur          uint8 [3, H, W, 3] three crops (a batch)
      kernel/<id>       float32 [k, k]; "__metadata__"."kernels" lists {id, type, params, size}
      blur/<id>         float32 [3, 3, H, W] = filter2D(batch, kernel(s)); "__metadata__"."blurs"

Blur kernels follow BasicSR (XPixelGroup/BasicSR basicsr/data/degradations.py: mesh_grid,
sigma_matrix2, pdf2, bivariate_Gaussian) and filter2D (basicsr/utils/img_process_util.py), written
out again below. The motion kernel has no BasicSR counterpart: motion_kernel() below is the
reference of the formula documented in src/data/degrade.ts.
"""

import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, '..', 'tests', 'fixtures')
CELEBA = os.path.join(HERE, '..', '..', 'shared', 'data', 'hr', 'celeba')

from st_writer import write_safetensors  # noqa: E402


def load(name):
    return np.asarray(Image.open(os.path.join(CELEBA, name)).convert('RGB'))


def to_float(u8_hwc, rng):
    """uint8 [H, W, C] -> float32 [1, C, H, W] exactly as imageToTensor does it."""
    x = torch.from_numpy(np.array(u8_hwc)).permute(2, 0, 1).unsqueeze(0).to(torch.float32)
    return x * (2 / 255) - 1 if rng == '-1,1' else x / 255


# ---------------------------------------------------------------------------------------------
# Interpolation
# ---------------------------------------------------------------------------------------------

MODES = [('bicubic', True), ('bicubic', False), ('bilinear', True), ('bilinear', False), ('area', False)]


def interp(x, mode, antialias, factor=None, size=None):
    kw = {'mode': mode}
    if mode != 'area':
        kw['align_corners'] = False
        kw['antialias'] = antialias
    if factor is not None:
        return F.interpolate(x, scale_factor=1 / factor, **kw)
    return F.interpolate(x, size=size, **kw)


def make_interp():
    images = {
        'a': load('10000_028381.webp'),  # a whole 128x128 face (HR 128 -> LR 32 / 16)
        'b': load('10055_154310.webp')[32:96, 32:96],  # 64x64 centre crop (HR 64 -> 32 / 16 / 8)
        'c': load('197_144615.webp')[20:68, 40:100],  # 48x60 off-centre crop, arbitrary sizes
    }
    plan = [
        (
            'a',
            '-1,1',
            [(4, [('bicubic', True), ('bilinear', True), ('area', False)]), (8, [('bicubic', True), ('area', False)])],
            [],
        ),
        (
            'b',
            '0,1',
            [(2, [('bicubic', True), ('area', False)]), (4, MODES), (8, MODES)],
            [],
        ),
        ('c', '-1,1', [], [((17, 23), MODES), ((13, 13), [('bicubic', True), ('area', False)])]),
    ]
    tensors = {f'img/{k}': torch.from_numpy(np.array(v)) for k, v in images.items()}
    cases = []
    for name, rng, factors, sizes in plan:
        x = to_float(images[name], rng)
        for factor, modes in factors:
            for mode, aa in modes:
                cid = f'{name}/x{factor}/{mode}{"_aa" if aa else ""}'
                out = interp(x, mode, aa, factor=factor)
                # The scale-factor path and the size path agree exactly at x2/x4/x8 (checked here).
                alt = interp(x, mode, aa, size=(x.shape[2] // factor, x.shape[3] // factor))
                assert torch.equal(out, alt), cid
                tensors[cid] = out
                cases.append({'id': cid, 'image': name, 'range': rng, 'mode': mode, 'antialias': aa, 'factor': factor})
        for size, modes in sizes:
            for mode, aa in modes:
                cid = f'{name}/{size[0]}x{size[1]}/{mode}{"_aa" if aa else ""}'
                tensors[cid] = interp(x, mode, aa, size=size)
                cases.append({'id': cid, 'image': name, 'range': rng, 'mode': mode, 'antialias': aa, 'size': list(size)})
    n = write_safetensors(
        os.path.join(OUT_DIR, 'degrade_interp.safetensors'),
        tensors,
        {'cases': json.dumps(cases), 'torch': torch.__version__},
    )
    print(f'degrade_interp.safetensors: {len(cases)} cases, {n} bytes')
    return n


# ---------------------------------------------------------------------------------------------
# Blur kernels (BasicSR formulas) and filter2D
# ---------------------------------------------------------------------------------------------


def sigma_matrix2(sig_x, sig_y, theta):
    d = np.array([[sig_x**2, 0], [0, sig_y**2]])
    u = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    return np.dot(u, np.dot(d, u.T))


def mesh_grid(kernel_size):
    ax = np.arange(-kernel_size // 2 + 1.0, kernel_size // 2 + 1.0)
    xx, yy = np.meshgrid(ax, ax)
    xy = np.hstack((xx.reshape((kernel_size * kernel_size, 1)), yy.reshape(kernel_size * kernel_size, 1))).reshape(
        kernel_size, kernel_size, 2
    )
    return xy


def pdf2(sigma_matrix, grid):
    inverse_sigma = np.linalg.inv(sigma_matrix)
    return np.exp(-0.5 * np.sum(np.dot(grid, inverse_sigma) * grid, 2))


def bivariate_gaussian(kernel_size, sig_x, sig_y, theta, isotropic):
    grid = mesh_grid(kernel_size)
    sigma_matrix = np.array([[sig_x**2, 0], [0, sig_x**2]]) if isotropic else sigma_matrix2(sig_x, sig_y, theta)
    kernel = pdf2(sigma_matrix, grid)
    return kernel / np.sum(kernel)


def gaussian_size(max_sigma):
    """Default size rule of degrade.ts: 2 * ceil(3 sigma) + 1, within [3, 21]."""
    return min(21, max(3, 2 * math.ceil(3 * max_sigma) + 1))


def motion_kernel(length, angle, size=None):
    """A centred segment of `length` px at `angle` (radians, from +x toward +y = image down),
    rasterised by integrating a bilinear (tent) footprint along it (midpoint rule, 32 samples/px)."""
    if size is None:
        size = 2 * (math.floor(length / 2) + 1) + 1
    c, s = math.cos(angle), math.sin(angle)
    c = 0.0 if abs(c) < 1e-12 else c
    s = 0.0 if abs(s) < 1e-12 else s
    n = max(16, math.ceil(length * 32))
    t = ((np.arange(n) + 0.5) / n) * length - length / 2
    ax = np.arange(size) - size // 2
    wx = np.maximum(0.0, 1 - np.abs(t[:, None] * c - ax[None, :]))
    wy = np.maximum(0.0, 1 - np.abs(t[:, None] * s - ax[None, :]))
    k = wy.T @ wx
    return k / k.sum()


def filter2d(img, kernel):
    """BasicSR basicsr/utils/img_process_util.py filter2D: reflect pad k//2, depthwise conv2d."""
    k = kernel.size(-1)
    b, c, h, w = img.size()
    img = F.pad(img, (k // 2, k // 2, k // 2, k // 2), mode='reflect')
    ph, pw = img.size()[-2:]
    if kernel.size(0) == 1:
        img = img.view(b * c, 1, ph, pw)
        kernel = kernel.view(1, 1, k, k)
        return F.conv2d(img, kernel, padding=0).view(b, c, h, w)
    img = img.view(1, b * c, ph, pw)
    kernel = kernel.view(b, 1, k, k).repeat(1, c, 1, 1).view(b * c, 1, k, k)
    return F.conv2d(img, kernel, groups=b * c).view(b, c, h, w)


def make_blur():
    kernels = [
        ('iso_1.3', 'iso', {'sigma': 1.3}, None),
        ('iso_0.2', 'iso', {'sigma': 0.2}, None),
        ('iso_3.0_s21', 'iso', {'sigma': 3.0}, 21),
        ('aniso_a', 'aniso', {'sigmaX': 2.5, 'sigmaY': 0.8, 'theta': 0.6}, None),
        ('aniso_b', 'aniso', {'sigmaX': 1.2, 'sigmaY': 3.0, 'theta': -2.0}, 21),
        ('aniso_c', 'aniso', {'sigmaX': 0.5, 'sigmaY': 1.7, 'theta': 2.9}, 9),
        ('motion_a', 'motion', {'length': 7, 'angle': 0.4}, None),
        ('motion_b', 'motion', {'length': 4.5, 'angle': 2.2}, None),
        ('motion_c', 'motion', {'length': 9.3, 'angle': -1.1}, 13),
    ]
    tensors = {}
    meta_k = []
    built = {}
    for kid, typ, p, size in kernels:
        if typ == 'iso':
            size = size or gaussian_size(p['sigma'])
            k = bivariate_gaussian(size, p['sigma'], p['sigma'], 0, True)
        elif typ == 'aniso':
            size = size or gaussian_size(max(p['sigmaX'], p['sigmaY']))
            k = bivariate_gaussian(size, p['sigmaX'], p['sigmaY'], p['theta'], False)
        else:
            k = motion_kernel(p['length'], p['angle'], size)
            size = k.shape[0]
        t = torch.from_numpy(k).to(torch.float32)  # as BasicSR: float64 kernel -> float32 tensor
        built[kid] = t
        tensors[f'kernel/{kid}'] = t
        meta_k.append({'id': kid, 'type': typ, 'params': p, 'size': size})

    crops = [
        load('371_152940.webp')[44:68, 48:72],
        load('5990_198500.webp')[60:84, 34:58],
        load('10000_028381.webp')[74:98, 52:76],
    ]
    u8 = torch.from_numpy(np.stack(crops).copy())  # [3, H, W, 3]
    tensors['img/blur'] = u8
    x = u8.permute(0, 3, 1, 2).to(torch.float32) / 255
    blurs = []
    # One kernel for the whole batch (BasicSR's kernel.size(0) == 1 path).
    for kid in ['iso_1.3', 'motion_a']:
        tensors[f'blur/{kid}'] = filter2d(x, built[kid].unsqueeze(0))
        blurs.append({'id': kid, 'kernels': [kid]})
    # One kernel per image (all of one size, as filter2D needs): 21x21.
    per = ['iso_3.0_s21', 'aniso_b', 'iso_3.0_s21']
    bid = 'per_image_21'
    tensors[f'blur/{bid}'] = filter2d(x, torch.stack([built[k] for k in per]))
    blurs.append({'id': bid, 'kernels': per})
    n = write_safetensors(
        os.path.join(OUT_DIR, 'degrade_blur.safetensors'),
        tensors,
        {'kernels': json.dumps(meta_k), 'blurs': json.dumps(blurs), 'torch': torch.__version__},
    )
    print(f'degrade_blur.safetensors: {len(meta_k)} kernels, {len(blurs)} blurs, {n} bytes')
    return n


if __name__ == '__main__':
    torch.set_num_threads(1)
    total = make_interp() + make_blur()
    print(f'total {total} bytes')
