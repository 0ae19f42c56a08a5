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


def pixels(shared, names, preprocessor, processor=CLIPImageProcessorPil):
    """The fixture images through transformers' Pillow CLIPImageProcessor
    (or another Pillow image processor class), float64, one batch."""
    proc = processor(**{k: v for k, v in preprocessor.items() if k != "image_processor_type"})
    out = []
    for name in names:
        img = Image.open(os.path.join(shared, "fixtures", "images", name)).convert("RGB")
        out.append(torch.from_numpy(proc(images=img, return_tensors="np")["pixel_values"]).double())
    return torch.cat(out)


def randomize_batchnorm(model, seed, run=None):
    """Every BatchNorm of a convolutional tower drawn at random (seeded),
    its buffers too: gains 1 + 0.2 N(0, 1), biases 0.2 N(0, 1), running
    means 0.2 N(0, 1), running variances 0.5 + U(0, 1) (positive). Left at
    torch's 1, 0, 0 and 1 they would hide a missing or misplaced
    (x - mean) / sqrt(var + eps) * gain + bias. With run (a function that
    runs the model, in eval mode, on some inputs) the statistics are its
    inputs' instead, one BatchNorm after another in the order they run,
    then drawn around them (mean + 0.2 N(0, 1) sd, variance times 0.5 +
    U(0, 1)): a random network's activations otherwise fade layer after
    layer until every image gives nearly the same embedding.
    num_batches_tracked (an int64 buffer eval() never reads) is left as it
    is."""
    g = torch.Generator().manual_seed(seed)
    bns = [m for _, m in model.named_modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for m in bns:
            n, dt = m.num_features, m.running_mean.dtype
            m.weight.copy_(1 + 0.2 * torch.randn(n, generator=g, dtype=torch.float64))
            m.bias.copy_(0.2 * torch.randn(n, generator=g, dtype=torch.float64))
            m.running_mean.copy_((0.2 * torch.randn(n, generator=g, dtype=torch.float64)).to(dt))
            m.running_var.copy_((0.5 + torch.rand(n, generator=g, dtype=torch.float64)).to(dt))
        if run is None:
            return
        order = []
        hooks = [m.register_forward_pre_hook(lambda m, x: order.append(m)) for m in bns]
        run()
        for h in hooks:
            h.remove()
        for m in dict.fromkeys(order):  # as they run (each once)
            got = []
            h = m.register_forward_pre_hook(lambda m, x: got.append(x[0]))
            run()
            h.remove()
            x = got[0].transpose(0, 1).reshape(m.num_features, -1)
            mean, var = x.mean(1), x.var(1, unbiased=False)
            m.running_mean.copy_(mean + 0.2 * var.sqrt() * torch.randn(m.num_features, generator=g,
                                                                        dtype=torch.float64).to(mean.dtype))
            m.running_var.copy_(var * (0.5 + torch.rand(m.num_features, generator=g,
                                                        dtype=torch.float64).to(var.dtype)))


def pixels_efficientnet(shared, names, preprocessor):
    """The fixture images through transformers' Pillow
    EfficientNetImageProcessor (ALIGN's: resize, centre crop, rescale with
    its offset, normalize, include_top's second division by std), float64
    (from the processor's float32), one batch."""
    from transformers.models.efficientnet.image_processing_pil_efficientnet import EfficientNetImageProcessorPil
    proc = EfficientNetImageProcessorPil(**{k: v for k, v in preprocessor.items() if k != "image_processor_type"})
    out = []
    for name in names:
        img = Image.open(os.path.join(shared, "fixtures", "images", name)).convert("RGB")
        out.append(torch.from_numpy(proc(images=img, return_tensors="np")["pixel_values"]).double())
    return torch.cat(out)
