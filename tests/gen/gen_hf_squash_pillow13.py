#!/usr/bin/env python3
"""Update tests/data/hf_squash/golden.json (written by gen_hf_squash.py:
transformers' CLIPModel, float64) for Pillow 13's resize, without torch.

Pillow 13 resamples vertically first where the height shrinks by more than
twice the width (Pillow <= 12: always horizontally first), which changes
the 224x224 squash of odd-227x389.png. This recomputes each fixture image's
embedding with the same tiny CLIP written out in float64 numpy, from
CLIPImageProcessorPil's steps (Pillow bicubic resize to 224x224, x/255 and
normalise in float32), twice: with Pillow <= 12's pass order (two one-axis
resizes, horizontal first), which must reproduce the stored transformers
values (within 1e-6 relative; so the numpy model is the transformers one),
and with Pillow 13's. Images whose pixels differ get the Pillow 13 value.
Run again on its own output, it checks the stored values against Pillow
13's pixels instead.

  /tmp/p13/bin/python tests/gen/gen_hf_squash_pillow13.py ../shared tests/data/hf_squash
(Pillow 13.0.0 and numpy.) gen_hf_squash.py with Pillow 13, transformers
and torch gives the same golden.
"""
import json
import struct
import sys

import numpy as np
import PIL
from PIL import Image

assert PIL.__version__.split(".")[0] == "13", "Pillow %s: run with Pillow 13" % PIL.__version__
SH = sys.argv[1] + "/fixtures"
OUT = sys.argv[2]
def load_st(p):
    b = open(p, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8+n]); base = 8 + n
    dt = {'F32': np.float32, 'F16': np.float16, 'F64': np.float64, 'BF16': None, 'I64': np.int64}
    out = {}
    for k, v in h.items():
        if k == '__metadata__': continue
        a, e = v['data_offsets']
        out[k] = np.frombuffer(b[base+a:base+e], dt[v['dtype']]).reshape(v['shape']).astype(np.float64)
    return out
W = load_st(SH + '/tiny-clip/model.safetensors')
cfg = json.load(open(SH + '/tiny-clip/config.json'))['vision_config']
def ln(x, p, eps=1e-5):
    m = x.mean(-1, keepdims=True); v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * W[p + '.weight'] + W[p + '.bias']
def lin(x, p, bias=True):
    y = x @ W[p + '.weight'].T
    return y + W[p + '.bias'] if bias else y
def embed(px):  # px: 3x224x224 float64
    P = cfg['patch_size']; hd = cfg['hidden_size']; nh = cfg['num_attention_heads']; dh = hd // nh
    g = px.shape[1] // P
    patches = px.reshape(3, g, P, g, P).transpose(1, 3, 0, 2, 4).reshape(g * g, 3 * P * P)
    w = W['vision_model.embeddings.patch_embedding.weight'].reshape(hd, -1)
    x = np.concatenate([W['vision_model.embeddings.class_embedding'][None], patches @ w.T], 0)
    x = x + W['vision_model.embeddings.position_embedding.weight']
    x = ln(x, 'vision_model.pre_layrnorm')
    for i in range(cfg['num_hidden_layers']):
        L = 'vision_model.encoder.layers.%d.' % i
        r = x; h = ln(x, L + 'layer_norm1')
        q = lin(h, L + 'self_attn.q_proj') * dh ** -0.5; k = lin(h, L + 'self_attn.k_proj'); v = lin(h, L + 'self_attn.v_proj')
        n = x.shape[0]
        q = q.reshape(n, nh, dh).transpose(1, 0, 2); k = k.reshape(n, nh, dh).transpose(1, 0, 2); v = v.reshape(n, nh, dh).transpose(1, 0, 2)
        a = q @ k.transpose(0, 2, 1); a = np.exp(a - a.max(-1, keepdims=True)); a /= a.sum(-1, keepdims=True)
        o = (a @ v).transpose(1, 0, 2).reshape(n, hd)
        x = r + lin(o, L + 'self_attn.out_proj')
        r = x; h = ln(x, L + 'layer_norm2')
        h = lin(h, L + 'mlp.fc1'); h = h * (1 / (1 + np.exp(-1.702 * h))); h = lin(h, L + 'mlp.fc2')
        x = r + h
    pooled = ln(x[0], 'vision_model.post_layernorm')
    return lin(pooled, 'visual_projection', bias=False)
MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32); STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)
def pixels(img, order):
    if order == 'pillow':
        r = img.resize((224, 224), Image.BICUBIC)
    elif order == 'h':  # Pillow <= 12: horizontal pass first
        r = img.resize((224, img.height), Image.BICUBIC).resize((224, 224), Image.BICUBIC)
    a = np.asarray(r).astype(np.float32) * np.float32(1 / 255)
    a = (a - MEAN) / STD
    return a.transpose(2, 0, 1).astype(np.float64)


g = json.load(open(OUT + "/golden.json"))
changed = []
for name, ref in g["images"].items():
    img = Image.open(SH + "/images/" + name).convert("RGB")
    ref = np.array(ref)
    made_with_13 = str(g["pillow"]).startswith("13.")  # a second run: the stored values are Pillow 13's
    old = embed(pixels(img, "pillow" if made_with_13 else "h"))
    err = np.linalg.norm(old - ref) / np.linalg.norm(ref)
    assert err < 1e-6, (name, "the numpy model does not reproduce transformers", err)
    p13, p12 = pixels(img, "pillow"), pixels(img, "h")
    if (p13 != p12).any():
        new = embed(p13)
        print("%s: Pillow 13's pixels differ; embedding moves by %.3g (relative)" % (name, np.linalg.norm(new - ref) / np.linalg.norm(ref)))
        g["images"][name] = new.tolist()
        changed.append(name)
        if made_with_13:
            assert err < 1e-6, name
    else:
        print("%s: the same pixels; the transformers value stays (numpy within %.2g)" % (name, err))
g["pillow"] = PIL.__version__
g["pillow13_update"] = ("tests/gen/gen_hf_squash_pillow13.py: %s recomputed for Pillow %s's resize (float64 numpy "
                        "model, numpy %s, that reproduces the transformers values above to 1e-6)"
                        % (", ".join(changed) or "nothing", PIL.__version__, np.__version__))
with open(OUT + "/golden.json", "w") as f:
    json.dump(g, f, indent=1)
