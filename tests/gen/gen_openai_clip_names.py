#!/usr/bin/env python3
"""Write tests/data/openai_clip_models.tsv: the names OpenAI's `clip`
package loads (clip.available_models()) and the URL clip.load downloads each
from, one "<name>\t<url>" line per model in the package's order. The SHA-256
clip.load checks a download against is the URL's second-to-last part.
cli_openai_clip.sh checks that neglabel knows exactly these names, files and
digests.

Read from the package's source (clip/clip.py's _MODELS, a dict literal),
without importing it (it needs torch): made from openai-clip 1.0.1, the
PyPI sdist of github.com/openai/CLIP.

  pip download --no-deps openai-clip==1.0.1 && tar xzf openai-clip-1.0.1.tar.gz
  python3 tests/gen/gen_openai_clip_names.py openai-clip-1.0.1/clip/clip.py
"""
import ast
import sys

src = open(sys.argv[1], encoding="utf-8").read()
models = None
for node in ast.parse(src).body:
    if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_MODELS" for t in node.targets):
        models = ast.literal_eval(node.value)
assert models, "no _MODELS in " + sys.argv[1]
with open("tests/data/openai_clip_models.tsv", "w", encoding="utf-8") as f:
    f.write("# clip.clip._MODELS of openai-clip 1.0.1 (tests/gen/gen_openai_clip_names.py)\n")
    for name, url in models.items():
        f.write(f"{name}\t{url}\n")
print(len(models), "models")
