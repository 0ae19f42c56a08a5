#!/usr/bin/env python3
"""Write tests/data/align/: a small random-weight ALIGN (transformers'
AlignModel, model_type "align": kakaobrain's ALIGN, one of the
vision-language models the NegLabel paper runs its method on) in Hugging
Face's layout, and the float64 embeddings transformers computes with it,
for cli_align.sh and python/tests/test_align.py.

The model: an EfficientNet vision tower (AlignVisionConfig) small enough to
be cheap but taking every path of transformers' code: width_coefficient
0.55 and depth_divisor 6 (round_filters rounds 32 -> 18, 16 -> 12 through
its "+ divisor when under 90%" step, 24 -> 12, 40 and 48 -> 24),
depth_coefficient 0.7 (round_repeats ceils 1 -> 1, 2 -> 2), six blocks:

  block  stage  in -> out  expand  kernel  stride  depthwise padding      residual
  0      0      18 -> 12   1       3       1       "same"                 no
  1      1      12 -> 12   4       5       2       (1, 2, 1, 2) adjusted  no
  2      1      12 -> 12   4       5       1       "same"                 yes
  3      2      12 -> 24   3       3       2       (1, 1, 1, 1) listed    no
  4      2      24 -> 24   3       3       1       "same"                 yes
  5      3      24 -> 24   2       5       1       "same" (listed)        no (j = 0)

(depthwise_padding [3, 5]: block 3, stride 2, pads all sides alike;
block 5 is listed but has stride 1, where the list does nothing; block 5
keeps 24 channels at stride 1 but, the first of its stage, has no
residual), squeeze-excite widths int(in * 0.25) (18 -> 4: floored), swish,
BatchNorm eps 1e-3 with random running statistics, 65-pixel crops (the
config's image_size, 289 as align-base's, is not read by transformers): stem
32 x 32, last feature map 8 x 8, pooled by AvgPool2d(hidden_dim 12,
ceil_mode) to its mean; 24 channels = projection_dim. The BERT text tower:
width 32, 2 layers, 4 heads, intermediate 64, GELU, 24 positions, 2 token
types, LayerNorm eps 1e-12, pad_token_id 0; its embedding is
text_projection(last_hidden_state[:, 0]) (the [CLS] state; the tower's
tanh pooler is in the weights but unused). Every parameter is drawn at
random (seeded); the BatchNorms' running statistics at random around
those of CALIBRATION's pixels (else the activations of a random
EfficientNet fade block after block and every image embeds alike); all
stored in F32. ALIGN's text tower has only transformers' eager attention,
whose softmax is float32 even in a float64 model: the goldens use the
same attention with a float64 softmax (debug says how far eager is).

Its tokenizer: an uncased BERT WordPiece of VOCAB_SIZE pieces trained here
with `tokenizers` (BertWordPieceTokenizer) on the WordNet word lists of
shared/neglabel-reference/txtfiles, seeded random sentences made of their
words and the lines of MULTILINGUAL; saved as transformers 5's
BertTokenizer.save_pretrained saves it (tokenizer.json,
tokenizer_config.json), and vocab.txt (one piece a line, in id order).

Written: config.json and model.safetensors by save_pretrained (the model's
state_dict: num_batches_tracked int64 buffers kept, the text embeddings'
position_ids and token_type_ids buffers not persisted), the tokenizer
files, preprocessor_config.json (EfficientNetImageProcessor as ALIGN
uses it: 83 x 83 bilinear resize, centre 65 x 65 crop at offset 9, x /
127.5 - 1, no normalization), preprocessor_normalize.json (the same sizes,
bicubic, x / 255, (x - ImageNet mean) / std, then / std again:
include_top), golden.json: versions, the config, the ids of TEXTS
(AutoTokenizer from the folder, truncation=True, max_length=24: a long
text keeps 22 pieces and [SEP] last), their embeddings (each text alone,
no padding; checked here against a padded batch with its attention mask),
the embeddings of IMAGES with each preprocessor (transformers' Pillow
image processor, float32 pixels, the model in float64), with
pooling_type "max" too, all projections not normalised; debug: the
first pixels, each block's output for one image, the text tower's [CLS]
state after each layer, and what the float32 model gives. Rerunnable:
the same bytes each run. Run with torch, transformers, tokenizers and
Pillow 13 importable:

  /path/to/venv/bin/python tests/gen/gen_align.py ../shared tests/data/align
"""
import glob
import hashlib
import json
import os
import random
import shutil
import sys
import tempfile

import numpy as np
import PIL
import safetensors
import tokenizers
import torch
import transformers
from safetensors import safe_open
from tokenizers import BertWordPieceTokenizer
from transformers import AlignConfig, AlignModel, AttentionInterface, AutoTokenizer, BertTokenizer

from transformers.masking_utils import AttentionMaskInterface, eager_mask

import hf_folder

IMAGES = ["dog.jpg", "odd-227x389.png", "wide-1700x40.png", "cifar10-cat-0000.jpg"]
CALIBRATION = ["eagle.jpg", "giraffe.jpg", "horses.jpg", "kite.jpg", "person.jpg", "scream.jpg",
               "cifar10-airplane-0000.jpg", "cifar10-ship-0000.jpg"]  # the BatchNorms' statistics
LONG = " ".join(["a blurry photo of the big dog"] * 6)
TEXTS = ["a photo of a dog.", "Ein Foto von einem Hund über Äpfel", "一只狗的照片", "a [MASK] photo", "x",
         "hot🐶dog, a Café!", LONG]
MAX_TOKENS = 24  # max_position_embeddings: BERT's positions start at 0, [CLS] and [SEP] included
PREPROCESSOR = {"size": {"height": 83, "width": 83}, "crop_size": {"height": 65, "width": 65},
                "do_center_crop": True, "do_resize": True, "do_rescale": True, "rescale_factor": 1 / 127.5,
                "rescale_offset": True, "do_normalize": False, "include_top": False, "resample": 2,
                "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225],
                "image_processor_type": "EfficientNetImageProcessor"}
NORMALIZE = dict(PREPROCESSOR, do_normalize=True, include_top=True, rescale_factor=1 / 255, rescale_offset=False,
                 resample=3)
# image_size: align-base's 289, which transformers never reads (the image
# processor's crop, 65, decides)
VISION = dict(num_channels=3, image_size=289, width_coefficient=0.55, depth_coefficient=0.7, depth_divisor=6,
              kernel_sizes=[3, 5, 3, 5], in_channels=[32, 16, 24, 40], out_channels=[16, 24, 40, 48],
              depthwise_padding=[3, 5], strides=[1, 2, 2, 1], num_block_repeats=[1, 2, 2, 1],
              expand_ratios=[1, 4, 3, 2], squeeze_expansion_ratio=0.25, hidden_act="swish", hidden_dim=12,
              pooling_type="mean", batch_norm_eps=1e-3)
TEXT = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            max_position_embeddings=MAX_TOKENS, type_vocab_size=2, hidden_act="gelu", layer_norm_eps=1e-12,
            pad_token_id=0)
PROJECTION_DIM = 24
FINAL_SIDE = 8  # 65 -> stem 32 -> block 1 16 -> block 3 8
SEED = 0
VOCAB_SIZE = 1500
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# the pieces trained: the same in every run (their ids are not)
VOCAB_SHA256 = "bd9c22367817bfaf1fe049718cd337b9cadc47fc77069b3c12f12eca4a9a58ac"
# a few accented and CJK words (只 is left out: 一只狗的照片 has an [UNK]; 🐶 too)
MULTILINGUAL = [
    "Ein Foto von einem Hund. Über Äpfel und Öl: schön, süß, groß.",
    "une photo d'un chien, à côté de l'église; œuvre, naïve, façade, café",
    "una foto de un perro pequeño junto al árbol, señor, niño",
    "一张狗的照片，一条金鱼和一个猫。图片中的动物",
    "犬の写真、猫の写真、金魚の写真です",
]


def corpus(shared):
    """WordNet's lines, then seeded sentences of their words, then
    MULTILINGUAL (each line 20 times)."""
    words = []
    for f in sorted(glob.glob(os.path.join(shared, "neglabel-reference", "txtfiles", "*.txt"))):
        words += open(f, encoding="utf-8").read().splitlines()
    rng = random.Random(SEED)
    forms = ["a photo of a {}.", "a blurry photo of the {}", "this is a {} photo.", "the big {} and the small {}",
             "a photo of the {}, a type of {}.", "a good photo of a {}!"]
    sentences = []
    for _ in range(20000):
        f = rng.choice(forms)
        sentences.append(f.format(*(rng.choice(words) for _ in range(f.count("{}")))))
    return words + sentences + MULTILINGUAL * 20


def train_vocab(shared):
    """The WordPiece vocabulary, piece -> id: the specials 0..4, then the
    pieces the trainer keeps, in an order of their own (the trainer's ids
    change from run to run: pieces of equal counts come out of a Rust
    HashMap): single characters by code point, the ## ones, then the
    longer pieces by length and code points, words before ## pieces."""
    t = BertWordPieceTokenizer(lowercase=True)
    t.train_from_iterator(corpus(shared), vocab_size=VOCAB_SIZE, min_frequency=2, special_tokens=SPECIALS,
                          show_progress=False)
    pieces = sorted(set(t.get_vocab()) - set(SPECIALS),
                    key=lambda p: (len(p.removeprefix("##")) > 1, len(p.removeprefix("##")), p.startswith("##"), p))
    digest = hashlib.sha256("\n".join(pieces).encode()).hexdigest()
    assert digest == VOCAB_SHA256, "the trainer kept other pieces (%s): a new tokenizers?" % digest
    return {p: i for i, p in enumerate(SPECIALS + pieces)}


def make_config(vocab):
    return AlignConfig(text_config=dict(TEXT, vocab_size=vocab), vision_config=VISION, projection_dim=PROJECTION_DIM)


def randomize(model, seed, calibration):
    """Every parameter drawn at random (seeded): biases 0.1 N(0, 1),
    LayerNorm gains 1 + 0.1 N(0, 1), the text embeddings 0.5 N(0, 1),
    Linear and conv weights N(0, 1 / fan_in), the temperature in [0.05,
    0.15); then the BatchNorms (hf_folder.randomize_batchnorm: random
    around the statistics of the calibration pixels).
    hf_folder.randomize does not fit: it would take the stem convolution
    (vision_model.embeddings.convolution) for an embedding and wants a
    logit_scale."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.named_parameters():
            if name == "temperature":
                t.fill_(0.05 + 0.1 * torch.rand((), generator=g, dtype=torch.float64).item())
            elif name.endswith(".bias"):
                t.copy_(0.1 * torch.randn(t.shape, generator=g, dtype=torch.float64))
            elif t.ndim == 1:
                t.copy_(1 + 0.1 * torch.randn(t.shape, generator=g, dtype=torch.float64))
            elif name.startswith("text_model.embeddings."):
                t.copy_(0.5 * torch.randn(t.shape, generator=g, dtype=torch.float64))
            else:
                t.copy_(torch.randn(t.shape, generator=g, dtype=torch.float64) / t[0].numel() ** 0.5)
    with torch.no_grad():
        hf_folder.randomize_batchnorm(model, seed + 1, lambda: model.vision_model(pixel_values=calibration))


def eager_float64(module, query, key, value, attention_mask, scaling, dropout=0.0, **kwargs):
    """transformers' eager attention for ALIGN's BERT (the one it has: no
    sdpa), its softmax in the inputs' dtype: eager_attention_forward
    softmaxes in float32 even in a float64 model (a 1e-8 error the goldens
    would carry)."""
    w = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        w = w + attention_mask
    w = torch.nn.functional.softmax(w, dim=-1)
    return torch.matmul(w, value).transpose(1, 2).contiguous(), w


AttentionInterface.register("eager_float64", eager_float64)
AttentionMaskInterface.register("eager_float64", eager_mask)  # its additive mask, as eager's


def image_embeddings(model, pixels):
    with torch.no_grad():
        out = model.get_image_features(pixel_values=pixels)
        emb = out.pooler_output
        # the pooler is the mean of the last feature map (hidden_dim >= its side)
        h = out.last_hidden_state
        assert h.shape[-2:] == (FINAL_SIDE, FINAL_SIDE), h.shape
        want = h.amax((2, 3)) if model.config.vision_config.pooling_type == "max" else h.mean((2, 3))
        assert torch.allclose(emb, want, rtol=1e-14, atol=1e-14), (emb - want).abs().max()
    return emb


def debug_vision(model, pixels):
    """Each block's output for one image: shape, its first 4 values and its
    per-channel means (the stem first)."""
    out, states = [], []
    vm = model.vision_model
    with torch.no_grad():
        h = vm.embeddings(pixels)
        states.append(("stem", h))
        for i, b in enumerate(vm.encoder.blocks):
            h = b(h)
            states.append(("block %d" % i, h))
    for name, h in states:
        out.append({"layer": name, "shape": list(h.shape[1:]), "first": h[0, 0, 0, :4].tolist(),
                    "channel_means": h[0].mean((1, 2)).tolist()})
    return out


def main():
    shared, out = sys.argv[1], sys.argv[2]
    assert PIL.__version__.split(".")[0] == "13", "Pillow %s: the goldens need Pillow 13" % PIL.__version__
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    vocab = train_vocab(shared)
    torch.manual_seed(SEED)
    model = AlignModel(make_config(len(vocab))).eval().double()
    randomize(model, SEED, hf_folder.pixels_efficientnet(shared, CALIBRATION, PREPROCESSOR))
    os.makedirs(out, exist_ok=True)
    # as transformers 5 writes it: float32, the state_dict's names and buffers
    model.float().save_pretrained(out)
    model.double()
    BertTokenizer(vocab=vocab).save_pretrained(out)
    with open(os.path.join(out, "vocab.txt"), "w", encoding="utf-8") as f:
        f.writelines(p + "\n" for p, _ in sorted(vocab.items(), key=lambda kv: kv[1]))
    json.dump(PREPROCESSOR, open(os.path.join(out, "preprocessor_config.json"), "w"), indent=1)
    json.dump(NORMALIZE, open(os.path.join(out, "preprocessor_normalize.json"), "w"), indent=1)
    files = ["config.json", "model.safetensors", "preprocessor_config.json", "preprocessor_normalize.json",
             "tokenizer.json", "tokenizer_config.json", "vocab.txt"]
    with safe_open(os.path.join(out, "model.safetensors"), "pt") as f:
        stored = {k: f.get_tensor(k) for k in f.keys()}
    sd = model.state_dict()
    assert set(stored) == set(sd), set(stored) ^ set(sd)
    assert not any("position_ids" in k or "token_type_ids" in k for k in stored)
    with tempfile.TemporaryDirectory() as tmp:  # the folder as the test uses it
        for f in files:
            shutil.copy(os.path.join(out, f), tmp)
        model = AlignModel.from_pretrained(tmp, attn_implementation="eager_float64").eval()
        for k, v in model.state_dict().items():  # loaded as written (no re-initialised buffer)
            assert k not in stored or torch.equal(v, stored[k]), k
        model32 = AlignModel.from_pretrained(tmp).eval()
        eager = AlignModel.from_pretrained(tmp).eval().double()
        assert eager.config._attn_implementation == "eager", eager.config._attn_implementation
        model = model.double()
        tok = AutoTokenizer.from_pretrained(tmp)
        assert type(tok).__name__ == "BertTokenizer", type(tok)
        pixels = hf_folder.pixels_efficientnet(shared, IMAGES, PREPROCESSOR)
        pixels_norm = hf_folder.pixels_efficientnet(shared, IMAGES, NORMALIZE)
        assert pixels.shape == (len(IMAGES), 3, 65, 65), pixels.shape
        img = image_embeddings(model, pixels)
        img_norm = image_embeddings(model, pixels_norm)
        with torch.no_grad():
            img32 = model32.get_image_features(pixel_values=pixels[:1].float()).pooler_output[0].double()
        texts, ids, cls_states = {}, {}, []
        with torch.no_grad():
            for t in TEXTS:
                enc = tok(t, truncation=True, max_length=MAX_TOKENS)
                ids[t] = enc["input_ids"]
                assert enc["token_type_ids"] == [0] * len(ids[t])
                e = model.get_text_features(input_ids=torch.tensor([ids[t]]))
                texts[t] = e.pooler_output[0]
            # a padded batch with its attention mask gives the same
            batch = tok(TEXTS, truncation=True, max_length=MAX_TOKENS, padding=True, return_tensors="pt")
            assert (batch["input_ids"][batch["attention_mask"] == 0] == TEXT["pad_token_id"]).all()
            assert int(batch["attention_mask"][:, 0].min()) == 1  # right padding
            eb = model.get_text_features(**batch).pooler_output
            for i, t in enumerate(TEXTS):
                err = (eb[i] - texts[t]).abs().max().item()
                assert err < 1e-12, (t, err)
            eager_err = max(((eager.get_text_features(input_ids=torch.tensor([ids[t]])).pooler_output[0] - texts[t])
                             .norm() / texts[t].norm()).item() for t in TEXTS)
            hs = model.text_model(input_ids=torch.tensor([ids[TEXTS[0]]]), output_hidden_states=True).hidden_states
            cls_states = [h[0, 0, :4].tolist() for h in hs]
        cfg = AlignConfig.from_pretrained(tmp)
        cfg.vision_config.pooling_type = "max"
        mx = AlignModel.from_pretrained(tmp, config=cfg, attn_implementation="eager_float64").eval().double()
        assert isinstance(mx.vision_model.pooler, torch.nn.MaxPool2d)
        img_max = image_embeddings(mx, pixels)
        debug_blocks = debug_vision(model, pixels[:1])
    assert len(ids[LONG]) == MAX_TOKENS and ids[LONG][-1] == vocab["[SEP]"], ids[LONG]
    assert sum(len(v) == MAX_TOKENS for v in ids.values()) == 1
    assert vocab["[UNK]"] in ids["一只狗的照片"] and vocab["[UNK]"] in ids["hot🐶dog, a Café!"]
    assert vocab["[MASK]"] in ids["a [MASK] photo"]
    vc = model.config.vision_config
    golden = {
        "transformers": transformers.__version__, "torch": torch.__version__, "tokenizers": tokenizers.__version__,
        "pillow": PIL.__version__, "safetensors": safetensors.__version__, "numpy": np.__version__, "seed": SEED,
        "files": files,
        "config": {
            "projection_dim": PROJECTION_DIM, "temperature": model.temperature.item(),
            "parameters": sum(p.numel() for p in model.parameters()), "tensors": len(stored),
            "vocab_size": len(vocab), "text": TEXT, "vision": VISION,
            "vision_blocks": [{"in": b.projection.project_conv.in_channels if not b.expand else
                               b.expansion.expand_conv.in_channels,
                               "out": b.projection.project_conv.out_channels, "expand_ratio": b.expand_ratio,
                               "kernel": b.depthwise_conv.depthwise_conv.kernel_size[0],
                               "stride": b.depthwise_conv.stride,
                               "depthwise_pad": list(b.depthwise_conv.depthwise_conv_pad.padding)
                               if b.depthwise_conv.stride == 2 else "same",
                               "se": b.squeeze_excite.dim_se, "residual": b.projection.apply_dropout}
                              for b in model.vision_model.encoder.blocks],
            "stem_channels": model.vision_model.embeddings.out_dim, "num_hidden_layers": vc.num_hidden_layers,
            "final_side": FINAL_SIDE,
        },
        "max_tokens": MAX_TOKENS,
        "truncation": "tokenizer(text, truncation=True, max_length=24): 22 pieces, [CLS] first, [SEP] last",
        "ids": ids,
        "texts": {t: e.tolist() for t, e in texts.items()},
        "images": {n: img[i].tolist() for i, n in enumerate(IMAGES)},
        "images_normalize": {n: img_norm[i].tolist() for i, n in enumerate(IMAGES)},
        "images_max": {n: img_max[i].tolist() for i, n in enumerate(IMAGES)},
        "debug": {
            "pixels": {"image": IMAGES[0], "shape": list(pixels.shape[1:]),
                       "first": [pixels[0, c, 0, :6].tolist() for c in range(3)],
                       "centre": [pixels[0, c, 32, 30:36].tolist() for c in range(3)],
                       "normalize_first": [pixels_norm[0, c, 0, :6].tolist() for c in range(3)]},
            "vision": debug_blocks,
            "text_cls_states": {"text": TEXTS[0], "after_embeddings_then_each_layer": cls_states},
            "text_eager_float32_softmax": {
                "note": "transformers' own eager attention (float32 softmax): the largest relative difference "
                        "of its text embeddings from these",
                "relative_error": eager_err},
            "float32": {"image": IMAGES[0],
                        "note": "the float32 model (the stored F32 weights, computing in float32) on the "
                                "processor's float32 pixels",
                        "embedding": img32.tolist(),
                        "relative_error": ((img32 - img[0]).norm() / img[0].norm()).item()},
        },
    }
    json.dump(golden, open(os.path.join(out, "golden.json"), "w", encoding="utf-8"), indent=1, ensure_ascii=False)


if __name__ == "__main__":
    main()
