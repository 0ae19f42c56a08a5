#!/usr/bin/env python3
"""Write tests/data/tokenizer/specials.golden.json: for texts that hold the
special-token strings, the ids of OpenAI's clip/simple_tokenizer.py (what
neglabel gives for Hugging Face folders) and of open_clip's SimpleTokenizer
(what it must give for OpenCLIP folders), SOT/EOT included, not truncated.

open_clip's SimpleTokenizer names its special tokens "<start_of_text>" and
"<end_of_text>" (ids 49406 and 49407, as OpenAI's) and puts those in its
split regex, so in a text it maps "<end_of_text>" to EOT and splits
OpenAI's "<|endoftext|>" into ordinary BPE tokens; OpenAI's tokenizer does
the opposite. Everything else in the two tokenizers is the same code.

Both tokenizers are loaded from their source files without torch (open_clip's
tokenizer.py imports torch only for its __call__'s tensors):
  python3 -m venv /tmp/venv-oc && /tmp/venv-oc/bin/pip install ftfy regex
  /tmp/venv-oc/bin/pip install --no-deps open_clip_torch
  /tmp/venv-oc/bin/python tests/gen/gen_openclip_specials.py \\
      --clip /work/.mirror/openai+CLIP/repo \\
      --bpe ../shared/clip-tokenizer/bpe_simple_vocab_16e6.txt.gz \\
      > tests/data/tokenizer/specials.golden.json
--clip is a checkout or bare mirror of github.com/openai/CLIP (HEAD's
clip/simple_tokenizer.py)."""
import argparse
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import types

TEXTS = [
    "<|startoftext|>",
    "<|endoftext|>",
    "<|ENDOFTEXT|>",
    "a photo of a <|endoftext|> dog",
    "<|endoftext|><|endoftext|>",
    "<start_of_text>",
    "<end_of_text>",
    "<END_OF_TEXT>",
    "a photo of a <end_of_text> dog",
    "x<start_of_text>y<end_of_text>z",
    "<|startoftext|> <start_of_text> <|endoftext|> <end_of_text>",
    "<end_of_text",
    "end_of_text>",
    "the nice cat",
]


def load_module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clip", required=True)
    ap.add_argument("--bpe", required=True)
    a = ap.parse_args()
    d = tempfile.mkdtemp()
    src = os.path.join(a.clip, "clip", "simple_tokenizer.py")
    if os.path.exists(src):
        text = open(src).read()
    else:
        text = subprocess.run(["git", "--git-dir", a.clip, "show", "HEAD:clip/simple_tokenizer.py"],
                              check=True, capture_output=True, text=True).stdout
    with open(os.path.join(d, "simple_tokenizer.py"), "w") as f:
        f.write(text)
    openai = load_module(os.path.join(d, "simple_tokenizer.py"), "oa_simple_tokenizer").SimpleTokenizer(a.bpe)

    # open_clip's tokenizer.py names torch in annotations only
    stub = types.ModuleType("torch")
    stub.LongTensor = stub.Tensor = object
    sys.modules["torch"] = stub
    spec = importlib.util.find_spec("open_clip")
    oc_path = os.path.join(os.path.dirname(spec.origin), "tokenizer.py")
    openclip = load_module(oc_path, "oc_tokenizer").SimpleTokenizer(a.bpe)
    del sys.modules["torch"]

    rows = []
    for t in TEXTS:
        rows.append({"text": t,
                     "openai": [49406] + openai.encode(t) + [49407],
                     "openclip": [openclip.sot_token_id] + openclip.encode(t) + [openclip.eot_token_id]})
    out = {"open_clip_torch": importlib.metadata.version("open_clip_torch"),
           "ftfy": importlib.metadata.version("ftfy"), "regex": importlib.metadata.version("regex"),
           "texts": rows}
    head = json.dumps({k: v for k, v in out.items() if k != "texts"})[:-1]
    sys.stdout.write(head + ', "texts": [\n' + ",\n".join(json.dumps(r) for r in rows) + "\n]}\n")


if __name__ == "__main__":
    main()
