#!/usr/bin/env python3
"""Write tests/data/tokenizer/: tokenizer.json files as transformers 5 saves
them, and the ids transformers gives with them, for test_tokenizer_sources.

transformers 5's CLIPTokenizer.save_pretrained writes tokenizer.json (and
tokenizer_config.json) only, no vocab.json / merges.txt, so a CLIP model a
user fine-tunes and saves today has no other tokenizer file. To keep the
golden small, the tokenizer is OpenAI's CLIP BPE cut to its first 2,000
merges (the 512 byte symbols, the 2,000 joins in rank order, then
<|startoftext|> and <|endoftext|>: ids dense, as simple_tokenizer.py builds
the full one), loaded by transformers' CLIPTokenizer from vocab.json +
merges.txt written here, and saved by it.

- clip2000.tokenizer.json: what save_pretrained wrote (merges as pairs
  ["a", "b"], tokenizers >= 0.20).
- clip2000-legacy.tokenizer.json: the same with each merge as one string
  "a b", the form tokenizers < 0.20 wrote (openai/clip-vit-base-patch32's
  tokenizer.json on the Hub has it).
- clip2000.golden.json: versions, and for each text the ids transformers'
  tokenizer (from the saved folder, AutoTokenizer) gives, SOT/EOT included,
  not truncated. The texts are ones where transformers' normalizer (NFC,
  whitespace, lowercase) and simple_tokenizer.py's cleaning (ftfy,
  html.unescape, whitespace, lower) agree, so the same ids must come out
  of neglabel.

Run with transformers and tokenizers importable (e.g. a venv with
transformers 5.x):
  python tests/gen/gen_tokenizer_json.py ../shared/clip-tokenizer tests/data/tokenizer
"""
import json
import os
import shutil
import sys
import tempfile

import tokenizers
import transformers
from transformers import AutoTokenizer, CLIPTokenizer

N_MERGES = 2000

TEXTS = [
    "a photo of a dog.",
    "a photo of a goldfish, a type of fish",
    "The quick brown fox jumps over the lazy dog!",
    "tench",
    "great white shark",
    "a photo of the number 42 and 3.14159",
    "it's what they're doing, isn't it?",
    "CAPITALS and MiXeD case",
    "  leading and   inner   spaces  ",
    "tabs\tand\nnewlines",
    "café résumé naïve",
    "emoji 🐶 and symbols #$%&*()",
    "unknown zzxqj words qwertyuiop",
    "hyphen-ated and under_scored and slash/ed",
    "",
]


def main():
    src, out = sys.argv[1], sys.argv[2]
    vocab_full = json.load(open(os.path.join(src, "vocab.json"), encoding="utf-8"))
    lines = open(os.path.join(src, "merges.txt"), encoding="utf-8").read().split("\n")
    merges = [l for l in lines[1 : N_MERGES + 1]]
    assert len(merges) == N_MERGES
    by_id = sorted(vocab_full.items(), key=lambda kv: kv[1])
    vocab = {tok: i for tok, i in by_id[:512]}
    for m in merges:
        vocab["".join(m.split(" "))] = len(vocab)
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory() as d:
        vf, mf = os.path.join(d, "vocab.json"), os.path.join(d, "merges.txt")
        json.dump(vocab, open(vf, "w", encoding="utf-8"), ensure_ascii=False)
        open(mf, "w", encoding="utf-8").write("#version: 0.2\n" + "\n".join(merges) + "\n")
        saved = os.path.join(d, "saved")
        CLIPTokenizer(vf, mf).save_pretrained(saved)
        files = sorted(os.listdir(saved))
        assert "vocab.json" not in files, files
        tj = os.path.join(saved, "tokenizer.json")
        shutil.copyfile(tj, os.path.join(out, "clip2000.tokenizer.json"))
        j = json.load(open(tj, encoding="utf-8"))
        assert all(isinstance(m, list) for m in j["model"]["merges"])
        j["model"]["merges"] = [" ".join(m) for m in j["model"]["merges"]]
        json.dump(j, open(os.path.join(out, "clip2000-legacy.tokenizer.json"), "w", encoding="utf-8"),
                  ensure_ascii=False, indent=2)
        tok = AutoTokenizer.from_pretrained(saved)
        golden = {
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
            "saved_files": files,
            "tokenizer_class": type(tok).__name__,
            "texts": [{"text": t, "ids": tok(t)["input_ids"]} for t in TEXTS],
        }
    json.dump(golden, open(os.path.join(out, "clip2000.golden.json"), "w", encoding="utf-8"), ensure_ascii=False,
              indent=1)


if __name__ == "__main__":
    main()
