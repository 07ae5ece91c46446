#!/usr/bin/python3
"""Golden fixtures for tests/tensor-golden.test.ts, computed with PyTorch.

Run with Debian's python3-torch (the same libtorch 1.13 the addon links against):

    npm run fixtures        # = /usr/bin/python3 dev/make_fixtures.py

Writes one safetensors file per op family into tests/fixtures/golden-<family>.safetensors.
The script is deterministic: the same torch build writes byte-identical files.

Every file's "__metadata__" holds "cases", a JSON list of
    {"id", "op", "params", "inputs": [names], "grads": [names], "outputs": [names], "gw": [names]}
and the tensors of case <id> are
    <id>/in/<name>     inputs (saved before the op runs, so in-place updates do not leak in)
    <id>/out/<name>    outputs (an op returning one tensor has the single output "out")
    <id>/gw/<name>     random weights w: the backward pass starts from loss = sum_k (out_k * w_k).sum()
    <id>/grad/<name>   d loss / d input for every input listed in "grads"
"params" are the keyword options of the facesr call (camelCase, as in src/tensor); OPS below maps
each op name to the equivalent torch call, and tests/tensor-golden.test.ts maps it to facesr.
"""

import json
import os
import sys

import torch
import torch.nn.functional as F

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'fixtures')

from st_writer import write_safetensors  # noqa: E402


# ---------------------------------------------------------------------------------------------
# Ops: name -> fn(inputs: dict[str, Tensor], params: dict) -> Tensor | dict[str, Tensor]
# ---------------------------------------------------------------------------------------------


def _conv2d(i, p):
    return F.conv2d(
        i['x'],
        i['weight'],
        i.get('bias'),
        stride=p.get('stride', 1),
        padding=p.get('padding', 0),
        dilation=p.get('dilation', 1),
        groups=p.get('groups', 1),
    )


def _conv_transpose2d(i, p):
    return F.conv_transpose2d(
        i['x'],
        i['weight'],
        i.get('bias'),
        stride=p.get('stride', 1),
        padding=p.get('padding', 0),
        output_padding=p.get('outputPadding', 0),
        groups=p.get('groups', 1),
        dilation=p.get('dilation', 1),
    )


def _binary(i, p):
    a = i['a']
    b = i['b'] if 'b' in i else p['scalar']
    fn = p['fn']
    if fn == 'add':
        return torch.add(a, b, alpha=p['alpha']) if 'alpha' in p else torch.add(a, b)
    if fn == 'rsub':
        return p['scalar'] - a
    return getattr(torch, fn)(a, b)


UNARY = {
    'neg': torch.neg,
    'abs': torch.abs,
    'exp': torch.exp,
    'log': torch.log,
    'log1p': torch.log1p,
    'expm1': torch.expm1,
    'sqrt': torch.sqrt,
    'rsqrt': torch.rsqrt,
    'square': torch.square,
    'reciprocal': torch.reciprocal,
    'sin': torch.sin,
    'cos': torch.cos,
    'erf': torch.erf,
}


def _act(i, p):
    x = i['x']
    fn = p['fn']
    if fn == 'relu':
        return F.relu(x)
    if fn == 'leakyRelu':
        return F.leaky_relu(x, p['slope'])
    if fn == 'prelu':
        return F.prelu(x, i['weight'])
    if fn == 'sigmoid':
        return torch.sigmoid(x)
    if fn == 'tanh':
        return torch.tanh(x)
    if fn == 'softplus':
        return F.softplus(x, beta=p['beta'], threshold=p['threshold'])
    if fn == 'elu':
        return F.elu(x, alpha=p['alpha'])
    if fn == 'silu':
        return F.silu(x)
    if fn == 'gelu':
        return F.gelu(x)
    if fn == 'hardtanh':
        return F.hardtanh(x, p['min'], p['max'])
    raise KeyError(fn)


def _avg_pool2d(i, p):
    return F.avg_pool2d(
        i['x'],
        p['kernel'],
        stride=p.get('stride'),
        padding=p.get('padding', 0),
        ceil_mode=p.get('ceilMode', False),
        count_include_pad=p.get('countIncludePad', True),
    )


def _max_pool2d(i, p):
    return F.max_pool2d(
        i['x'],
        p['kernel'],
        stride=p.get('stride'),
        padding=p.get('padding', 0),
        dilation=p.get('dilation', 1),
        ceil_mode=p.get('ceilMode', False),
    )


def _interpolate(i, p):
    kw = {'mode': p['mode']}
    if 'size' in p:
        kw['size'] = p['size']
    if 'scaleFactor' in p:
        kw['scale_factor'] = p['scaleFactor']
    if 'alignCorners' in p:
        kw['align_corners'] = p['alignCorners']
    elif p['mode'] in ('bilinear', 'bicubic'):
        kw['align_corners'] = False
    if p.get('antialias'):
        kw['antialias'] = True
    return F.interpolate(i['x'], **kw)


def _pad(i, p):
    if p['mode'] == 'constant':
        return F.pad(i['x'], p['pads'], mode='constant', value=p.get('value', 0.0))
    return F.pad(i['x'], p['pads'], mode=p['mode'])


def _slice(i, p):
    x = i['x']
    idx = [slice(None)] * x.dim()
    idx[p['dim']] = slice(p.get('start'), p.get('end'), p.get('step', 1))
    return x[tuple(idx)]


def _reduce(i, p):
    x = i['x']
    fn = p['fn']
    dims = p.get('dims')
    keep = p.get('keepdim', False)
    if fn in ('sum', 'mean', 'amax', 'amin'):
        f = getattr(torch, fn)
        if dims is None:
            return f(x)
        return f(x, dims, keepdim=keep)
    if fn == 'logsumexp':
        return torch.logsumexp(x, dims, keepdim=keep)
    if fn in ('var', 'std'):
        f = getattr(torch, fn)
        return f(x, dim=dims, correction=p['correction'], keepdim=keep)
    if fn == 'norm':
        if dims is None:
            return torch.norm(x, p=p['p'])
        return torch.norm(x, p=p['p'], dim=dims, keepdim=keep)
    if fn == 'prod':
        return torch.prod(x, p['dim'], keepdim=keep)
    if fn == 'cumsum':
        return torch.cumsum(x, p['dim'])
    raise KeyError(fn)


def _norm_out(out, i):
    res = {'out': out}
    for k in ('runningMean', 'runningVar'):
        if k in i:
            res[k] = i[k].clone()
    return res


def _batch_norm(i, p):
    out = F.batch_norm(
        i['x'],
        i.get('runningMean'),
        i.get('runningVar'),
        weight=i.get('weight'),
        bias=i.get('bias'),
        training=p['training'],
        momentum=p.get('momentum', 0.1),
        eps=p.get('eps', 1e-5),
    )
    return _norm_out(out, i)


def _instance_norm(i, p):
    out = F.instance_norm(
        i['x'],
        running_mean=i.get('runningMean'),
        running_var=i.get('runningVar'),
        weight=i.get('weight'),
        bias=i.get('bias'),
        use_input_stats=p.get('useInputStats', True),
        momentum=p.get('momentum', 0.1),
        eps=p.get('eps', 1e-5),
    )
    return _norm_out(out, i)


def _cmp(i, p):
    a = i['a']
    b = i['b'] if 'b' in i else p['scalar']
    return getattr(torch, p['fn'])(a, b)


def _where(i, p):
    a = i['a'] if 'a' in i else p['a']
    b = i['b'] if 'b' in i else p['b']
    if not torch.is_tensor(a):
        a = torch.tensor(a, dtype=torch.float32)
    if not torch.is_tensor(b):
        b = torch.tensor(b, dtype=torch.float32)
    return torch.where(i['cond'], a, b)


def _clamp(i, p):
    return torch.clamp(i['x'], p.get('min'), p.get('max'))


def _argmax(i, p):
    f = torch.argmax if p['fn'] == 'argmax' else torch.argmin
    if 'dim' not in p:
        return f(i['x'])
    return f(i['x'], p['dim'], keepdim=p.get('keepdim', False))


def _max_dim(i, p):
    f = torch.max if p['fn'] == 'maxDim' else torch.min
    v, ix = f(i['x'], p['dim'], keepdim=p.get('keepdim', False))
    return {'values': v, 'indices': ix}


def _topk(i, p):
    v, ix = torch.topk(i['x'], p['k'], dim=p.get('dim', -1), largest=p.get('largest', True), sorted=True)
    return {'values': v, 'indices': ix}


def _sort(i, p):
    v, ix = torch.sort(
        i['x'], dim=p.get('dim', -1), descending=p.get('descending', False), stable=p.get('stable', False)
    )
    return {'values': v, 'indices': ix}


def _loss(i, p):
    fn = p['fn']
    r = p.get('reduction', 'mean')
    a, b = i['input'], i['target']
    if fn == 'l1Loss':
        return F.l1_loss(a, b, reduction=r)
    if fn == 'mseLoss':
        return F.mse_loss(a, b, reduction=r)
    if fn == 'smoothL1Loss':
        return F.smooth_l1_loss(a, b, reduction=r, beta=p['beta'])
    if fn == 'bceWithLogits':
        return F.binary_cross_entropy_with_logits(a, b, reduction=r)
    if fn == 'crossEntropy':
        return F.cross_entropy(a, b, reduction=r)
    raise KeyError(fn)



def _grid_sample(i, p, grid=None):
    return F.grid_sample(
        i['x'],
        i['grid'] if grid is None else grid,
        mode=p.get('mode', 'bilinear'),
        padding_mode=p.get('paddingMode', 'zeros'),
        align_corners=p.get('alignCorners', False),
    )


def _affine_sample(i, p):
    grid = F.affine_grid(i['theta'], p['size'], align_corners=p.get('alignCorners', False))
    return _grid_sample(i, p, grid)


OPS = {
    'conv2d': _conv2d,
    'convTranspose2d': _conv_transpose2d,
    'linear': lambda i, p: F.linear(i['x'], i['weight'], i.get('bias')),
    'matmul': lambda i, p: torch.matmul(i['a'], i['b']),
    'binary': _binary,
    'unary': lambda i, p: UNARY[p['fn']](i['x']),
    'act': _act,
    'avgPool2d': _avg_pool2d,
    'maxPool2d': _max_pool2d,
    'adaptiveAvgPool2d': lambda i, p: F.adaptive_avg_pool2d(i['x'], p['size']),
    'adaptiveMaxPool2d': lambda i, p: F.adaptive_max_pool2d(i['x'], p['size']),
    'interpolate': _interpolate,
    'pixelShuffle': lambda i, p: F.pixel_shuffle(i['x'], p['factor']),
    'pixelUnshuffle': lambda i, p: F.pixel_unshuffle(i['x'], p['factor']),
    'pad': _pad,
    'cat': lambda i, p: torch.cat(list(i.values()), p['dim']),
    'stack': lambda i, p: torch.stack(list(i.values()), p['dim']),
    'slice': _slice,
    'narrow': lambda i, p: torch.narrow(i['x'], p['dim'], p['start'], p['length']),
    'select': lambda i, p: torch.select(i['x'], p['dim'], p['index']),
    'indexSelect': lambda i, p: torch.index_select(i['x'], p['dim'], i['index']),
    'index': lambda i, p: i['x'][i['i0'], :, i['i2']],
    'gather': lambda i, p: torch.gather(i['x'], p['dim'], i['index']),
    'permute': lambda i, p: i['x'].permute(*p['dims']),
    'reshape': lambda i, p: i['x'].reshape(p['shape']),
    'permuteReshape': lambda i, p: i['x'].permute(*p['dims']).reshape(p['shape']),
    'transpose': lambda i, p: i['x'].transpose(p['d0'], p['d1']),
    'flatten': lambda i, p: i['x'].flatten(p['start'], p['end']),
    'squeezeUnsqueeze': lambda i, p: i['x'].squeeze(p['squeeze']).unsqueeze(p['unsqueeze']),
    'expand': lambda i, p: i['x'].expand(*p['shape']),
    'repeat': lambda i, p: i['x'].repeat(*p['reps']),
    'flip': lambda i, p: i['x'].flip(p['dims']),
    'roll': lambda i, p: i['x'].roll(p['shifts'], p['dims']),
    'split': lambda i, p: {f'out{k}': t for k, t in enumerate(torch.split(i['x'], p['sizes'], p['dim']))},
    'chunk': lambda i, p: {f'out{k}': t for k, t in enumerate(torch.chunk(i['x'], p['chunks'], p['dim']))},
    'maskedFill': lambda i, p: i['x'].masked_fill(i['mask'], p['value']),
    'reduce': _reduce,
    'batchNorm': _batch_norm,
    'instanceNorm': _instance_norm,
    'groupNorm': lambda i, p: F.group_norm(i['x'], p['groups'], i.get('weight'), i.get('bias'), eps=p.get('eps', 1e-5)),
    'layerNorm': lambda i, p: F.layer_norm(
        i['x'], p['normalizedShape'], i.get('weight'), i.get('bias'), eps=p.get('eps', 1e-5)
    ),
    'softmax': lambda i, p: torch.softmax(i['x'], p['dim']),
    'logSoftmax': lambda i, p: torch.log_softmax(i['x'], p['dim']),
    'cmp': _cmp,
    'logical': lambda i, p: getattr(torch, 'logical_' + p['fn'])(i['a'], i['b'])
    if 'b' in i
    else torch.logical_not(i['a']),
    'where': _where,
    'whereGt': lambda i, p: torch.where(i['x'] > p['threshold'], i['x'], i['x'] * p['slope']),
    'clamp': _clamp,
    'argmax': _argmax,
    'maxDim': _max_dim,
    'topk': _topk,
    'sort': _sort,
    'loss': _loss,
    'affineGrid': lambda i, p: F.affine_grid(i['theta'], p['size'], align_corners=p.get('alignCorners', False)),
    'gridSample': _grid_sample,
    'affineSample': _affine_sample,
}


class Family:
    def __init__(self, name):
        self.name = name
        self.tensors = {}
        self.cases = []
        self.counts = {}

    def case(self, op, params, inputs, grads=(), note=''):
        """Runs OPS[op] on inputs; records inputs, outputs, backward weights and input gradients."""
        n = self.counts.get(op, 0)
        self.counts[op] = n + 1
        cid = f'{op}.{n}'
        saved = {k: v.detach().clone() for k, v in inputs.items()}
        live = {}
        for k, v in inputs.items():
            v = v.detach().clone()
            if k in grads:
                v.requires_grad_(True)
            live[k] = v
        out = OPS[op](live, params)
        outs = out if isinstance(out, dict) else {'out': out}
        gws = {}
        if grads:
            loss = 0
            for k, o in outs.items():
                if o.requires_grad:
                    w = torch.randn(o.shape)
                    gws[k] = w
                    loss = loss + (o * w).sum()
            loss.backward()
        for k, v in saved.items():
            self.tensors[f'{cid}/in/{k}'] = v
        for k, v in outs.items():
            self.tensors[f'{cid}/out/{k}'] = v.detach().clone()
        for k, v in gws.items():
            self.tensors[f'{cid}/gw/{k}'] = v
        for k in grads:
            g = live[k].grad
            if g is None:
                g = torch.zeros_like(live[k])
            self.tensors[f'{cid}/grad/{k}'] = g
        self.cases.append(
            {
                'id': cid,
                'op': op,
                'params': params,
                'inputs': list(inputs.keys()),
                'grads': list(grads),
                'outputs': list(outs.keys()),
                'gw': list(gws.keys()),
                'note': note,
            }
        )

    def write(self):
        path = os.path.join(OUT_DIR, f'golden-{self.name}.safetensors')
        meta = {
            'cases': json.dumps(self.cases, separators=(',', ':')),
            'family': self.name,
            'torch': torch.__version__,
            'generator': 'dev/make_fixtures.py',
        }
        write_safetensors(path, self.tensors, meta)
        return path


def randn(*shape, scale=1.0):
    return torch.randn(*shape) * scale


def away_from_zero(*shape):
    """Values in +-[0.5, 1.5): safe denominators."""
    return (torch.rand(*shape) + 0.5) * torch.where(torch.rand(*shape) < 0.5, -1.0, 1.0)


def conv_family():
    f = Family('conv')
    g = ['x', 'weight', 'bias']
    f.case('conv2d', {}, {'x': randn(2, 3, 8, 8), 'weight': randn(4, 3, 3, 3), 'bias': randn(4)}, g)
    f.case(
        'conv2d',
        {'stride': 2, 'padding': 1},
        {'x': randn(2, 4, 9, 9), 'weight': randn(6, 4, 3, 3), 'bias': randn(6)},
        g,
    )
    f.case(
        'conv2d',
        {'stride': [2, 1], 'padding': [1, 2], 'dilation': 2},
        {'x': randn(1, 3, 10, 11), 'weight': randn(5, 3, 3, 3), 'bias': randn(5)},
        g,
    )
    f.case(
        'conv2d',
        {'padding': 1, 'groups': 2},
        {'x': randn(2, 4, 7, 7), 'weight': randn(6, 2, 3, 3), 'bias': randn(6)},
        g,
        'groups',
    )
    f.case(
        'conv2d',
        {'padding': 1, 'groups': 6},
        {'x': randn(2, 6, 8, 8), 'weight': randn(6, 1, 3, 3), 'bias': randn(6)},
        g,
        'depthwise',
    )
    f.case(
        'conv2d',
        {'stride': 2, 'padding': 2, 'groups': 4},
        {'x': randn(1, 4, 9, 8), 'weight': randn(8, 1, 5, 5), 'bias': randn(8)},
        g,
        'depthwise, multiplier 2, 5x5 stride 2',
    )
    f.case('conv2d', {}, {'x': randn(2, 4, 5, 6), 'weight': randn(8, 4, 1, 1)}, ['x', 'weight'], '1x1, no bias')
    f.case(
        'convTranspose2d',
        {'stride': 2, 'padding': 1},
        {'x': randn(2, 4, 5, 5), 'weight': randn(4, 3, 4, 4), 'bias': randn(3)},
        g,
    )
    f.case(
        'convTranspose2d',
        {'stride': 2, 'padding': 1, 'outputPadding': 1},
        {'x': randn(1, 3, 6, 7), 'weight': randn(3, 5, 3, 3), 'bias': randn(5)},
        g,
    )
    f.case(
        'convTranspose2d',
        {'stride': 2, 'padding': 1, 'outputPadding': 1, 'groups': 2},
        {'x': randn(2, 4, 5, 5), 'weight': randn(4, 3, 3, 3), 'bias': randn(6)},
        g,
    )
    f.case(
        'convTranspose2d',
        {'stride': [2, 1], 'padding': [0, 1], 'dilation': 2},
        {'x': randn(1, 2, 4, 5), 'weight': randn(2, 3, 3, 3)},
        ['x', 'weight'],
    )
    return f


def linear_family():
    f = Family('linear')
    f.case('linear', {}, {'x': randn(5, 7), 'weight': randn(4, 7), 'bias': randn(4)}, ['x', 'weight', 'bias'])
    f.case('linear', {}, {'x': randn(2, 3, 7), 'weight': randn(4, 7)}, ['x', 'weight'])
    f.case('linear', {}, {'x': randn(7), 'weight': randn(4, 7), 'bias': randn(4)}, ['x', 'weight', 'bias'])
    ab = ['a', 'b']
    f.case('matmul', {}, {'a': randn(3, 4), 'b': randn(4, 5)}, ab)
    f.case('matmul', {}, {'a': randn(2, 1, 3, 4), 'b': randn(3, 4, 5)}, ab, 'broadcast batch')
    f.case('matmul', {}, {'a': randn(5, 3, 4), 'b': randn(4, 2)}, ab, 'batched @ matrix')
    f.case('matmul', {}, {'a': randn(4), 'b': randn(2, 4, 3)}, ab, 'vector @ batched')
    f.case('matmul', {}, {'a': randn(3, 4), 'b': randn(4)}, ab, 'matrix @ vector')
    f.case('matmul', {}, {'a': randn(4), 'b': randn(4)}, ab, 'dot')
    return f


def elementwise_family():
    f = Family('elementwise')
    ab = ['a', 'b']
    f.case('binary', {'fn': 'add'}, {'a': randn(2, 3, 4), 'b': randn(3, 1)}, ab)
    f.case('binary', {'fn': 'add', 'alpha': 2.5}, {'a': randn(2, 3, 4), 'b': randn(4)}, ab)
    f.case('binary', {'fn': 'add', 'scalar': 1.5}, {'a': randn(2, 3, 4)}, ['a'])
    f.case('binary', {'fn': 'sub'}, {'a': randn(4, 1, 5), 'b': randn(3, 5)}, ab)
    f.case('binary', {'fn': 'sub', 'scalar': -0.75}, {'a': randn(3, 5)}, ['a'])
    f.case('binary', {'fn': 'rsub', 'scalar': 2.0}, {'a': randn(3, 5)}, ['a'])
    f.case('binary', {'fn': 'mul'}, {'a': randn(2, 3, 4), 'b': randn(2, 1, 1)}, ab)
    f.case('binary', {'fn': 'mul', 'scalar': -3.25}, {'a': randn(2, 3, 4)}, ['a'])
    f.case('binary', {'fn': 'div'}, {'a': randn(2, 3, 1), 'b': away_from_zero(1, 4)}, ab)
    f.case('binary', {'fn': 'div', 'scalar': 0.3}, {'a': randn(2, 3, 4)}, ['a'])
    f.case('binary', {'fn': 'pow'}, {'a': torch.rand(2, 3, 4) + 0.5, 'b': randn(4)}, ab)
    f.case('binary', {'fn': 'pow', 'scalar': 2.5}, {'a': torch.rand(3, 4) + 0.1}, ['a'])
    f.case('binary', {'fn': 'pow', 'scalar': 3}, {'a': randn(3, 4)}, ['a'], 'negative base, integer exponent')
    f.case('binary', {'fn': 'maximum'}, {'a': randn(3, 4), 'b': randn(4)}, ab)
    f.case('binary', {'fn': 'minimum'}, {'a': randn(3, 1), 'b': randn(3, 4)}, ab)
    for fn in UNARY:
        x = randn(3, 5)
        if fn in ('log', 'sqrt', 'rsqrt'):
            x = torch.rand(3, 5) + 0.2
        elif fn == 'reciprocal':
            x = away_from_zero(3, 5)
        elif fn == 'log1p':
            x = torch.rand(3, 5) * 2 - 0.5
        f.case('unary', {'fn': fn}, {'x': x}, ['x'])
    return f


def activation_family():
    f = Family('activations')
    x = ['x']
    f.case('act', {'fn': 'relu'}, {'x': randn(2, 3, 4, 5)}, x)
    f.case('act', {'fn': 'leakyRelu', 'slope': 0.2}, {'x': randn(2, 3, 4, 5)}, x)
    f.case('act', {'fn': 'prelu'}, {'x': randn(2, 3, 4, 5), 'weight': torch.tensor([0.25])}, ['x', 'weight'])
    f.case(
        'act',
        {'fn': 'prelu'},
        {'x': randn(2, 3, 4, 5), 'weight': torch.rand(3) * 0.5},
        ['x', 'weight'],
        'per-channel weight',
    )
    f.case('act', {'fn': 'sigmoid'}, {'x': randn(2, 3, 4, 5, scale=3)}, x)
    f.case('act', {'fn': 'tanh'}, {'x': randn(2, 3, 4, 5, scale=2)}, x)
    f.case('act', {'fn': 'softplus', 'beta': 1, 'threshold': 20}, {'x': randn(2, 3, 4, 5, scale=3)}, x)
    f.case(
        'act',
        {'fn': 'softplus', 'beta': 2, 'threshold': 1.5},
        {'x': randn(2, 3, 4, 5, scale=2)},
        x,
        'some inputs above threshold',
    )
    f.case('act', {'fn': 'elu', 'alpha': 1.0}, {'x': randn(2, 3, 4, 5)}, x)
    f.case('act', {'fn': 'silu'}, {'x': randn(2, 3, 4, 5, scale=2)}, x)
    f.case('act', {'fn': 'gelu'}, {'x': randn(2, 3, 4, 5, scale=2)}, x)
    f.case('act', {'fn': 'hardtanh', 'min': -0.5, 'max': 1.0}, {'x': randn(2, 3, 4, 5)}, x)
    return f


def pooling_family():
    f = Family('pooling')
    x = ['x']
    f.case('avgPool2d', {'kernel': 3, 'stride': 2, 'padding': 1}, {'x': randn(2, 3, 9, 9)}, x)
    f.case(
        'avgPool2d', {'kernel': 3, 'stride': 2, 'padding': 1, 'countIncludePad': False}, {'x': randn(2, 3, 9, 9)}, x
    )
    f.case(
        'avgPool2d',
        {'kernel': 3, 'stride': 2, 'padding': 1, 'ceilMode': True, 'countIncludePad': False},
        {'x': randn(1, 2, 10, 10)},
        x,
    )
    f.case('avgPool2d', {'kernel': 3, 'stride': 2, 'padding': 1, 'ceilMode': True}, {'x': randn(1, 2, 10, 10)}, x)
    f.case('avgPool2d', {'kernel': 2}, {'x': randn(1, 2, 7, 8)}, x, 'stride defaults to kernel')
    f.case('avgPool2d', {'kernel': [3, 2], 'stride': [2, 1], 'padding': [1, 0]}, {'x': randn(1, 2, 7, 8)}, x)
    f.case('maxPool2d', {'kernel': 3, 'stride': 2, 'padding': 1}, {'x': randn(2, 3, 9, 9)}, x)
    f.case('maxPool2d', {'kernel': 3, 'stride': 2, 'ceilMode': True}, {'x': randn(1, 2, 10, 10)}, x)
    f.case('maxPool2d', {'kernel': 2}, {'x': randn(1, 2, 7, 8)}, x)
    f.case('maxPool2d', {'kernel': 3, 'stride': 2, 'padding': 1, 'dilation': 2}, {'x': randn(1, 2, 11, 10)}, x)
    f.case('adaptiveAvgPool2d', {'size': [3, 5]}, {'x': randn(2, 3, 7, 11)}, x)
    f.case('adaptiveAvgPool2d', {'size': [4, 4]}, {'x': randn(1, 2, 7, 11)}, x)
    f.case('adaptiveAvgPool2d', {'size': 1}, {'x': randn(2, 3, 5, 6)}, x)
    f.case('adaptiveAvgPool2d', {'size': [9, 13]}, {'x': randn(1, 2, 7, 11)}, x, 'output larger than input')
    f.case('adaptiveMaxPool2d', {'size': [3, 5]}, {'x': randn(2, 3, 7, 11)}, x)
    f.case('adaptiveMaxPool2d', {'size': [5, 4]}, {'x': randn(1, 2, 7, 11)}, x)
    return f


def interpolate_family():
    f = Family('interpolate')
    x = ['x']
    small = lambda: randn(1, 2, 6, 7)  # noqa: E731
    big = lambda: randn(1, 2, 16, 20)  # noqa: E731
    f.case('interpolate', {'mode': 'nearest', 'size': [11, 5]}, {'x': small()}, x)
    f.case('interpolate', {'mode': 'nearest', 'scaleFactor': 1.7}, {'x': small()}, x)
    f.case('interpolate', {'mode': 'nearest', 'scaleFactor': [2, 3]}, {'x': small()}, x)
    f.case('interpolate', {'mode': 'nearest', 'scaleFactor': 0.25}, {'x': big()}, x)
    f.case('interpolate', {'mode': 'nearest', 'scaleFactor': 0.3}, {'x': big()}, x)
    f.case('interpolate', {'mode': 'nearest-exact', 'size': [11, 5]}, {'x': small()}, x)
    f.case('interpolate', {'mode': 'nearest-exact', 'scaleFactor': 1.7}, {'x': small()}, x)
    for mode in ('bilinear', 'bicubic'):
        for align in (False, True):
            f.case('interpolate', {'mode': mode, 'alignCorners': align, 'size': [11, 13]}, {'x': small()}, x)
            f.case('interpolate', {'mode': mode, 'alignCorners': align, 'scaleFactor': 1.7}, {'x': small()}, x)
            f.case('interpolate', {'mode': mode, 'alignCorners': align, 'scaleFactor': 2}, {'x': small()}, x)
            f.case('interpolate', {'mode': mode, 'alignCorners': align, 'scaleFactor': 0.25}, {'x': big()}, x)
            f.case('interpolate', {'mode': mode, 'alignCorners': align, 'size': [5, 7]}, {'x': big()}, x)
    f.case('interpolate', {'mode': 'bicubic', 'scaleFactor': [1.7, 0.6]}, {'x': big()}, x)
    f.case('interpolate', {'mode': 'area', 'size': [3, 4]}, {'x': small()}, x)
    f.case('interpolate', {'mode': 'area', 'size': [5, 6]}, {'x': big()}, x)
    f.case('interpolate', {'mode': 'area', 'scaleFactor': 0.25}, {'x': big()}, x)
    f.case('interpolate', {'mode': 'area', 'scaleFactor': 0.3}, {'x': big()}, x)
    for mode in ('bilinear', 'bicubic'):
        f.case('interpolate', {'mode': mode, 'antialias': True, 'size': [5, 7]}, {'x': big()}, x)
        f.case('interpolate', {'mode': mode, 'antialias': True, 'scaleFactor': 0.25}, {'x': big()}, x)
        f.case('interpolate', {'mode': mode, 'antialias': True, 'scaleFactor': 0.3}, {'x': big()}, x)
    f.case('interpolate', {'mode': 'bicubic', 'antialias': True, 'alignCorners': True, 'size': [5, 7]}, {'x': big()}, x)
    f.case('interpolate', {'mode': 'bicubic', 'antialias': True, 'size': [9, 13]}, {'x': small()}, x, 'upsampling')
    return f


def shuffle_pad_family():
    f = Family('shuffle-pad')
    x = ['x']
    f.case('pixelShuffle', {'factor': 2}, {'x': randn(1, 8, 3, 4)}, x)
    f.case('pixelShuffle', {'factor': 3}, {'x': randn(2, 9, 2, 3)}, x)
    f.case('pixelUnshuffle', {'factor': 2}, {'x': randn(1, 2, 6, 4)}, x)
    f.case('pixelUnshuffle', {'factor': 3}, {'x': randn(1, 1, 6, 9)}, x)
    f.case('pad', {'pads': [1, 2, 0, 3], 'mode': 'constant', 'value': 0.5}, {'x': randn(1, 2, 4, 5)}, x)
    f.case('pad', {'pads': [-1, 1, 2, -1], 'mode': 'constant', 'value': 0}, {'x': randn(1, 2, 4, 5)}, x, 'negative')
    f.case('pad', {'pads': [1, 1, 1, 1, 1, 0], 'mode': 'constant', 'value': -2}, {'x': randn(1, 2, 3, 3)}, x)
    f.case('pad', {'pads': [2, 1, 1, 2], 'mode': 'reflect'}, {'x': randn(1, 2, 4, 5)}, x)
    f.case('pad', {'pads': [2, 3], 'mode': 'reflect'}, {'x': randn(2, 3, 6)}, x, '3-d input')
    f.case('pad', {'pads': [3, 1, 2, 0], 'mode': 'replicate'}, {'x': randn(1, 2, 4, 5)}, x)
    f.case('pad', {'pads': [1, 2, 2, 1], 'mode': 'circular'}, {'x': randn(1, 2, 4, 5)}, x)
    return f


def shape_family():
    f = Family('shape')
    x = ['x']
    f.case('cat', {'dim': 1}, {'a': randn(2, 3, 4), 'b': randn(2, 1, 4), 'c': randn(2, 2, 4)}, ['a', 'b', 'c'])
    f.case('cat', {'dim': -1}, {'a': randn(2, 3), 'b': randn(2, 5)}, ['a', 'b'])
    f.case('stack', {'dim': 0}, {'a': randn(2, 3), 'b': randn(2, 3), 'c': randn(2, 3)}, ['a', 'b', 'c'])
    f.case('stack', {'dim': 2}, {'a': randn(2, 3), 'b': randn(2, 3)}, ['a', 'b'])
    f.case('stack', {'dim': -2}, {'a': randn(2, 3), 'b': randn(2, 3)}, ['a', 'b'])
    f.case('slice', {'dim': 1, 'start': 1, 'end': 5, 'step': 2}, {'x': randn(4, 6, 5)}, x)
    f.case('slice', {'dim': 2, 'start': -3}, {'x': randn(4, 6, 5)}, x)
    f.case('slice', {'dim': 0, 'end': -1, 'step': 3}, {'x': randn(7, 2, 3)}, x)
    f.case('narrow', {'dim': 1, 'start': 2, 'length': 3}, {'x': randn(3, 6, 2)}, x)
    f.case('select', {'dim': 1, 'index': 2}, {'x': randn(3, 4, 5)}, x)
    f.case('select', {'dim': -1, 'index': -1}, {'x': randn(3, 4, 5)}, x)
    f.case('indexSelect', {'dim': 0}, {'x': randn(4, 5, 3), 'index': torch.tensor([3, 0, 3, 1])}, x)
    f.case('indexSelect', {'dim': 1}, {'x': randn(4, 5, 3), 'index': torch.tensor([4, 2])}, x)
    f.case(
        'index',
        {},
        {'x': randn(4, 3, 5), 'i0': torch.tensor([0, 2, 2]), 'i2': torch.tensor([1, 4, 0])},
        x,
        'x[i0, :, i2]',
    )
    f.case('gather', {'dim': 1}, {'x': randn(3, 5), 'index': torch.randint(0, 5, (3, 4))}, x)
    f.case('permute', {'dims': [0, 2, 3, 1]}, {'x': randn(2, 3, 4, 5)}, x)
    f.case('permute', {'dims': [3, 1, 0, 2]}, {'x': randn(2, 3, 4, 5)}, x)
    f.case('reshape', {'shape': [4, -1]}, {'x': randn(2, 3, 4)}, x)
    f.case('reshape', {'shape': [24]}, {'x': randn(2, 3, 4)}, x)
    f.case('permuteReshape', {'dims': [2, 0, 1], 'shape': [4, 6]}, {'x': randn(2, 3, 4)}, x, 'non-contiguous')
    f.case('transpose', {'d0': 0, 'd1': 2}, {'x': randn(2, 3, 4)}, x)
    f.case('flatten', {'start': 1, 'end': 2}, {'x': randn(2, 3, 4, 5)}, x)
    f.case('squeezeUnsqueeze', {'squeeze': 1, 'unsqueeze': -1}, {'x': randn(3, 1, 4)}, x)
    f.case('expand', {'shape': [2, 3, 4]}, {'x': randn(3, 1)}, x)
    f.case('repeat', {'reps': [2, 1, 3]}, {'x': randn(3, 2)}, x)
    f.case('flip', {'dims': [0, 2]}, {'x': randn(2, 3, 4)}, x)
    f.case('roll', {'shifts': [1, -2], 'dims': [0, 2]}, {'x': randn(3, 2, 5)}, x)
    f.case('split', {'sizes': [1, 3, 2], 'dim': 1}, {'x': randn(2, 6, 3)}, x)
    f.case('chunk', {'chunks': 3, 'dim': 0}, {'x': randn(7, 2)}, x)
    f.case('maskedFill', {'value': -1.5}, {'x': randn(3, 4), 'mask': torch.rand(3, 4) < 0.4}, x)
    return f


def reduction_family():
    f = Family('reductions')
    x = ['x']

    def r(p, shape=(3, 4, 5, 6), data=None):
        f.case('reduce', p, {'x': data if data is not None else randn(*shape)}, x)

    r({'fn': 'sum'})
    r({'fn': 'sum', 'dims': [1, 3]})
    r({'fn': 'sum', 'dims': 2, 'keepdim': True})
    r({'fn': 'mean'})
    r({'fn': 'mean', 'dims': [0, 2], 'keepdim': True})
    r({'fn': 'mean', 'dims': -1})
    r({'fn': 'var', 'dims': [1, 2], 'correction': 0})
    r({'fn': 'var', 'dims': [1, 2], 'correction': 1})
    r({'fn': 'var', 'correction': 1})
    r({'fn': 'var', 'correction': 0})
    r({'fn': 'var', 'dims': 3, 'correction': 1, 'keepdim': True})
    r({'fn': 'std', 'dims': 1, 'correction': 1})
    r({'fn': 'std', 'dims': [2, 3], 'correction': 0, 'keepdim': True})
    r({'fn': 'amax'})
    r({'fn': 'amax', 'dims': [1, 2]})
    r({'fn': 'amax', 'dims': 0, 'keepdim': True})
    r({'fn': 'amin', 'dims': -1})
    r({'fn': 'logsumexp', 'dims': 1})
    r({'fn': 'logsumexp', 'dims': [1, 2], 'keepdim': True}, data=randn(3, 4, 5, 6, scale=10))
    r({'fn': 'norm', 'p': 2})
    r({'fn': 'norm', 'p': 2, 'dims': [1, 2]})
    r({'fn': 'norm', 'p': 1, 'dims': 2, 'keepdim': True})
    r({'fn': 'norm', 'p': 3, 'dims': 1})
    r({'fn': 'prod', 'dim': 1}, data=torch.rand(3, 4, 5) + 0.5)
    r({'fn': 'cumsum', 'dim': 2}, shape=(3, 4, 5))
    return f


def norm_family():
    f = Family('norms')
    xwb = ['x', 'weight', 'bias']

    def stats(c):
        return {'runningMean': randn(c, scale=0.5), 'runningVar': torch.rand(c) + 0.5}

    f.case(
        'batchNorm',
        {'training': True, 'momentum': 0.1},
        {'x': randn(4, 3, 5, 5, scale=2) + 1, 'weight': randn(3), 'bias': randn(3), **stats(3)},
        xwb,
        'train: output and updated running stats',
    )
    f.case(
        'batchNorm',
        {'training': True, 'momentum': 0.3, 'eps': 1e-3},
        {'x': randn(8, 4, 2, 3), **stats(4)},
        ['x'],
        'train, no affine',
    )
    f.case('batchNorm', {'training': True}, {'x': randn(3, 2, 4, 4)}, ['x'], 'train, no running stats')
    f.case(
        'batchNorm',
        {'training': True},
        {'x': randn(6, 5), 'weight': randn(5), 'bias': randn(5), **stats(5)},
        xwb,
        '2-d',
    )
    f.case(
        'batchNorm',
        {'training': False},
        {'x': randn(4, 3, 5, 5), 'weight': randn(3), 'bias': randn(3), **stats(3)},
        xwb,
        'eval',
    )
    f.case('instanceNorm', {}, {'x': randn(2, 3, 6, 5), 'weight': randn(3), 'bias': randn(3)}, xwb)
    f.case('instanceNorm', {}, {'x': randn(2, 3, 6, 5, scale=3)}, ['x'], 'no affine')
    f.case(
        'instanceNorm',
        {'momentum': 0.2},
        {'x': randn(2, 3, 6, 5), **stats(3)},
        ['x'],
        'with running stats (updated)',
    )
    f.case('groupNorm', {'groups': 3}, {'x': randn(2, 6, 4, 5), 'weight': randn(6), 'bias': randn(6)}, xwb)
    f.case('groupNorm', {'groups': 1}, {'x': randn(2, 6, 4, 5)}, ['x'])
    f.case('groupNorm', {'groups': 6, 'eps': 1e-3}, {'x': randn(2, 6, 4, 5), 'weight': randn(6), 'bias': randn(6)}, xwb)
    f.case(
        'layerNorm',
        {'normalizedShape': [4, 5]},
        {'x': randn(2, 3, 4, 5), 'weight': randn(4, 5), 'bias': randn(4, 5)},
        xwb,
    )
    f.case('layerNorm', {'normalizedShape': [5]}, {'x': randn(2, 3, 4, 5)}, ['x'])
    return f


def softmax_family():
    f = Family('softmax')
    for op in ('softmax', 'logSoftmax'):
        f.case(op, {'dim': 1}, {'x': randn(3, 4, 5, scale=3)}, ['x'])
        f.case(op, {'dim': -1}, {'x': randn(3, 4, 5, scale=3)}, ['x'])
        f.case(op, {'dim': 0}, {'x': randn(3, 4, 5, scale=3)}, ['x'])
    return f


def compare_family():
    f = Family('compare')

    def ints(*shape):
        return torch.round(torch.randn(*shape) * 1.5)

    for fn in ('eq', 'ne', 'lt', 'le', 'gt', 'ge'):
        f.case('cmp', {'fn': fn}, {'a': ints(3, 4), 'b': ints(4)}, [])
        f.case('cmp', {'fn': fn, 'scalar': 1}, {'a': ints(3, 4)}, [])
    f.case('logical', {'fn': 'and'}, {'a': torch.rand(3, 4) < 0.5, 'b': torch.rand(4) < 0.5}, [])
    f.case('logical', {'fn': 'or'}, {'a': torch.rand(3, 4) < 0.5, 'b': torch.rand(3, 1) < 0.5}, [])
    f.case('logical', {'fn': 'not'}, {'a': torch.rand(3, 4) < 0.5}, [])
    f.case('where', {}, {'cond': torch.rand(3, 4, 5) < 0.5, 'a': randn(3, 4, 5), 'b': randn(4, 5)}, ['a', 'b'])
    f.case(
        'where',
        {},
        {'cond': torch.rand(3, 1, 5) < 0.5, 'a': randn(4, 1), 'b': randn(1)},
        ['a', 'b'],
        'broadcast cond',
    )
    f.case('where', {'b': 0.5}, {'cond': torch.rand(3, 4) < 0.5, 'a': randn(3, 4)}, ['a'], 'scalar b')
    f.case('whereGt', {'threshold': 0.0, 'slope': 0.1}, {'x': randn(3, 4, 5)}, ['x'], 'where(x > 0, x, 0.1 x)')
    f.case('clamp', {'min': -0.5, 'max': 0.8}, {'x': randn(3, 4, 5)}, ['x'])
    f.case('clamp', {'min': 0.2}, {'x': randn(3, 4, 5)}, ['x'])
    f.case('clamp', {'max': -0.1}, {'x': randn(3, 4, 5)}, ['x'])
    return f


def sorting_family():
    f = Family('sorting')
    f.case('argmax', {'fn': 'argmax'}, {'x': randn(3, 4, 5)}, [])
    f.case('argmax', {'fn': 'argmax', 'dim': 1}, {'x': randn(3, 4, 5)}, [])
    f.case('argmax', {'fn': 'argmax', 'dim': -1, 'keepdim': True}, {'x': randn(3, 4, 5)}, [])
    f.case('argmax', {'fn': 'argmin', 'dim': 0}, {'x': randn(3, 4, 5)}, [])
    f.case('maxDim', {'fn': 'maxDim', 'dim': 1}, {'x': randn(3, 4, 5)}, ['x'])
    f.case('maxDim', {'fn': 'minDim', 'dim': -1, 'keepdim': True}, {'x': randn(3, 4, 5)}, ['x'])
    f.case('topk', {'k': 3}, {'x': randn(3, 4, 7)}, ['x'])
    f.case('topk', {'k': 2, 'dim': 1, 'largest': False}, {'x': randn(3, 4, 7)}, ['x'])
    f.case('sort', {}, {'x': randn(3, 4, 7)}, ['x'])
    f.case('sort', {'dim': 0, 'descending': True}, {'x': randn(3, 4, 7)}, ['x'])
    f.case(
        'sort',
        {'dim': -1, 'stable': True},
        {'x': torch.round(torch.randn(3, 12) * 1.5)},
        ['x'],
        'stable with ties',
    )
    f.case(
        'sort',
        {'dim': 1, 'descending': True, 'stable': True},
        {'x': torch.round(torch.randn(2, 10) * 1.5)},
        ['x'],
        'stable descending with ties',
    )
    return f


def loss_family():
    f = Family('losses')
    both = ['input', 'target']
    for fn in ('l1Loss', 'mseLoss'):
        for red in ('mean', 'sum', 'none'):
            inputs = {'input': randn(2, 3, 4, 5), 'target': randn(2, 3, 4, 5)}
            f.case('loss', {'fn': fn, 'reduction': red}, inputs, both)
    f.case(
        'loss',
        {'fn': 'smoothL1Loss', 'reduction': 'mean', 'beta': 0.5},
        {'input': randn(3, 7), 'target': randn(3, 7)},
        both,
    )
    f.case(
        'loss',
        {'fn': 'bceWithLogits', 'reduction': 'mean'},
        {'input': randn(3, 7, scale=2), 'target': torch.rand(3, 7)},
        both,
    )
    f.case(
        'loss',
        {'fn': 'crossEntropy', 'reduction': 'mean'},
        {'input': randn(5, 4), 'target': torch.randint(0, 4, (5,))},
        ['input'],
    )
    return f


def grid_family():
    f = Family('grid')

    def theta(n):
        eye = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
        return eye + randn(n, 2, 3, scale=0.3)

    f.case('affineGrid', {'size': [2, 3, 5, 6]}, {'theta': theta(2)}, ['theta'])
    f.case('affineGrid', {'size': [2, 3, 5, 6], 'alignCorners': True}, {'theta': theta(2)}, ['theta'])
    cases = [
        ('bilinear', 'zeros', False),
        ('bilinear', 'zeros', True),
        ('bilinear', 'border', False),
        ('bilinear', 'reflection', True),
        ('bilinear', 'reflection', False),
        ('nearest', 'zeros', False),
        ('nearest', 'border', True),
        ('bicubic', 'zeros', False),
        ('bicubic', 'border', True),
        ('bicubic', 'reflection', False),
    ]
    for mode, padding, align in cases:
        f.case(
            'gridSample',
            {'mode': mode, 'paddingMode': padding, 'alignCorners': align},
            {'x': randn(2, 3, 5, 6), 'grid': torch.rand(2, 4, 7, 2) * 2.4 - 1.2},
            ['x'] if mode == 'nearest' else ['x', 'grid'],
        )
    f.case(
        'affineSample',
        {'size': [2, 3, 7, 8], 'mode': 'bilinear', 'paddingMode': 'zeros', 'alignCorners': False},
        {'x': randn(2, 3, 5, 6), 'theta': theta(2)},
        ['x', 'theta'],
        'grid_sample(x, affine_grid(theta))',
    )
    return f


FAMILIES = [
    conv_family,
    linear_family,
    elementwise_family,
    activation_family,
    pooling_family,
    interpolate_family,
    shuffle_pad_family,
    shape_family,
    reduction_family,
    norm_family,
    softmax_family,
    compare_family,
    sorting_family,
    loss_family,
    grid_family,
]


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    os.makedirs(OUT_DIR, exist_ok=True)
    total = 0
    for make in FAMILIES:
        fam = make()
        path = fam.write()
        size = os.path.getsize(path)
        total += size
        print(f'{os.path.relpath(path)}: {len(fam.cases)} cases, {size / 1024:.1f} KiB')
    print(f'total {total / 1024:.1f} KiB (torch {torch.__version__})')
    if total > 1_500_000:
        sys.exit('fixtures exceed 1.5 MB: shrink the cases')


if __name__ == '__main__':
    main()
