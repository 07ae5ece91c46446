"""Minimal safetensors writer shared by the dev fixture scripts (PyTorch side of the golden tests).

Format: u64 little-endian header length, JSON header {name: {dtype, shape, data_offsets}} padded with
spaces so the data starts 8-byte aligned, then the raw little-endian tensor bytes.
"""
import json
import os
import struct

import torch

DTYPES = {
    torch.float32: 'F32',
    torch.float64: 'F64',
    torch.float16: 'F16',
    torch.bfloat16: 'BF16',
    torch.int64: 'I64',
    torch.int32: 'I32',
    torch.uint8: 'U8',
    torch.bool: 'BOOL',
}


def tensor_bytes(t):
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: write the raw 16-bit patterns
        t = t.view(torch.int16)
    return t.numpy().tobytes()  # little-endian on x86 / arm64


def write_safetensors(path, tensors, metadata=None, verbose=False):
    """Writes tensors (a dict, in its order) and string metadata; returns the file size in bytes."""
    header = {}
    if metadata:
        header['__metadata__'] = metadata
    blobs = []
    offset = 0
    for name, t in tensors.items():
        data = tensor_bytes(t)
        header[name] = {'dtype': DTYPES[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    hbytes = json.dumps(header, separators=(',', ':')).encode('utf-8')
    hbytes += b' ' * ((8 - len(hbytes) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(hbytes)))
        f.write(hbytes)
        for b in blobs:
            f.write(b)
    size = 8 + len(hbytes) + offset
    if verbose:
        print(f'wrote {os.path.relpath(path)} ({size} bytes, {len(tensors)} tensors)')
    return size
