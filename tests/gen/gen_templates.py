#!/usr/bin/env python3
"""Write tests/data/templates.golden.json for tests/test_templates.c: what
Python's str.format gives for prompt templates, as the NegLabel reference
builds its prompts (prompt_templete[pos].format(word)).

Each entry: {"template", "word", "prompt"} where template.format(word)
succeeds, {"template", "word", "error"} (the exception's type) where it
raises. Two kinds that Python accepts are refused by neglabel on purpose,
recorded as {"error": "refused"}: a field with a conversion or a format
spec ("{0!r}", "{:>9}": no prompt template needs them), and a template
without any field, which Python returns unchanged for every word (those
are left out here; tests/test_templates.c checks a few).
  python3 tests/gen/gen_templates.py > tests/data/templates.golden.json"""
import json
import sys

TEMPLATES = [
    "the nice {}", "This is a {} photo", "a photo of a {}", "{}", "{}.",
    "{0}", "{0} and {0}", "a {{x}} {}", "{{}} {}", "{{{}}}", "{}}}", "a {{ {} }}",
    "{} {}", "{} and {}", "{} {0}", "{0} {}", "{1}", "{name}", "{0!r}", "{:>9}", "{ }",
    "{", "}", "{}}", "{{}", "a {b} {}", "{{}}",
]
WORDS = ["cat", "ice cream", "{}", "a {{b}} c", "café"]

rows = []
for t in TEMPLATES:
    for w in WORDS:
        try:
            r = {"template": t, "word": w, "prompt": t.format(w)}
            if "!" in t or ":" in t:
                r = {"template": t, "word": w, "error": "refused"}
        except Exception as e:  # noqa: BLE001 - the kind is what is recorded
            r = {"template": t, "word": w, "error": type(e).__name__}
        if "prompt" in r and r["prompt"] == t.format("other"):
            continue  # no field: neglabel refuses these on purpose
        rows.append(r)
sys.stdout.write('{"python": "%s", "cases": [\n' % sys.version.split()[0])
sys.stdout.write(",\n".join(json.dumps(r, ensure_ascii=True) for r in rows))
sys.stdout.write("\n]}\n")
