#!/usr/bin/env python3
"""Write tests/data/tokenizer/added.golden.json: the ids transformers gives
for CLIP folders with added tokens, for test_tokenizer_sources.

LAION's CLIP repositories on the Hub set pad_token to "!" (id 0, a byte
symbol of the vocabulary): tokenizer_config.json lists it in
added_tokens_decoder and special_tokens_map.json names it. Hugging Face
tokenizers matches added tokens whole in the text before its normalizer,
pre-tokenizer and BPE, so transformers gives id 0 for each "!" where
OpenAI's BPE gives "!</w>" (256) or merges it ("!!</w>"). A fine-tune's
new words (tokenizer.add_tokens) are matched the same way, normalized
(after lowercasing) by default, with lstrip / rstrip / single_word as set.

The tokenizer is the 2,000-merge cut of OpenAI's BPE of
gen_tokenizer_json.py (clip2000.tokenizer.json). Each folder below is
written with vocab.json + merges.txt (the test writes those two from
clip2000.tokenizer.json's model) or as transformers 5 re-saves it
(tokenizer.json: clip2000.tokenizer.json with "added_tokens" replaced, which
this script checks is all that differs), plus the small files stored here;
transformers (AutoTokenizer) loads it and its ids for each text are stored.

Texts avoid the known differences between transformers' normalizer (NFC,
whitespace, lowercase) and simple_tokenizer.py's cleaning (ftfy,
html.unescape) that neglabel runs, and the two places where neglabel
handles CLIP's own specials as simple_tokenizer.py does, not as tokenizers
(which matches them whole in the raw text first): written in another case
("<|ENDOFTEXT|>": transformers runs BPE on it, neglabel gives EOT) and glued
to punctuation ("?<|endoftext|>": neglabel's split regex takes the whole run
as one piece and BPE splits it, transformers gives "?</w>" and EOT).

Run with transformers and tokenizers importable (transformers 5.x):
  python tests/gen/gen_tokenizer_added.py ../shared/clip-tokenizer tests/data/tokenizer
"""
import json
import os
import shutil
import sys
import tempfile

import tokenizers
import transformers
from tokenizers import AddedToken
from transformers import AutoTokenizer

TEXTS = [
    "hello!", "!!", "hi !", "a!b", "!", "hello world!!!", "wow! <|endoftext|> ok", "a <|endoftext|>b",
    "HELLO!", "Hello World!", "it's! what?", "!hello", "!?!", "a !! b", " ! ", "<|startoftext|>x",
    "a photo of a dog.", "", "newword", "NewWord", "xnewwordx", "a newword b", "newword!",
    "newwordnewword", "<sks>", "a<sks>b", "a  <sks>  b", "<SKS>", "<sks><sks>", "ab<tok2>cd", "ab <tok2> cd",
    "<tok2>", "x<tok2>", "é<tok2>", "1<tok2>", "_<tok2>", "<tok2>_", "(<tok2>)", "<tok2><tok2>", "specialx",
    "SpecialX", "a specialx!", "tabs\tand\nnewlines!",
]


def entry(content, special=True, normalized=False, lstrip=False, rstrip=False, single_word=False):
    return {"content": content, "lstrip": lstrip, "normalized": normalized, "rstrip": rstrip,
            "single_word": single_word, "special": special}


def main():
    src, out = sys.argv[1], sys.argv[2]
    base = json.load(open(os.path.join(out, "clip2000.tokenizer.json"), encoding="utf-8"))
    vocab = base["model"]["vocab"]
    merges = [" ".join(m) for m in base["model"]["merges"]]
    sot, eot = vocab["<|startoftext|>"], vocab["<|endoftext|>"]
    specials = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}
    cfg_plain = dict(specials, tokenizer_class="CLIPTokenizer", do_lower_case=True, model_max_length=77)
    # laion/CLIP-ViT-H-14-laion2B-s32B-b79K's files, cut to this vocabulary
    laion_cfg = dict(cfg_plain, pad_token="!", added_tokens_decoder={
        "0": entry("!"), str(sot): entry("<|startoftext|>"), str(eot): entry("<|endoftext|>")})
    laion_map = {k: {"content": v, "lstrip": False, "normalized": True, "rstrip": False, "single_word": False}
                 for k, v in specials.items()}
    laion_map["pad_token"] = "!"
    folders = {
        "laion-files": {"tokenizer_config.json": laion_cfg, "special_tokens_map.json": laion_map},
        "laion-map-only": {"tokenizer_config.json": cfg_plain, "special_tokens_map.json": {"pad_token": "!"}},
        "laion-pad-dict": {"tokenizer_config.json": dict(cfg_plain, pad_token=dict(entry("!", normalized=True),
                                                                                    __type="AddedToken"))},
        "added-tokens-json": {"tokenizer_config.json": cfg_plain, "added_tokens.json": {"newword": len(vocab)}},
        # with added_tokens_decoder, transformers reads neither added_tokens.json
        # nor special_tokens_map.json; without, the map's pad_token replaces
        # the config's
        "decoder-and-added-json": {"tokenizer_config.json": laion_cfg, "special_tokens_map.json": laion_map,
                                   "added_tokens.json": {"newword": len(vocab)}},
        "legacy-map-and-added-json": {"tokenizer_config.json": dict(cfg_plain, pad_token="<|endoftext|>"),
                                      "special_tokens_map.json": {"pad_token": "!"},
                                      "added_tokens.json": {"newword": len(vocab)}},
    }
    golden = {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__, "texts": TEXTS,
              "folders": []}
    with tempfile.TemporaryDirectory() as d:
        def write(name, files, tokenizer_json=None):
            f = os.path.join(d, name)
            os.makedirs(f)
            if tokenizer_json is None:
                json.dump(vocab, open(os.path.join(f, "vocab.json"), "w", encoding="utf-8"), ensure_ascii=False)
                open(os.path.join(f, "merges.txt"), "w", encoding="utf-8").write(
                    "#version: 0.2\n" + "\n".join(merges) + "\n")
            else:
                json.dump(tokenizer_json, open(os.path.join(f, "tokenizer.json"), "w", encoding="utf-8"),
                          ensure_ascii=False)
            for k, v in files.items():
                json.dump(v, open(os.path.join(f, k), "w", encoding="utf-8"), ensure_ascii=False)
            return f

        def record(name, folder, files, added=None):
            tok = AutoTokenizer.from_pretrained(folder)
            e = {"name": name, "files": files, "ids": [tok(t)["input_ids"] for t in TEXTS]}
            if added is not None:
                e["tokenizer_json_added_tokens"] = added
            golden["folders"].append(e)
            return tok

        def resave(name, tok):
            saved = os.path.join(d, name + ".saved")
            tok.save_pretrained(saved)
            j = json.load(open(os.path.join(saved, "tokenizer.json"), encoding="utf-8"))
            added = j.pop("added_tokens")
            rest = dict(base)
            rest.pop("added_tokens")
            assert j == rest, "re-saved tokenizer.json differs from clip2000.tokenizer.json beyond added_tokens"
            files = {k: json.load(open(os.path.join(saved, k), encoding="utf-8"))
                     for k in sorted(os.listdir(saved)) if k != "tokenizer.json"}
            record(name, write(name, files, dict(base, added_tokens=added)), files, added)

        for name, files in folders.items():
            tok = record(name, write(name, files), files)
            if name == "laion-files":
                resave("laion-resaved", tok)
                # a fine-tune's new tokens, each way transformers sets them
                tok.add_tokens(["newword"])
                tok.add_tokens([AddedToken("<sks>", lstrip=True, rstrip=True, normalized=False)])
                tok.add_tokens([AddedToken("<tok2>", single_word=True, normalized=False)])
                tok.add_special_tokens({"additional_special_tokens": [AddedToken("SpecialX", normalized=True)]})
                resave("new-tokens-resaved", tok)
                # the same tokens as transformers 4 writes them beside vocab.json
                decoder = {str(k): entry(v.content, v.special, v.normalized, v.lstrip, v.rstrip, v.single_word)
                           for k, v in tok.added_tokens_decoder.items()}
                files = {"tokenizer_config.json": dict(laion_cfg, added_tokens_decoder=decoder)}
                record("new-tokens-files", write("new-tokens-files", files), files)
    with open(os.path.join(out, "added.golden.json"), "w", encoding="utf-8") as f:
        json.dump(golden, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
