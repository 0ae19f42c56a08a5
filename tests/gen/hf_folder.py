"""Helpers of the generators that write a random-weight transformers model
as a Hugging Face folder with its goldens (gen_groupvit.py, gen_longseq.py,
gen_altclip.py). Needs torch, safetensors, transformers and Pillow."""
import json
import os

import safetensors.torch
import torch
from PIL import Image
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

F16 = "text_model.embeddings.token_embedding.weight"  # the one tensor stored in F16 (keeps the file small)


def randomize(model, seed):
    """Every parameter of a CLIP-like model drawn at random (seeded): biases
    0.1 N(0, 1), LayerNorm gains 1 + 0.1 N(0, 1), embeddings 0.5 N(0, 1),
    Linear and conv weights N(0, 1 / fan_in) (unit-variance outputs);
    logit_scale CLIP's 2.6592. transformers' own init leaves LayerNorms at
    1 and 0, which would hide their use."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.named_parameters():
            if t.ndim == 0:
                continue
            if name.endswith(".bias"):
                t.copy_(0.1 * torch.randn(t.shape, generator=g, dtype=torch.float64))
            elif t.ndim == 1 and "class_embedding" not in name:  # LayerNorm gains
                t.copy_(1 + 0.1 * torch.randn(t.shape, generator=g, dtype=torch.float64))
            elif "embedding" in name:
                t.copy_(0.5 * torch.randn(t.shape, generator=g, dtype=torch.float64))
            else:
                t.copy_(torch.randn(t.shape, generator=g, dtype=torch.float64) / t[0].numel() ** 0.5)
    model.logit_scale.data.fill_(2.6592)


def save(model, out, preprocessor):
    """model.safetensors (F32, the token embedding F16), config.json and
    preprocessor_config.json into out."""
    os.makedirs(out, exist_ok=True)
    sd = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    for k, v in sd.items():
        if v.is_floating_point():
            sd[k] = v.half() if k == F16 else v.float()
    safetensors.torch.save_file(sd, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    model.config.to_json_file(os.path.join(out, "config.json"))
    json.dump(preprocessor, open(os.path.join(out, "preprocessor_config.json"), "w"), indent=1)


def pixels(shared, names, preprocessor):
    """The fixture images through transformers' Pillow CLIPImageProcessor,
    float64, one batch."""
    proc = CLIPImageProcessorPil(**{k: v for k, v in preprocessor.items() if k != "image_processor_type"})
    out = []
    for name in names:
        img = Image.open(os.path.join(shared, "fixtures", "images", name)).convert("RGB")
        out.append(torch.from_numpy(proc(images=img, return_tensors="np")["pixel_values"]).double())
    return torch.cat(out)
