#!/usr/bin/python3
"""Golden fixtures for tests/nn-golden.test.ts, tests/optim.test.ts and tests/safetensors.test.ts.

Run with Debian's python3-torch (torch 1.13, the libtorch the addon links against):

    npm run fixtures:nn        # = /usr/bin/python3 dev/make_nn_fixtures.py

Writes into tests/fixtures/:

nn_modules.safetensors   modules (layers, spectral norm, containers). "__metadata__"."cases" is a JSON
    list of {"id", "phases": ["train"|"eval", ...], "keys": [state-dict keys in order],
    "params": [parameter names], "inputs": [shape per phase]}. Tensors of case <id>:
        <id>/sd/<key>       the state dict loaded into facesr (strict)
        <id>/in/<k>         input of forward call k (called in mode phases[k], in order)
        <id>/out/<k>        its output
        <id>/gw/<k>         loss weights: loss = sum_k (out_k * gw_k).sum()
        <id>/grad/in/<k>    d loss / d input k
        <id>/grad/<param>   d loss / d parameter (accumulated over all calls)
        <id>/after/<key>    the state dict after all calls (running stats, spectral-norm u/v)
nn_optim.safetensors     optimizers, LR schedules, gradient clipping; see optim_fixtures().
nn_pywriter.safetensors  one tensor per dtype, written by write_safetensors() below, with metadata.

Deterministic: the same torch build writes byte-identical files (seeded, one thread).
"""

import json
import math
import os

import torch
import torch.nn as nn

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'fixtures')

from st_writer import write_safetensors  # noqa: E402


# ---------------------------------------------------------------------------------------------
# Modules. Each builder returns a torch module; tests/nn-golden.test.ts builds the same one in facesr
# under the same id.
# ---------------------------------------------------------------------------------------------

SN = nn.utils.spectral_norm


def _seq():
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.PReLU(8),
        nn.Conv2d(8, 12, 3, padding=1, padding_mode='reflect'),
        nn.PixelShuffle(2),
        nn.InstanceNorm2d(3, affine=True),
        nn.LeakyReLU(0.2),
        nn.Upsample(scale_factor=0.5, mode='bilinear', align_corners=False),
        nn.Conv2d(3, 2, 1),
        nn.Tanh(),
    )


def _nested():
    return nn.Sequential(
        nn.Sequential(SN(nn.Conv2d(3, 4, 3, padding=1)), nn.BatchNorm2d(4), nn.LeakyReLU(0.2)),
        nn.Conv2d(4, 4, 1),
        nn.Sequential(nn.BatchNorm2d(4), SN(nn.Conv2d(4, 2, 3, bias=False))),
    )


# id: (builder, input shapes per call, phases)
MODULE_CASES = {
    'conv_groups_dilation': (lambda: nn.Conv2d(4, 6, 3, padding=2, dilation=2, groups=2), [[2, 4, 9, 8]], ['train']),
    'conv_reflect': (lambda: nn.Conv2d(3, 5, 3, padding=1, padding_mode='reflect'), [[2, 3, 7, 6]], ['train']),
    'conv_reflect_stride_nobias': (
        lambda: nn.Conv2d(3, 4, (3, 5), stride=2, padding=(1, 2), bias=False, padding_mode='reflect'),
        [[2, 3, 9, 10]],
        ['train'],
    ),
    'conv_replicate': (lambda: nn.Conv2d(2, 3, 3, padding=(2, 1), padding_mode='replicate'), [[1, 2, 5, 6]], ['train']),
    'conv_circular': (lambda: nn.Conv2d(2, 3, 3, padding=1, padding_mode='circular'), [[1, 2, 5, 6]], ['train']),
    'conv_transpose': (lambda: nn.ConvTranspose2d(4, 6, 4, stride=2, padding=1), [[2, 4, 5, 4]], ['train']),
    'conv_transpose_groups': (
        lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2, dilation=1),
        [[2, 4, 5, 4]],
        ['train'],
    ),
    'linear': (lambda: nn.Linear(7, 5), [[3, 7]], ['train']),
    'linear_3d_nobias': (lambda: nn.Linear(7, 5, bias=False), [[2, 3, 7]], ['train']),
    'batchnorm_train': (lambda: nn.BatchNorm2d(5), [[4, 5, 3, 3], [4, 5, 3, 3]], ['train', 'train']),
    'batchnorm_momentum_train_eval': (
        lambda: nn.BatchNorm2d(3, momentum=0.3, eps=1e-3),
        [[3, 3, 4, 4], [3, 3, 4, 4], [2, 3, 4, 4]],
        ['train', 'train', 'eval'],
    ),
    'batchnorm_eval': (lambda: nn.BatchNorm2d(5), [[4, 5, 3, 3]], ['eval']),
    'instancenorm_affine': (lambda: nn.InstanceNorm2d(4, affine=True), [[2, 4, 5, 5]], ['train']),
    'groupnorm': (lambda: nn.GroupNorm(2, 6), [[2, 6, 4, 3]], ['train']),
    'prelu_channels': (lambda: nn.PReLU(4, init=0.1), [[2, 4, 3, 3]], ['train']),
    'prelu_single': (lambda: nn.PReLU(), [[2, 4, 3, 3]], ['train']),
    'pixelshuffle': (lambda: nn.PixelShuffle(2), [[2, 8, 3, 3]], ['train']),
    'upsample_bilinear': (
        lambda: nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False),
        [[1, 3, 4, 5]],
        ['train'],
    ),
    'upsample_bilinear_size_aligned': (
        lambda: nn.Upsample(size=(7, 9), mode='bilinear', align_corners=True),
        [[2, 2, 4, 5]],
        ['train'],
    ),
    'sequential': (_seq, [[2, 3, 6, 6], [2, 3, 6, 6], [1, 3, 6, 6]], ['train', 'train', 'eval']),
    'sn_conv': (lambda: SN(nn.Conv2d(4, 6, 3, padding=1)), [[2, 4, 5, 5]] * 4, ['train'] * 3 + ['eval']),
    'sn_linear': (lambda: SN(nn.Linear(8, 5)), [[3, 8]] * 4, ['train'] * 3 + ['eval']),
    'sn_conv_transpose': (
        lambda: SN(nn.ConvTranspose2d(4, 3, 4, stride=2, padding=1)),
        [[2, 4, 3, 3]] * 4,
        ['train'] * 3 + ['eval'],
    ),
    'nested': (_nested, [[2, 3, 6, 6], [2, 3, 6, 6], [1, 3, 6, 6]], ['train', 'train', 'eval']),
}


def randomize(m):
    """Normalisation/PReLU parameters start as constants; make them random so gradients say something."""
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, (nn.BatchNorm2d, nn.InstanceNorm2d, nn.GroupNorm)):
                if mod.weight is not None:
                    mod.weight.copy_(torch.rand_like(mod.weight) + 0.5)
                    mod.bias.copy_(torch.randn_like(mod.bias) * 0.5)
                if getattr(mod, 'running_mean', None) is not None:
                    mod.running_mean.copy_(torch.randn_like(mod.running_mean) * 0.3)
                    mod.running_var.copy_(torch.rand_like(mod.running_var) + 0.5)
            if isinstance(mod, nn.PReLU):
                mod.weight.copy_(torch.randn_like(mod.weight) * 0.3)


def module_fixtures():
    tensors = {}
    cases = []
    for n, (cid, (build, shapes, phases)) in enumerate(MODULE_CASES.items()):
        torch.manual_seed(1000 + n)
        m = build()
        randomize(m)
        sd = m.state_dict()
        keys = list(sd.keys())
        for k in keys:
            tensors[f'{cid}/sd/{k}'] = sd[k].clone()
        params = [name for name, _ in m.named_parameters()]
        xs = []
        loss = 0
        for k, (shape, phase) in enumerate(zip(shapes, phases)):
            m.train(phase == 'train')
            x = torch.randn(shape, requires_grad=True)
            xs.append(x)
            tensors[f'{cid}/in/{k}'] = x.detach().clone()
            y = m(x)
            gw = torch.randn_like(y)
            tensors[f'{cid}/out/{k}'] = y.detach().clone()
            tensors[f'{cid}/gw/{k}'] = gw
            loss = loss + (y * gw).sum()
        loss.backward()
        for k, x in enumerate(xs):
            tensors[f'{cid}/grad/in/{k}'] = x.grad.clone()
        for name, p in m.named_parameters():
            tensors[f'{cid}/grad/{name}'] = p.grad.clone()
        for k, v in m.state_dict().items():
            tensors[f'{cid}/after/{k}'] = v.clone()
        cases.append({'id': cid, 'phases': phases, 'keys': keys, 'params': params, 'inputs': shapes})
    meta = {'cases': json.dumps(cases), 'torch': torch.__version__}
    write_safetensors(os.path.join(OUT_DIR, 'nn_modules.safetensors'), tensors, meta, verbose=True)


# ---------------------------------------------------------------------------------------------
# Optimizers, schedules, clipping.
#   params0/<i>                 initial parameters (3 tensors)
#   grads/<step>/<i>            gradient of parameter i at step (0-based); absent = no gradient (None)
#   <opt>/step<k>/<i>           parameter i after k steps (k = 1..STEPS)
#   sched/<name>                float64 [steps + 1, groups]: get_last_lr() at creation and after each step
#   clip/<case>/total           total norm returned by clip_grad_norm_ (float32 scalar)
#   clip/<case>/grad/<i>        gradients after clipping (clip/grads/<i> before)
# metadata: "optimizers" (JSON {name: {type, options, groups?}}), "skip" ([[step, i]]: None grads of
# the *_skip optimizers), "schedules", "clip".
# ---------------------------------------------------------------------------------------------

STEPS = 5
SHAPES = [[3, 4], [5], [2, 3, 3]]
OPTIMIZERS = {
    'adam': ('Adam', {'lr': 1e-2}),
    'adam_wd': ('Adam', {'lr': 1e-2, 'betas': [0.8, 0.99], 'eps': 1e-6, 'weight_decay': 0.1}),
    'adamw': ('AdamW', {'lr': 1e-2, 'weight_decay': 0.05}),
    'adamw_default': ('AdamW', {'lr': 1e-3}),
    'sgd_nesterov': ('SGD', {'lr': 0.1, 'momentum': 0.9, 'nesterov': True, 'weight_decay': 1e-3}),
    'sgd_momentum_dampening': ('SGD', {'lr': 0.05, 'momentum': 0.9, 'dampening': 0.2, 'weight_decay': 1e-2}),
    'sgd_plain': ('SGD', {'lr': 0.1}),
    'adam_skip': ('Adam', {'lr': 1e-2}),
    'sgd_skip': ('SGD', {'lr': 0.1, 'momentum': 0.9}),
    # param groups: [[indices], overrides]
    'adam_groups': ('Adam', {'lr': 1e-2}, [[[0, 1], {}], [[2], {'lr': 5e-3, 'weight_decay': 0.1}]]),
}
SKIP = [[0, 2], [1, 1], [2, 1], [3, 0]]


def optim_fixtures():
    torch.manual_seed(7)
    tensors = {}
    params0 = [torch.randn(s) for s in SHAPES]
    for i, p in enumerate(params0):
        tensors[f'params0/{i}'] = p
    grads = [[torch.randn(s) * (1 + 2 * i) for i, s in enumerate(SHAPES)] for _ in range(STEPS)]
    for t, gs in enumerate(grads):
        for i, g in enumerate(gs):
            tensors[f'grads/{t}/{i}'] = g
    meta_opts = {}
    for name, spec in OPTIMIZERS.items():
        kind, opts = spec[0], spec[1]
        ps = [p.clone().requires_grad_(True) for p in params0]
        if len(spec) > 2:
            groups = [{'params': [ps[j] for j in idx], **over} for idx, over in spec[2]]
        else:
            groups = ps
        opt = getattr(torch.optim, kind)(groups, **opts)
        for t in range(STEPS):
            for i, p in enumerate(ps):
                skipped = name.endswith('_skip') and [t, i] in SKIP
                p.grad = None if skipped else grads[t][i].clone()
            opt.step()
            for i, p in enumerate(ps):
                tensors[f'{name}/step{t + 1}/{i}'] = p.detach().clone()
        meta_opts[name] = {'type': kind, 'options': opts, **({'groups': spec[2]} if len(spec) > 2 else {})}

    # LR schedules over two param groups.
    schedules = {
        'cosine': ('CosineAnnealingLR', {'T_max': 10, 'eta_min': 1e-5}, 25),
        'step': ('StepLR', {'step_size': 3, 'gamma': 0.5}, 10),
    }
    for name, (kind, opts, n) in schedules.items():
        a = torch.zeros(2, requires_grad=True)
        b = torch.zeros(2, requires_grad=True)
        opt = torch.optim.SGD([{'params': [a], 'lr': 0.1}, {'params': [b], 'lr': 0.02}], lr=0.1)
        sched = getattr(torch.optim.lr_scheduler, kind)(opt, **opts)
        lrs = [sched.get_last_lr()]
        for _ in range(n):
            opt.step()  # no grads: a no-op that keeps torch's "step order" warning quiet
            sched.step()
            lrs.append(sched.get_last_lr())
        tensors[f'sched/{name}'] = torch.tensor(lrs, dtype=torch.float64)

    # Gradient clipping.
    clip_cases = {'l2': (1.0, 2.0), 'inf': (0.5, math.inf), 'l1': (2.0, 1.0), 'l2_noclip': (1e3, 2.0)}
    cgrads = [torch.randn(s) * (0.5 + i) for i, s in enumerate(SHAPES)]
    for i, g in enumerate(cgrads):
        tensors[f'clip/grads/{i}'] = g
    for name, (max_norm, norm_type) in clip_cases.items():
        ps = [torch.zeros(s, requires_grad=True) for s in SHAPES]
        for p, g in zip(ps, cgrads):
            p.grad = g.clone()
        total = torch.nn.utils.clip_grad_norm_(ps, max_norm, norm_type)
        tensors[f'clip/{name}/total'] = total.detach().clone()
        for i, p in enumerate(ps):
            tensors[f'clip/{name}/grad/{i}'] = p.grad.clone()
    meta = {
        'optimizers': json.dumps(meta_opts),
        'skip': json.dumps(SKIP),
        'steps': str(STEPS),
        'schedules': json.dumps({k: {'type': v[0], 'options': v[1], 'steps': v[2]} for k, v in schedules.items()}),
        'clip': json.dumps(
            {k: {'maxNorm': v[0], 'normType': 'inf' if math.isinf(v[1]) else v[1]} for k, v in clip_cases.items()}
        ),
        'torch': torch.__version__,
    }
    write_safetensors(os.path.join(OUT_DIR, 'nn_optim.safetensors'), tensors, meta, verbose=True)


# ---------------------------------------------------------------------------------------------
# One tensor per dtype, for the reader test (values chosen to be exact in every dtype).
# ---------------------------------------------------------------------------------------------


def pywriter_fixture():
    tensors = {
        'f32': torch.arange(12, dtype=torch.float32).reshape(3, 4) / 4 - 1,
        'f64': torch.tensor([[1e-300, -2.5], [math.pi, 1e300]], dtype=torch.float64),
        'f16': torch.tensor([0, 0.5, -2, 65504, 1.5, -0.125], dtype=torch.float16).reshape(2, 3),
        'bf16': torch.tensor([1, -3.5, 256, 2**-7, 2.0**127], dtype=torch.bfloat16),
        'i64': torch.tensor([0, -1, 2**40 + 1, -(2**62), 2**63 - 1], dtype=torch.int64),
        'i32': torch.tensor([[-(2**31), 7], [2**31 - 1, 0]], dtype=torch.int32),
        'u8': torch.tensor([0, 1, 127, 128, 255], dtype=torch.uint8),
        'bool': torch.tensor([[True, False, True], [False, False, True]]),
        'scalar': torch.tensor(3.25),
        'empty': torch.zeros(0, 3),
    }
    meta = {'writer': 'dev/make_nn_fixtures.py', 'note': 'ünïcode ok'}
    write_safetensors(os.path.join(OUT_DIR, 'nn_pywriter.safetensors'), tensors, meta, verbose=True)


if __name__ == '__main__':
    torch.set_num_threads(1)
    os.makedirs(OUT_DIR, exist_ok=True)
    module_fixtures()
    optim_fixtures()
    pywriter_fixture()
