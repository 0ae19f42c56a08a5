#!/usr/bin/env python3
"""Write tests/data/torchscript/: small random-weight CLIPs in OpenAI's
layout, saved the ways OpenAI's checkpoints and plain state dicts are saved,
and a golden for `neglabel convert` (tests/test_convert.c).

The model classes below are written from a reading of openai/CLIP's
clip/model.py (the ViT and ModifiedResNet CLIP, with the three int buffers
input_resolution / context_length / vocab_size that OpenAI's released .pt
files carry); nothing of open_clip is needed.

Archives:
  vit_jit.pt    torch.jit.script of a tiny ViT CLIP, weights converted to fp16
                as OpenAI's convert_weights does (Conv/Linear/attention and
                the projections fp16, the rest fp32), torch.jit.save
  rn_jit.pt     torch.jit.trace of a tiny ModifiedResNet CLIP, fp32
  vit_sd.pt     torch.save(state_dict) of the ViT, its fp16 weights as bf16
  views_sd.pt   torch.save of a dict of views sharing one storage (offset,
                transposed strides, a 0-d and an empty tensor), f32 + f64
Golden (golden.txt), per archive:
  archive NAME
  tensor NAME DTYPE SHAPE(comma-separated, '-' for 0-d) SHA256   (state_dict order,
         bytes of .contiguous() little-endian; the buffers input_resolution,
         context_length, vocab_size are listed as OpenAI's state dict has them)
  config JSON   (open_clip's build_model_from_openai_state_dict inference,
                 computed here the same way; only for the models)
  image FILE v1 v2 ...  float64 image embedding of the fixture image, the
                 model in float64, pixels: PIL bicubic resize of the shorter
                 side + centre crop, CLIP mean/std (torchvision's
                 Resize/CenterCrop on a PIL image)
  ids N id... / text v1 ...  float64 text embedding of the given token ids

  python3 tests/gen/gen_torchscript.py   (repository root; torch, numpy, PIL)
Made with torch 2.11.0+cu130 on the CPU (the first line of golden.txt records it);
Rerunning it rewrites the TorchScript archives with another serialization id;
their data.pkl and storages, the state-dict archives and golden.txt stay the same.
"""
import copy
import hashlib
import io
import json
import os
import sys
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

OUT = "tests/data/torchscript"
FIXTURES = os.environ.get("NEGLABEL_SHARED", "../shared") + "/fixtures/images"
IMAGES = ["dog.jpg", "eagle.jpg"]
MEAN = [0.48145466, 0.4578275, 0.40821073]
STD = [0.26862954, 0.26130258, 0.27577711]


class LayerNorm(nn.LayerNorm):
    """OpenAI's: computes in fp32 for fp16 inputs (here: in the input's dtype otherwise, for the float64 golden)."""

    def forward(self, x: torch.Tensor):
        if x.dtype == torch.float16:
            return F.layer_norm(x.float(), self.normalized_shape, self.weight.float(), self.bias.float(),
                                self.eps).half()
        return F.layer_norm(x, self.normalized_shape, self.weight.to(x.dtype), self.bias.to(x.dtype), self.eps)


class QuickGELU(nn.Module):
    def forward(self, x: torch.Tensor):
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, d_model, n_head, attn_mask=None):
        super().__init__()
        self.attn = nn.MultiheadAttention(d_model, n_head)
        self.ln_1 = LayerNorm(d_model)
        self.mlp = nn.Sequential(OrderedDict([("c_fc", nn.Linear(d_model, d_model * 4)), ("gelu", QuickGELU()),
                                              ("c_proj", nn.Linear(d_model * 4, d_model))]))
        self.ln_2 = LayerNorm(d_model)
        self.attn_mask = attn_mask  # a plain attribute, not a buffer: not in the state dict

    def forward(self, x: torch.Tensor):
        m = self.attn_mask.to(dtype=x.dtype) if self.attn_mask is not None else None
        x = x + self.attn(self.ln_1(x), self.ln_1(x), self.ln_1(x), need_weights=False, attn_mask=m)[0]
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width, layers, heads, attn_mask=None):
        super().__init__()
        self.width, self.layers = width, layers
        self.resblocks = nn.Sequential(*[ResidualAttentionBlock(width, heads, attn_mask) for _ in range(layers)])

    def forward(self, x):
        return self.resblocks(x)


class VisionTransformer(nn.Module):
    def __init__(self, input_resolution, patch_size, width, layers, heads, output_dim):
        super().__init__()
        self.input_resolution, self.output_dim = input_resolution, output_dim
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch_size, stride=patch_size, bias=False)
        scale = width ** -0.5
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn((input_resolution // patch_size) ** 2 + 1, width))
        self.ln_pre = LayerNorm(width)
        self.transformer = Transformer(width, layers, heads)
        self.ln_post = LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, output_dim))

    def forward(self, x):
        x = self.conv1(x)
        x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
        cls = self.class_embedding.to(x.dtype) + torch.zeros(x.shape[0], 1, x.shape[-1], dtype=x.dtype)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)
        x = self.ln_pre(x).permute(1, 0, 2)
        x = self.transformer(x).permute(1, 0, 2)
        return self.ln_post(x[:, 0, :]) @ self.proj


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu2 = nn.ReLU(inplace=True)
        self.avgpool = nn.AvgPool2d(stride) if stride > 1 else nn.Identity()
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu3 = nn.ReLU(inplace=True)
        self.downsample = None
        if stride > 1 or inplanes != planes * 4:
            self.downsample = nn.Sequential(OrderedDict([("-1", nn.AvgPool2d(stride)),
                                                         ("0", nn.Conv2d(inplanes, planes * 4, 1, bias=False)),
                                                         ("1", nn.BatchNorm2d(planes * 4))]))

    def forward(self, x):
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.relu2(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(self.avgpool(out)))
        identity = self.downsample(x) if self.downsample is not None else x
        return self.relu3(out + identity)


class AttentionPool2d(nn.Module):
    def __init__(self, spacial_dim, embed_dim, num_heads, output_dim):
        super().__init__()
        self.positional_embedding = nn.Parameter(torch.randn(spacial_dim ** 2 + 1, embed_dim) / embed_dim ** 0.5)
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.c_proj = nn.Linear(embed_dim, output_dim)
        self.num_heads = num_heads

    def forward(self, x):
        x = x.flatten(start_dim=2).permute(2, 0, 1)
        x = torch.cat([x.mean(dim=0, keepdim=True), x], dim=0)
        x = x + self.positional_embedding[:, None, :].to(x.dtype)
        x, _ = F.multi_head_attention_forward(
            query=x[:1], key=x, value=x, embed_dim_to_check=x.shape[-1], num_heads=self.num_heads,
            q_proj_weight=self.q_proj.weight, k_proj_weight=self.k_proj.weight, v_proj_weight=self.v_proj.weight,
            in_proj_weight=None, in_proj_bias=torch.cat([self.q_proj.bias, self.k_proj.bias, self.v_proj.bias]),
            bias_k=None, bias_v=None, add_zero_attn=False, dropout_p=0.0, out_proj_weight=self.c_proj.weight,
            out_proj_bias=self.c_proj.bias, use_separate_proj_weight=True, training=self.training,
            need_weights=False)
        return x.squeeze(0)


class ModifiedResNet(nn.Module):
    def __init__(self, layers, output_dim, heads, input_resolution, width):
        super().__init__()
        self.output_dim, self.input_resolution = output_dim, input_resolution
        self.conv1 = nn.Conv2d(3, width // 2, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width // 2)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(width // 2, width // 2, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width // 2)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv3 = nn.Conv2d(width // 2, width, kernel_size=3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(width)
        self.relu3 = nn.ReLU(inplace=True)
        self.avgpool = nn.AvgPool2d(2)
        self._inplanes = width
        self.layer1 = self._make_layer(width, layers[0])
        self.layer2 = self._make_layer(width * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(width * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(width * 8, layers[3], stride=2)
        self.attnpool = AttentionPool2d(input_resolution // 32, width * 32, heads, output_dim)

    def _make_layer(self, planes, blocks, stride=1):
        layers = [Bottleneck(self._inplanes, planes, stride)]
        self._inplanes = planes * 4
        layers += [Bottleneck(self._inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.relu1(self.bn1(self.conv1(x)))
        x = self.relu2(self.bn2(self.conv2(x)))
        x = self.relu3(self.bn3(self.conv3(x)))
        x = self.avgpool(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.attnpool(x)


class CLIP(nn.Module):
    def __init__(self, embed_dim, image_resolution, vision_layers, vision_width, vision_patch_size,
                 context_length, vocab_size, transformer_width, transformer_heads, transformer_layers):
        super().__init__()
        if isinstance(vision_layers, (tuple, list)):
            self.visual = ModifiedResNet(vision_layers, embed_dim, vision_width * 32 // 64, image_resolution,
                                         vision_width)
        else:
            self.visual = VisionTransformer(image_resolution, vision_patch_size, vision_width, vision_layers,
                                            vision_width // 64, embed_dim)
        mask = torch.empty(context_length, context_length).fill_(float("-inf")).triu_(1)
        self.transformer = Transformer(transformer_width, transformer_layers, transformer_heads, mask)
        self.token_embedding = nn.Embedding(vocab_size, transformer_width)
        self.positional_embedding = nn.Parameter(torch.randn(context_length, transformer_width) * 0.01)
        self.ln_final = LayerNorm(transformer_width)
        self.text_projection = nn.Parameter(torch.randn(transformer_width, embed_dim) * transformer_width ** -0.5)
        self.logit_scale = nn.Parameter(torch.ones([]) * np.log(1 / 0.07))
        # what OpenAI's released state dicts carry besides the weights
        self.register_buffer("input_resolution", torch.tensor(image_resolution))
        self.register_buffer("context_length", torch.tensor(context_length))
        self.register_buffer("vocab_size", torch.tensor(vocab_size))

    def encode_image(self, image):
        return self.visual(image)

    def encode_text(self, text):
        x = self.token_embedding(text) + self.positional_embedding
        x = self.transformer(x.permute(1, 0, 2)).permute(1, 0, 2)
        x = self.ln_final(x)
        return x[torch.arange(x.shape[0]), text.argmax(dim=-1)] @ self.text_projection

    def forward(self, image, text):
        return self.encode_image(image), self.encode_text(text)


def convert_weights_fp16(model):
    """OpenAI's convert_weights: Conv/Linear weights and biases, attention's in/out projections and the
    text/vision projections to fp16."""
    def f(l):
        if isinstance(l, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            l.weight.data = l.weight.data.half()
            if l.bias is not None:
                l.bias.data = l.bias.data.half()
        if isinstance(l, nn.MultiheadAttention):
            for a in [*[f"{s}_proj_weight" for s in ["in", "q", "k", "v"]], "in_proj_bias", "bias_k", "bias_v"]:
                t = getattr(l, a)
                if t is not None:
                    t.data = t.data.half()
        for name in ["text_projection", "proj"]:
            if hasattr(l, name):
                a = getattr(l, name)
                if a is not None:
                    a.data = a.data.half()
    model.apply(f)


def randomize(model, gen):
    """PyTorch's default initialisation (seeded) plus random norm parameters and BatchNorm statistics."""
    with torch.no_grad():
        for n, p in model.named_parameters():
            if ".ln" in n or n.startswith("ln") or ".bn" in n or "downsample.1" in n:
                p.add_(torch.randn(p.shape, generator=gen) * 0.1)
        for n, b in model.named_buffers():
            if n.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=gen) * 0.1)
            elif n.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=gen) + 0.5)


def infer_config(sd):
    """open_clip.model.build_model_from_openai_state_dict's inference (open_clip 3.3.0), written out."""
    vit = "visual.proj" in sd
    if vit:
        width = sd["visual.conv1.weight"].shape[0]
        layers = len([k for k in sd if k.startswith("visual.") and k.endswith(".attn.in_proj_weight")])
        patch = sd["visual.conv1.weight"].shape[-1]
        grid = round((sd["visual.positional_embedding"].shape[0] - 1) ** 0.5)
        image_size = patch * grid
    else:
        layers = [len(set(k.split(".")[2] for k in sd if k.startswith(f"visual.layer{b}"))) for b in [1, 2, 3, 4]]
        width = sd["visual.layer1.0.conv1.weight"].shape[0]
        out_w = round((sd["visual.attnpool.positional_embedding"].shape[0] - 1) ** 0.5)
        patch = None
        image_size = out_w * 32
    tw = sd["ln_final.weight"].shape[0]
    return {"embed_dim": sd["text_projection"].shape[1], "quick_gelu": True,
            "vision_cfg": {"image_size": image_size, "layers": layers, "width": width, "patch_size": patch},
            "text_cfg": {"context_length": sd["positional_embedding"].shape[0],
                         "vocab_size": sd["token_embedding.weight"].shape[0], "width": tw, "heads": tw // 64,
                         "layers": len(set(k.split(".")[2] for k in sd if k.startswith("transformer.resblocks")))}}


def preprocess(path, size):
    im = Image.open(path).convert("RGB")
    w, h = im.size
    if w <= h:
        nw, nh = size, int(size * h / w)
    else:
        nw, nh = int(size * w / h), size
    im = im.resize((nw, nh), Image.BICUBIC)
    left, top = int(round((nw - size) / 2.0)), int(round((nh - size) / 2.0))
    im = im.crop((left, top, left + size, top + size))
    x = torch.from_numpy(np.asarray(im, dtype=np.float64) / 255.0).permute(2, 0, 1)
    return ((x - torch.tensor(MEAN, dtype=torch.float64)[:, None, None]) /
            torch.tensor(STD, dtype=torch.float64)[:, None, None])[None]


def tensor_line(name, t):
    t = t.contiguous()
    raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
    shape = ",".join(str(s) for s in t.shape) or "-"
    dt = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
          torch.int64: "I64"}[t.dtype]
    return "tensor %s %s %s %s\n" % (name, dt, shape, hashlib.sha256(raw).hexdigest())


def emb_line(tag, v):
    return tag + " " + " ".join(repr(float(x)) for x in v) + "\n"


def model_golden(f, name, model, sd):
    f.write("archive %s\n" % name)
    for k, v in sd.items():
        f.write(tensor_line(k, v))
    f.write("config %s\n" % json.dumps(infer_config(sd), sort_keys=True))
    cfg = infer_config(sd)
    m = copy.deepcopy(model).double().eval()
    size = cfg["vision_cfg"]["image_size"]
    with torch.no_grad():
        for im in IMAGES:  # noqa
            e = m.encode_image(preprocess(os.path.join(FIXTURES, im), size))[0]
            f.write(emb_line("image %s" % im, e))
        ctx, vocab = cfg["text_cfg"]["context_length"], cfg["text_cfg"]["vocab_size"]
        for ids in ([3, 17, 5, 9], [1, 2, vocab - 1]):
            t = torch.zeros(1, ctx, dtype=torch.long)
            t[0, :len(ids)] = torch.tensor(ids)
            e = m.encode_text(t)[0]
            f.write("ids %d %s\n" % (len(ids), " ".join(map(str, ids))))
            f.write(emb_line("text", e))


def main():
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(20241129)
    torch.manual_seed(0)
    golden = open(os.path.join(OUT, "golden.txt"), "w")
    golden.write("# torch %s; tests/gen/gen_torchscript.py\n" % torch.__version__)

    # ViT: width 64 (1 head), 2 layers, patch 8, image 32; text width 64, 1 layer, context 8, vocab 256
    vit = CLIP(32, 32, 2, 64, 8, 8, 256, 64, 1, 1)
    randomize(vit, gen)
    convert_weights_fp16(vit)
    vit.eval()
    torch.jit.save(torch.jit.script(vit), os.path.join(OUT, "vit_jit.pt"))
    sd = torch.jit.load(os.path.join(OUT, "vit_jit.pt")).state_dict()
    assert list(sd) == list(vit.state_dict())
    model_golden(golden, "vit_jit.pt", vit, sd)

    # ModifiedResNet: width 8, layers (1,2,1,1), image 64 (attnpool 2x2+1, 256 wide, 4 heads), embed 32;
    # traced in fp32, then its weights converted to fp16 in place (the traced module shares them)
    rn = CLIP(32, 64, (1, 2, 1, 1), 8, None, 8, 256, 64, 1, 1)
    randomize(rn, gen)
    rn.eval()
    ex_img, ex_txt = torch.zeros(1, 3, 64, 64), torch.zeros(1, 8, dtype=torch.long)
    traced = torch.jit.trace_module(rn, {"encode_image": (ex_img,), "encode_text": (ex_txt,)}, check_trace=False)
    convert_weights_fp16(rn)
    torch.jit.save(traced, os.path.join(OUT, "rn_jit.pt"))
    sd = torch.jit.load(os.path.join(OUT, "rn_jit.pt")).state_dict()
    assert list(sd) == list(rn.state_dict())
    assert sd["visual.layer1.0.conv1.weight"].dtype == torch.float16
    model_golden(golden, "rn_jit.pt", rn, sd)

    # the ViT as a plain torch.save'd state dict, fp16 weights as bf16
    sd = OrderedDict((k, v.bfloat16() if v.dtype == torch.float16 else v) for k, v in vit.state_dict().items())
    torch.save(sd, os.path.join(OUT, "vit_sd.pt"))
    golden.write("archive vit_sd.pt\n")
    for k, v in torch.load(os.path.join(OUT, "vit_sd.pt")).items():
        golden.write(tensor_line(k, v))

    # views of one storage
    base = torch.randn(6, 10, generator=gen)
    views = OrderedDict([("base", base), ("t", base.t()), ("slice", base[2:, 3:7]), ("step", base[::2, 1::3]),
                         ("scalar", base[1, 2]), ("empty", base[:0]), ("f64", torch.randn(3, 2, dtype=torch.float64,
                                                                                             generator=gen))])
    torch.save(views, os.path.join(OUT, "views_sd.pt"))
    golden.write("archive views_sd.pt\n")
    for k, v in torch.load(os.path.join(OUT, "views_sd.pt")).items():
        golden.write(tensor_line(k, v))
    golden.close()
    total = sum(os.path.getsize(os.path.join(OUT, x)) for x in os.listdir(OUT))
    print("wrote %s: %d bytes" % (OUT, total), file=sys.stderr)


if __name__ == "__main__":
    main()
