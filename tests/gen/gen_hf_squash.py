#!/usr/bin/env python3
"""Write tests/data/hf_squash/golden.json: image embeddings of the tiny
fixture CLIP (../shared/fixtures/tiny-clip) when its image processor says
size {"height": 224, "width": 224}: CLIPImageProcessorPil (transformers
5's Pillow backend; its default CLIPImageProcessor runs torchvision on
tensors, which is not Pillow's arithmetic) then resizes both sides to 224 (no aspect ratio kept) and the centre
crop changes nothing. For cli_pipeline.sh's check that neglabel reads such
a preprocessor_config.json as a squash resize.

The embeddings are CLIPModel's (transformers, float64: the model and the
pixel values) image projections, not normalised, for fixture images that
are not square. Pillow must be 13 (the library follows Pillow 13's
resampling; Pillow <= 12 resized odd-227x389.png's squash in the other
pass order), transformers and torch from a venv:

  /path/to/venv/bin/python tests/gen/gen_hf_squash.py ../shared tests/data/hf_squash

The golden was written with Pillow 9.4, then brought to Pillow 13 without
torch by tests/gen/gen_hf_squash_pillow13.py (see its "pillow13_update").
"""
import json
import os
import sys

import PIL
import torch
import transformers
from PIL import Image
from transformers import CLIPModel
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

IMAGES = ["dog.jpg", "horses.jpg", "odd-227x389.png", "wide-1700x40.png"]
PREPROCESSOR = {"size": {"height": 224, "width": 224}, "crop_size": {"height": 224, "width": 224},
                "do_center_crop": True, "do_resize": True, "do_normalize": True, "do_rescale": True,
                "do_convert_rgb": True, "resample": 3, "rescale_factor": 1 / 255,
                "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],
                "image_processor_type": "CLIPImageProcessor"}


def main():
    shared, out = sys.argv[1], sys.argv[2]
    assert PIL.__version__.split(".")[0] == "13", "Pillow %s: the goldens need Pillow 13" % PIL.__version__
    tiny = os.path.join(shared, "fixtures", "tiny-clip")
    proc = CLIPImageProcessorPil(**{k: v for k, v in PREPROCESSOR.items() if k != "image_processor_type"})
    model = CLIPModel.from_pretrained(tiny).eval().double()
    emb = {}
    with torch.no_grad():
        for name in IMAGES:
            img = Image.open(os.path.join(shared, "fixtures", "images", name)).convert("RGB")
            assert img.width != img.height, name
            px = proc(images=img, return_tensors="np")["pixel_values"]
            pooled = model.vision_model(pixel_values=torch.from_numpy(px).double()).pooler_output
            emb[name] = model.visual_projection(pooled)[0].tolist()
    os.makedirs(out, exist_ok=True)
    json.dump({"transformers": transformers.__version__, "torch": torch.__version__, "pillow": PIL.__version__,
               "preprocessor_config": PREPROCESSOR, "images": emb},
              open(os.path.join(out, "golden.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
