#!/usr/bin/env python3
"""gpu_table.py — merge neglabel's bench_gpu JSON lines and gpu_torch.py's
JSON into the GPU benchmark tables (Markdown on stdout and in --md; the
same tables, the checks and all raw numbers in --json). Missing
measurements show as '—'; the cosine checks read the .npy files both sides
wrote in --work.

  python3 bench/gpu_table.py --ours ours.jsonl --torch torch.json --work DIR \
      --json gpu_bench.json --md gpu_bench.md [--steps steps.jsonl]
"""
import argparse, json, math, os, sys

import numpy as np

NAMES = {"clip-vit-b16": "ViT-B/16", "clip-vit-l14": "ViT-L/14", "clip-rn50": "RN50", "clip-rn101": "RN101"}
FP16_VS_TRANSFORMERS = 0.999
GPU_FP32_VS_CPU = 0.99999


def fmt(x, nd=0, unit=""):
    if x is None or (isinstance(x, float) and (math.isnan(x) or math.isinf(x))):
        return "—"
    if isinstance(x, str):
        return x
    return f"{x:,.{nd}f}{unit}"


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def fx(x):
    return "—" if x is None else f"{x:.2f}×"


def gib(b):
    return None if b is None else b / 2 ** 30


def worst_cos(a, b):
    n = min(a.shape[0], b.shape[0])
    a, b = a[:n].astype(np.float64), b[:n].astype(np.float64)
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    c = (a * b).sum(axis=1) / np.maximum(na * nb, 1e-300)
    return float(c.min()), n


def load_npy(path):
    try:
        return np.load(path) if os.path.exists(path) else None
    except Exception:
        return None


class Table:
    def __init__(self, title, columns, note=""):
        self.title, self.columns, self.rows, self.note = title, columns, [], note

    def add(self, *cells):
        self.rows.append([c if isinstance(c, str) else fmt(c) for c in cells])

    def md(self):
        out = [f"### {self.title}", "", "| " + " | ".join(self.columns) + " |",
               "| " + " | ".join("---" for _ in self.columns) + " |"]
        out += ["| " + " | ".join(r) + " |" for r in self.rows]
        if self.note:
            out += ["", self.note]
        return "\n".join(out) + "\n"

    def js(self):
        return {"title": self.title, "columns": self.columns, "rows": self.rows, "note": self.note}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", required=True)
    ap.add_argument("--torch", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--md", default=None)
    ap.add_argument("--steps", default=None)
    ap.add_argument("--models", default=None, help="expected models (default: those found in the results)")
    ap.add_argument("--resnet", default=None, help="the OpenCLIP ResNet of the ResNet rows (e.g. clip-rn50)")
    a = ap.parse_args()

    ours = []
    if os.path.exists(a.ours):
        for line in open(a.ours):
            line = line.strip()
            if line.startswith("{"):
                try:
                    ours.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
    tr = {}
    if os.path.exists(a.torch):
        try:
            tr = json.load(open(a.torch))
        except json.JSONDecodeError as e:
            tr = {"errors": [{"part": "json", "error": str(e)}]}
    steps = []
    if a.steps and os.path.exists(a.steps):
        steps = [json.loads(l) for l in open(a.steps) if l.strip().startswith("{")]

    def ours_of(kind, **kw):
        return [r for r in ours if r.get("kind") == kind and all(r.get(k) == v for k, v in kw.items())]

    def one(rows):
        return rows[-1] if rows else None

    def torch_img(model, impl, dtype, batch):
        return one([r for r in tr.get("images", []) if r["model"] == model and r["impl"] == impl
                    and r["dtype"] == dtype and r["batch"] == batch])

    if a.models:
        models = [m for m in a.models.split(",") if m]
        for m in models:
            NAMES.setdefault(m, m)
    else:
        models = [m for m in NAMES if "-vit-" in m and (any(r.get("model") == m for r in ours) or
                  any(r.get("model") == m for r in tr.get("images", [])))] or ["clip-vit-b16", "clip-vit-l14"]
    rn = a.resnet
    if rn:
        NAMES.setdefault(rn, rn)
    tables = []

    # ---- image embedding, model only
    t = Table("Image embedding, model only (images/s; preprocessed tensors already on the GPU)",
              ["model", "precision", "batch", "neglabel", "neglabel TFLOP/s", "transformers SDPA", "neglabel / SDPA",
               "transformers SDPA + torch.compile", "neglabel / compiled", "GPU memory neglabel (GiB)",
               "torch peak allocated (GiB)"],
              "TFLOP/s counts the model's matrix products analytically (linear layers, attention's two products, "
              "patch embedding). neglabel's memory is the drop in free device memory (weights + workspace for "
              "the largest batch); torch's is torch.cuda.max_memory_allocated (weights + activations).")
    batches = sorted({r["batch"] for r in ours_of("images")} | {r["batch"] for r in tr.get("images", [])}) or [256, 1024]

    def image_rows(t, m, impl_a, impl_b, peak_of_both):
        """One row per precision and batch: ours, torch's impl_a and impl_b, the ratios, memory (torch's: impl_a's
        peak, or the larger of the two)."""
        for p in ("fp16", "bf16"):
            for b in batches:
                o = one(ours_of("images", model=m, precision=p, batch=b))
                s, c = torch_img(m, impl_a, p, b), torch_img(m, impl_b, p, b)
                if not (o or s or c):
                    continue
                oi, si, ci = (o or {}).get("images_per_s"), (s or {}).get("images_per_s"), (c or {}).get("images_per_s")
                peaks = [(x or {}).get("peak_mem_bytes") for x in ((s, c) if peak_of_both else (s,))]
                t.add(NAMES[m], p, str(b), oi, (o or {}).get("tflops"), si, fx(ratio(oi, si)), ci, fx(ratio(oi, ci)),
                      fmt(gib((o or {}).get("gpu_mem_used_bytes")), 2), fmt(gib(max(x or 0 for x in peaks) or None), 2))

    for m in models:
        image_rows(t, m, "sdpa", "sdpa+compile", False)
    tables.append(t)

    # ---- a ResNet against open_clip
    if rn:
        t = Table(f"Image embedding, model only: {NAMES[rn]} against open_clip (images/s)",
                  ["model", "precision", "batch", "neglabel", "neglabel TFLOP/s", "open_clip", "neglabel / open_clip",
                   "open_clip channels_last", "neglabel / channels_last", "GPU memory neglabel (GiB)",
                   "torch peak allocated (GiB)"],
                  "OpenCLIP's ModifiedResNet (random weights, the shapes of OpenAI's RN50) in open_clip's own model, "
                  "16-bit as open_clip's precision=\"fp16\" makes it (BatchNorm in fp32, as OpenAI's clip.load), "
                  "NCHW as built and in channels_last; neglabel's TFLOP/s counts the convolutions, the attention "
                  "pool's projections and its attention.")
        image_rows(t, rn, "open_clip", "open_clip channels_last", True)
        tables.append(t)

    # ---- where an image forward pass spends its time (bench_gpu stages)
    gm = {r["dtype"]: r.get("tflops") for r in tr.get("gemm", [])}
    bw = (tr.get("copy") or {}).get("gbps")
    for m in models:
        for p in ("fp16", "bf16", "fp32"):
            st = ours_of("stage", model=m, precision=p)
            if not st:
                continue
            b0 = st[0]
            t = Table(f"Where neglabel's image forward pass spends its time: {NAMES[m]}, {p}, batch {b0['batch']} "
                      f"({b0['pass_ms']:.2f} ms per pass with an event after every op)",
                      ["stage", "ms per pass", "share", "TFLOP/s", "of the matmul ceiling", "GB/s (fewest bytes)",
                       "of the copy bandwidth"],
                      "Each stage summed over the layers. GB/s counts the fewest bytes the stage must move (each "
                      "operand read once, each result written once; the residual stream is fp32). Ceilings from "
                      f"this run: torch.matmul {fmt(gm.get(p), 0)} TFLOP/s, device copy {fmt(bw, 0)} GB/s.")
            for r in st:
                t.add(r["stage"], fmt(r["ms"], 3), fmt(100 * r["share"], 1, " %"),
                      fmt(r["tflops"], 0) if r["flops"] else "—",
                      fmt(100 * ratio(r["tflops"], gm.get(p)), 0, " %") if r["flops"] and gm.get(p) else "—",
                      fmt(r["gbps"], 0), fmt(100 * ratio(r["gbps"], bw), 0, " %") if bw else "—")
            tables.append(t)

    # ---- texts
    t = Table("Text embedding, the 70,000 NegLabel candidate prompts (prompts/s, fp16)",
              ["model", "prompts", "neglabel (tokenize + embed)", "transformers padded to 77", "neglabel / padded-77",
               "transformers padded per batch, corpus order", "neglabel / per-batch",
               "transformers padded per batch, sorted by length", "neglabel / sorted",
               "transformers tokenizer alone", "neglabel second run", "neglabel second run, prompts in their own tiles",
               "neglabel tokenizer alone"],
              "transformers runs the ids neglabel's tokenizer wrote (the same tokens on both sides), batch "
              "1024, forward + copy to host; its tokenization is timed apart and not included. "
              "neglabel's time is nl_embed_texts on the strings: tokenization included; the second run repeats "
              "it in the same process (kernels loaded, cuBLAS heuristics cached), and once more with every "
              "prompt in its own attention tiles (NEGLABEL_CUDA_TEXT_PACK=0: what the shared tiles save); "
              "the tokenizer alone runs on all cores.")
    tok = one(tr.get("tokenizer", []))
    for m in models:
        o = one(ours_of("texts", model=m))
        rows = {r["mode"]: r for r in tr.get("texts", []) if r["model"] == m}
        if not (o or rows):
            continue
        op = (o or {}).get("prompts_per_s")
        p77, pb, ps = (rows.get(k, {}).get("prompts_per_s") for k in ("pad77", "per_batch_unsorted", "per_batch_sorted"))
        t.add(NAMES[m], fmt((o or rows.get("pad77", {})).get("n")), op, p77, fx(ratio(op, p77)), pb, fx(ratio(op, pb)),
              ps, fx(ratio(op, ps)), fmt((tok or {}).get("prompts_per_s")),
              fmt(o["n"] / o["second_run_s"]) if o and o.get("second_run_s") else "—",
              fmt(o["n"] / o["unpacked_s"]) if o and o.get("unpacked_s") else "—",
              fmt(o["n"] / o["tokenize_s"]) if o and o.get("tokenize_s") else "—")
    tables.append(t)

    # ---- where the text tower's time goes (bench_gpu texts, under the stage clock)
    for m in models:
        st, ck = ours_of("text_stage", model=m), one(ours_of("text_clock", model=m))
        if not st or not ck:
            continue
        t = Table(f"Where neglabel's text embedding spends its time: {NAMES[m]}, {st[0].get('precision')}, "
                  f"{fmt(ck.get('n'))} prompts ({fmt(ck.get('clocked_ms'), 1)} ms clocked of "
                  f"{fmt(ck.get('wall_ms'), 1)} ms wall)",
                  ["stage", "ms", "share of the clocked time"],
                  "One more run of nl_embed_texts with an event after every op of every forward pass (at most "
                  "32,768 token rows each), summed over layers and passes; embed includes copying the packed "
                  "ids to the GPU. between_passes: from one pass's projection to the next pass's start, where "
                  "the GPU waits for the host (the texts are tokenized and packed a chunk of 8,192 ahead while "
                  "the GPU runs, so this is what the host failed to hide); wall minus clocked: the first "
                  "chunk's tokenization and packing, and the last copy back."
                  + (f" Only {ck.get('events')} of the ops were timed: the clock ran out of room."
                     if ck.get("events", 0) >= ck.get("cap", 1) else ""))
        for r in st:
            t.add(r["stage"], fmt(r["ms"], 3), fmt(100 * r["share"], 1, " %"))
        tables.append(t)

    # ---- mine + score
    t = Table("NegMining, NegLabel, AdaNeg and OODD scoring (seconds, random normalised embeddings, dim 512)",
              ["work", "neglabel GPU", "neglabel CPU", "CPU / GPU", "torch GPU (reference code, fp32)",
               "torch / neglabel GPU", "GPU vs CPU agreement"])
    mi, sc = one(ours_of("mine")), one(ours_of("score"))
    tm = one([r for r in tr.get("minescore", []) if r["what"] == "mine"])
    ts = one([r for r in tr.get("minescore", []) if r["what"] == "score"])
    if mi or tm:
        g, c = (mi or {}).get("gpu_s"), (mi or {}).get("cpu_s")
        c = c if c is not None and c >= 0 else None
        agree = "—"
        if mi and mi.get("same_selection") is not None:
            agree = (f"same selection: {'yes' if mi['same_selection'] else 'NO'}; largest quantile difference "
                     f"{mi.get('max_abs_qsim_diff', float('nan')):.1e}")
        t.add(f"NegMining: {fmt((mi or tm).get('n_cand'))} candidates × {fmt((mi or tm).get('n_id'))} ID labels",
              fmt(g, 3), fmt(c, 3), fx(ratio(c, g)), fmt((tm or {}).get("seconds"), 3),
              fx(ratio((tm or {}).get("seconds"), g)), agree)
    if sc or ts:
        g, c = (sc or {}).get("gpu_s"), (sc or {}).get("cpu_s")
        c = c if c is not None and c >= 0 else None
        agree = "—"
        if sc and sc.get("max_abs_diff", -1) >= 0:
            agree = (f"largest score difference {sc['max_abs_diff']:.1e} "
                     f"(relative {sc.get('max_rel_diff', float('nan')):.1e})")
        s0 = sc or ts
        t.add(f"NegLabel score: {fmt(s0.get('n_img'))} images × {fmt(s0.get('n_id', 0) + s0.get('n_neg', 0))} labels, "
              f"{s0.get('ngroup')} groups", fmt(g, 3), fmt(c, 3), fx(ratio(c, g)), fmt((ts or {}).get("seconds"), 3),
              fx(ratio((ts or {}).get("seconds"), g)), agree)
    streams = [(r, f"AdaNeg, {r.get('variant')}-adaptive", f"memory {r.get('memory')}") for r in ours_of("adaneg")]
    streams += [(r, "OODD", f"queue {r.get('queue')}, k {r.get('k')}, batches of {r.get('batch')}")
                for r in ours_of("oodd")]
    for r, name, params in streams:
        c = r.get("cpu_s")
        c = c if c is not None and c >= 0 else None
        agree = "—"
        if r.get("max_rel_diff", -1) >= 0:
            agree = (f"largest score difference {r['max_rel_diff']:.1e} relative; same top ID labels: "
                     f"{'yes' if r.get('same_top_id') else 'NO'}")
        t.add(f"{name}: one stream of {fmt(r.get('n_img'))} images × "
              f"{fmt(r.get('n_id', 0) + r.get('n_neg', 0))} labels, {r.get('ngroup')} groups, {params}",
              fmt(r.get("gpu_s"), 3), fmt(c, 3), fx(ratio(c, r.get("gpu_s"))), "—", "—", agree)
    tables.append(t)

    # ---- end to end
    t = Table("End to end: JPEG files → embeddings (images/s)",
              ["model", "images", "neglabel nl_embed_images (GPU fp16)", "decode + preprocess only (all cores)",
               "end-to-end / decode-only"],
              "Synthetic 500×375 quality-90 JPEGs (bench/gpu_images.py), in the page cache.")
    for m in models:
        o = one(ours_of("e2e", model=m))
        if o:
            t.add(NAMES[m], fmt(o.get("n")), o.get("images_per_s"),
                  f"{fmt(o.get('decode_images_per_s'))} ({o.get('threads')} threads)",
                  fmt(100 * ratio(o.get("images_per_s"), o.get("decode_images_per_s")), 0, " %"))
    tables.append(t)

    # ---- GEMM rate
    t = Table("Matrix-product rate: neglabel's model vs cuBLAS's ceiling (TFLOP/s)",
              ["precision", "neglabel, best image row", "torch.matmul 8192³ (random data)", "fraction of the ceiling",
               "neglabel's GEMMs alone (stage clock)", "their fraction of the ceiling"],
              "The best image row counts the whole pass's FLOPs over its whole time; the GEMMs alone: the FLOPs "
              "of the patch, q/k/v, output, MLP and projection products over the stage clock's time for those "
              "ops (the best model at that precision).")
    gemm_stages = ("patch_gemm", "qkv", "o_proj", "fc1", "fc2", "head")
    for p in ("fp16", "bf16"):
        rows = [r for r in ours_of("images", precision=p) if r.get("model") in models]  # the ViTs
        best = max(rows, key=lambda r: r.get("tflops", 0)) if rows else None
        g = one([r for r in tr.get("gemm", []) if r["dtype"] == p])
        gemm_only = []
        for m in models:
            st = [r for r in ours_of("stage", model=m, precision=p) if r.get("stage") in gemm_stages]
            ms = sum(r.get("ms", 0) for r in st)
            if st and ms > 0:
                gemm_only.append((sum(r.get("flops", 0) for r in st) / ms / 1e9, m))
        go = max(gemm_only) if gemm_only else None
        if best or g or go:
            t.add(p, f"{fmt(best['tflops'], 0)} ({NAMES.get(best['model'], best['model'])}, batch {best['batch']})"
                  if best else "—", fmt((g or {}).get("tflops"), 0),
                  fmt(100 * ratio((best or {}).get("tflops"), (g or {}).get("tflops")), 0, " %")
                  if best and g else "—",
                  f"{fmt(go[0], 0)} ({NAMES.get(go[1], go[1])})" if go else "—",
                  fmt(100 * ratio(go[0], (g or {}).get("tflops")), 0, " %") if go and g else "—")
    tables.append(t)

    # ---- checks
    checks = []
    t = Table("Checks", ["check", "model", "rows", "worst cosine", "1 − worst cosine", "threshold", "result"],
              "Random-weight models are numerically tamer than trained ones: the fp16 checks are necessary, "
              "not sufficient; rerun them on real weights.")

    def check(name, model, a_path, b_path, thr):
        x, y = load_npy(a_path), load_npy(b_path)
        if x is None or y is None:
            missing = [os.path.basename(p) for p, v in ((a_path, x), (b_path, y)) if v is None]
            checks.append({"check": name, "model": model, "result": "missing", "missing": missing})
            t.add(name, NAMES.get(model, model), "—", "—", "—", "—" if thr is None else f"≥ {thr}", "MISSING")
            return
        w, n = worst_cos(x, y)
        res = "info" if thr is None else ("PASS" if w >= thr else "FAIL")
        checks.append({"check": name, "model": model, "rows": n, "worst_cosine": w, "threshold": thr, "result": res})
        t.add(name, NAMES.get(model, model), str(n), f"{w:.7f}", f"{1 - w:.1e}", "—" if thr is None else f"≥ {thr}", res)

    W = a.work

    def image_checks(m, ref):  # our embeddings against ref's (transformers or open_clip) and our CPU's
        check(f"neglabel GPU fp16 vs {ref} fp16 (images)", m, f"{W}/cos_{m}_gpu_fp16.npy",
              f"{W}/cos_{m}_torch_fp16.npy", FP16_VS_TRANSFORMERS)
        check("neglabel GPU fp32 vs neglabel CPU fp32 (images)", m, f"{W}/cos_{m}_gpu_fp32.npy",
              f"{W}/cos_{m}_cpu_fp32.npy", GPU_FP32_VS_CPU)
        for a_, b_ in (("neglabel GPU fp16", "gpu_fp16"), (f"{ref} fp16", "torch_fp16"), ("neglabel CPU fp32", "cpu_fp32")):
            check(f"{a_} vs {ref} fp32 (images)", m, f"{W}/cos_{m}_{b_}.npy", f"{W}/cos_{m}_torch_fp32.npy", None)

    for m in models:
        image_checks(m, "transformers")
        check("neglabel GPU fp16 vs transformers fp16 (texts, padded-77)", m, f"{W}/texts_{m}_ours_fp16.npy",
              f"{W}/texts_{m}_torch_fp16.npy", FP16_VS_TRANSFORMERS)
    if rn:
        image_checks(rn, "open_clip")
    if tok:
        res = "PASS" if tok.get("mismatches") == 0 else "FAIL"
        checks.append({"check": "transformers tokenizer ids == neglabel ids", "result": res,
                       "mismatches": tok.get("mismatches"), "first_mismatch": tok.get("first_mismatch")})
        t.add("transformers tokenizer ids == neglabel's", "—", fmt(tok.get("n")), "—", "—",
              f"{tok.get('mismatches')} prompts differ", res)
    tables.append(t)

    env = tr.get("env", {})
    dev = one(ours_of("devices"))
    head = "## GPU benchmark: neglabel vs PyTorch/transformers\n\n"
    head += (f"{env.get('device', '?')}; torch {env.get('torch', '?')}, transformers {env.get('transformers', '?')}, "
             + (f"open_clip {env['open_clip']}, " if env.get("open_clip") else "") +
             f"CUDA {env.get('cuda', '?')}. Random weights with the shapes of OpenAI's CLIP ViT-B/16 and ViT-L/14 "
             f"(bench/gpu_models.py)" + (f" and {NAMES[rn]} (tests/openclip_ckpt.h)" if rn else "") +
             "; both sides load the same safetensors files.\n")
    problems = []
    for e in tr.get("errors", []):
        problems.append(f"torch {e.get('part')}: {e.get('error')}")
    for s in tr.get("skipped", []):
        problems.append(f"torch skipped {s.get('part')}: {s.get('reason')}")
    for s in steps:
        if s.get("rc") not in (0, None):
            problems.append(f"step {s.get('step')}: exit {s.get('rc')}" + (" (timed out)" if s.get("rc") in (124, 137) else ""))
    md = head + "\n" + "\n".join(x.md() for x in tables)
    if problems:
        md += "\n### Problems\n\n" + "\n".join(f"- {p}" for p in problems) + "\n"
    n_fail = sum(1 for c in checks if c["result"] in ("FAIL", "missing"))
    md += f"\nchecks: {sum(1 for c in checks if c['result'] == 'PASS')} passed, {n_fail} failed or missing\n"
    print(md)
    if a.md:
        with open(a.md, "w") as f:
            f.write(md)
    with open(a.json, "w") as f:
        json.dump({"env": env, "devices": dev.get("info") if dev else None,
                   "tables": {x.title: x.js() for x in tables}, "checks": checks, "problems": problems,
                   "steps": steps, "raw": {"neglabel": ours, "torch": tr}}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
