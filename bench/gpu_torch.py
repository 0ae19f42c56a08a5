#!/usr/bin/env python3
"""gpu_torch.py — the PyTorch / Hugging Face transformers side of the GPU
benchmark (bench/gpu.sh), on the same GPU and the same random-weight
checkpoints (bench/gpu_models.py) as neglabel's bench_gpu:

  gemm     torch.matmul 8192^3 fp16 and bf16 on random data: TFLOP/s; a
           2 GiB device-to-device copy: GB/s (bytes read + written)
  images   CLIPModel.get_image_features, attn_implementation="sdpa", from
           preprocessed tensors already on the GPU, fp16 and bf16, batch 256
           and 1024 (CUDA events, median of --iters after --warmup); peak
           memory (torch.cuda.max_memory_allocated)
  cosine   fp16 and fp32 (TF32 off) embeddings of the fixed pixels (.npy from
           gpu_models.py) for the cosine checks against neglabel
  texts    the NegLabel candidate prompts as neglabel tokenized them
           (PREFIX_ids.npy / PREFIX_lens.npy written by `bench_gpu prompts`),
           get_text_features fp16, batch --text-batch: padded to 77 (the
           reference pipeline: clip.tokenize pads every prompt to 77), padded
           per batch to the longest prompt in corpus order, and the same after
           sorting by length; the transformers tokenizer is timed apart and
           its ids compared with neglabel's
  mine/score  the reference's NegMining and grouped NegLabel scoring in
           torch on the GPU (float32), on random embeddings of the same sizes
  resnet   (--resnet DIR) an OpenCLIP ResNet folder (open_clip_config.json +
           open_clip_model.safetensors) in open_clip's own CLIP model, what a
           PyTorch user runs for RN50: encode_image from preprocessed tensors
           on the GPU, fp16 and bf16, as built (NCHW) and in channels_last
           (cuDNN's NHWC kernels); fp16 and fp32 embeddings of the fixed
           pixels for the cosine checks. Needs open_clip (skipped, with the
           reason, when it does not import)
  compile  torch.compile of the image path, fp16 (last: it is the slowest)

Results are written to --out as JSON after every part, so a run cut short
still leaves what it measured. --budget SECONDS skips parts that would not
fit (listed under "skipped").
"""
import argparse, copy, gc, json, os, statistics, sys, time, traceback

import numpy as np
import torch

T0 = time.perf_counter()
RESULT = {"env": {}, "gemm": [], "images": [], "cosine": [], "texts": [], "tokenizer": [], "minescore": [],
          "skipped": [], "errors": []}
ARGS = None
DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}


def log(msg):
    print(f"[torch {time.perf_counter() - T0:6.1f}s] {msg}", file=sys.stderr, flush=True)


def save():
    RESULT["elapsed_s"] = time.perf_counter() - T0
    tmp = ARGS.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(RESULT, f, indent=1)
    os.replace(tmp, ARGS.out)


def left():
    return ARGS.budget - (time.perf_counter() - T0)


def guard(name, need_s):
    """True when `name` may run: enough budget left; else recorded as skipped."""
    if left() < need_s:
        RESULT["skipped"].append({"part": name, "reason": f"budget: {left():.0f} s left, needs ~{need_s:.0f} s"})
        log(f"skip {name}: {left():.0f} s left")
        save()
        return False
    return True


def part(name, fn, *a):
    try:
        fn(*a)
    except Exception as e:  # one failing part must not lose the others
        RESULT["errors"].append({"part": name, "error": f"{type(e).__name__}: {e}",
                                 "trace": traceback.format_exc()[-2000:]})
        log(f"{name} FAILED: {type(e).__name__}: {e}")
    finally:
        gc.collect()
        empty_cache()
        save()


def as_features(x):
    # transformers 5 returns an output object whose pooler_output holds the projections
    return x if isinstance(x, torch.Tensor) else x.pooler_output


def gpu():
    return ARGS.device == "cuda"


def sync():
    if gpu():
        torch.cuda.synchronize()


def reset_peak():
    if gpu():
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def peak():
    return torch.cuda.max_memory_allocated() if gpu() else None


def allocated():
    return torch.cuda.memory_allocated() if gpu() else None


def empty_cache():
    if gpu():
        torch.cuda.empty_cache()


def cuda_time(fn, warmup, iters):
    """Median seconds of fn() over iters CUDA-event-timed calls after warmup calls."""
    for _ in range(warmup):
        fn()
    sync()
    ts = []
    for _ in range(iters):
        if not gpu():  # --device cpu: the smoke test of this script
            t = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t)
            continue
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        fn()
        e.record()
        e.synchronize()
        ts.append(s.elapsed_time(e) / 1e3)
    return statistics.median(ts), ts


def no_tf32():
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")


def load(path, dtype):
    from transformers import CLIPModel
    try:
        m = CLIPModel.from_pretrained(path, dtype=dtype, attn_implementation="sdpa")
    except TypeError:  # transformers 4 spelling
        m = CLIPModel.from_pretrained(path, torch_dtype=dtype, attn_implementation="sdpa")
    return m.to(ARGS.device).eval()


def vision_flops(cfg):
    v = cfg.vision_config
    p = v.patch_size
    n_p = (v.image_size // p) ** 2
    T, D, I = n_p + 1, v.hidden_size, v.intermediate_size
    layer = 2 * T * (3 * D * D + D * D + 2 * D * I) + 4 * T * T * D
    return v.num_hidden_layers * layer + 2 * n_p * D * 3 * p * p


# ---------------------------------------------------------------- parts

def env():
    import transformers
    RESULT["env"] = {"torch": torch.__version__, "transformers": transformers.__version__,
                     "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
                     "python": sys.version.split()[0], "device": "cpu"}
    if gpu():
        p = torch.cuda.get_device_properties(0)
        RESULT["env"].update({"device": p.name, "sm_count": p.multi_processor_count,
                              "memory_total_bytes": p.total_memory, "capability": f"{p.major}.{p.minor}"})
    log(f"{RESULT['env']['device']}, torch {torch.__version__}, transformers {transformers.__version__}, "
        f"CUDA {torch.version.cuda}")


def gemm():
    n = ARGS.gemm_n
    for name in ("fp16", "bf16"):
        g = torch.Generator(device=ARGS.device).manual_seed(0)
        a = torch.randn(n, n, device=ARGS.device, dtype=DTYPES[name], generator=g)
        b = torch.randn(n, n, device=ARGS.device, dtype=DTYPES[name], generator=g)
        with torch.inference_mode():
            t, ts = cuda_time(lambda: torch.matmul(a, b), 3, 10)
        RESULT["gemm"].append({"dtype": name, "n": n, "seconds": t, "tflops": 2 * n ** 3 / t / 1e12,
                               "tflops_mean": 2 * n ** 3 / statistics.mean(ts) / 1e12})
        log(f"matmul {n}^3 {name}: {2 * n ** 3 / t / 1e12:.0f} TFLOP/s")
        del a, b
    # the memory ceiling: a device-to-device copy of 2 GiB (bytes read + written)
    nbytes = (2 << 30) if gpu() else (64 << 20)
    src = torch.empty(nbytes, dtype=torch.uint8, device=ARGS.device).random_(0, 256)
    dst = torch.empty_like(src)
    with torch.inference_mode():
        t, ts = cuda_time(lambda: dst.copy_(src), 3, 10)
    RESULT["copy"] = {"bytes": nbytes, "seconds": t, "gbps": 2 * nbytes / t / 1e9}
    log(f"device copy {nbytes >> 20} MiB: {2 * nbytes / t / 1e9:.0f} GB/s (read + write)")
    del src, dst


def image_rows(model, name, dtype_name, batches, impl, fn_maker, compile_s=None, flops=None, memory_format=None):
    """flops per image: from a transformers config unless given (0: not counted)."""
    flops = vision_flops(model.config) if flops is None else flops
    for B in batches:
        if not guard(f"images {name} {dtype_name} {impl} b{B}", 10):
            continue
        g = torch.Generator(device=ARGS.device).manual_seed(1)
        px = torch.randn(B, 3, 224, 224, device=ARGS.device, dtype=DTYPES[dtype_name], generator=g)
        if memory_format is not None:
            px = px.contiguous(memory_format=memory_format)
        fn = fn_maker()
        sync()
        reset_peak()
        base = allocated()
        t_first = time.perf_counter()
        with torch.inference_mode():
            fn(px)  # first call: compiles under torch.compile
            sync()
            t_first = time.perf_counter() - t_first
            t, ts = cuda_time(lambda: fn(px), ARGS.warmup, ARGS.iters)
        row = {"model": name, "impl": impl, "dtype": dtype_name, "batch": B, "seconds_per_batch": t,
               "images_per_s": B / t, "tflops": flops * B / t / 1e12 if flops else None,
               "flops_per_image": flops or None,
               "times": ts, "first_call_s": t_first, "peak_mem_bytes": peak(),
               "mem_before_bytes": base}
        if compile_s is not None:
            row["compile_s"] = t_first
        RESULT["images"].append(row)
        rate = f" ({flops * B / t / 1e12:.0f} TFLOP/s)" if flops else ""
        log(f"images {name} {impl} {dtype_name} b{B}: {B / t:.0f} img/s{rate}, "
            f"peak {(row['peak_mem_bytes'] or 0) / 2 ** 30:.2f} GiB, first call {t_first:.1f} s")
        del px
        save()


def cosine_rows(model, name, dtype_name, encode=None, n=None):
    """encode(x) -> embeddings (default: transformers' get_image_features); n: the first n pixel rows."""
    px = np.load(ARGS.pixels).astype(np.float32)[:n]
    x = torch.from_numpy(px).reshape(-1, 3, 224, 224).to(ARGS.device, DTYPES[dtype_name])
    if encode is None:
        encode = lambda xb: as_features(model.get_image_features(pixel_values=xb))
    with torch.inference_mode():
        out = torch.cat([encode(x[i:i + 32]).float() for i in range(0, x.shape[0], 32)]).cpu().numpy()
    path = os.path.join(ARGS.work, f"cos_{name}_torch_{dtype_name}.npy")
    np.save(path, out)
    RESULT["cosine"].append({"model": name, "dtype": dtype_name, "n": int(out.shape[0]), "npy": path,
                             "finite": bool(np.isfinite(out).all())})
    log(f"cosine inputs {name} {dtype_name}: {out.shape} -> {path}")


def texts(model, name):
    ids = np.load(ARGS.prompts + "_ids.npy").astype(np.int64)
    lens = np.load(ARGS.prompts + "_lens.npy").astype(np.int64)
    n, B = ids.shape[0], ARGS.text_batch
    dim = model.config.projection_dim
    ids_t = torch.from_numpy(ids).to(ARGS.device)
    order = np.argsort(lens, kind="stable")
    plans = {
        "pad77": [(torch.arange(i, min(i + B, n), device=ARGS.device), 77) for i in range(0, n, B)],
        "per_batch_unsorted": [(torch.arange(i, min(i + B, n), device=ARGS.device), int(lens[i:i + B].max()))
                               for i in range(0, n, B)],
        "per_batch_sorted": [(torch.from_numpy(order[i:i + B]).to(ARGS.device), int(lens[order[i:i + B]].max()))
                             for i in range(0, n, B)],
    }
    for mode, plan in plans.items():
        if not guard(f"texts {name} {mode}", 20):
            continue
        out = torch.empty(n, dim, device=ARGS.device, dtype=torch.float16)

        def run():
            for idx, L in plan:
                x = ids_t.index_select(0, idx)[:, :L]
                out.index_copy_(0, idx, as_features(model.get_text_features(input_ids=x)).to(out.dtype))
            return out.cpu()

        with torch.inference_mode():
            idx, L = plan[0]  # warm-up: one batch
            model.get_text_features(input_ids=ids_t.index_select(0, idx)[:, :L])
            sync()
            reset_peak()
            t = time.perf_counter()
            host = run()
            t = time.perf_counter() - t
        tokens = sum(int(i.numel()) * L for i, L in plan)
        row = {"model": name, "mode": mode, "dtype": "fp16", "batch": B, "n": n, "seconds": t, "prompts_per_s": n / t,
               "tokens_run": tokens, "peak_mem_bytes": peak(),
               "includes": "forward + copy to host; tokenization not included (ids from neglabel)"}
        RESULT["texts"].append(row)
        log(f"texts {name} {mode}: {n} prompts in {t:.2f} s = {n / t:.0f}/s")
        if mode == "pad77":
            k = min(ARGS.text_save, n)
            path = os.path.join(ARGS.work, f"texts_{name}_torch_fp16.npy")
            np.save(path, host[:k].float().numpy())
            row["npy"] = path
        save()


def tokenizer(model_dir):
    """transformers' CLIP tokenizer on the same prompts: time and agreement with neglabel's ids."""
    from transformers import CLIPTokenizer
    prompts = [l.rstrip("\n") for l in open(ARGS.prompts + ".txt", encoding="utf-8")]
    ids = np.load(ARGS.prompts + "_ids.npy")
    lens = np.load(ARGS.prompts + "_lens.npy")
    tok = CLIPTokenizer(os.path.join(model_dir, "vocab.json"), os.path.join(model_dir, "merges.txt"))
    t = time.perf_counter()
    enc = tok(prompts, padding="max_length", truncation=True, max_length=77)["input_ids"]
    t = time.perf_counter() - t
    mism = 0
    first = None
    for i, e in enumerate(enc):
        L = int(lens[i])
        if len(e) < L or list(e[:L]) != ids[i, :L].tolist():
            mism += 1
            if first is None:
                first = {"prompt": prompts[i], "transformers": list(e[:L + 1]), "neglabel": ids[i, :L].tolist()}
    RESULT["tokenizer"].append({"class": type(tok).__name__, "n": len(prompts), "seconds": t,
                                "prompts_per_s": len(prompts) / t, "mismatches": mism, "first_mismatch": first})
    log(f"tokenizer {type(tok).__name__}: {len(prompts)} prompts in {t:.2f} s, {mism} differ from neglabel's ids")


def minescore():
    """The reference's NegMining and grouped scoring (NegLabel clip_ood.py), float32 on the GPU."""
    dim, n_id, n_cand, n_img, n_neg, ngroup, tau = 512, 1000, 70000, 100000, 10000, 100, 0.01
    if not gpu():  # smoke-test sizes
        n_cand, n_img = 7000, 2000
    g = torch.Generator(device=ARGS.device).manual_seed(0)
    nrm = torch.nn.functional.normalize
    idl = nrm(torch.randn(n_id, dim, device=ARGS.device, generator=g), dim=-1)
    cand = nrm(torch.randn(n_cand, dim, device=ARGS.device, generator=g), dim=-1)
    with torch.inference_mode():
        def mine(rows=10000):  # torch.quantile takes at most 16M elements: chunks of rows
            q = torch.cat([torch.quantile(cand[i:i + rows] @ idl.T, 0.95, dim=1) for i in range(0, n_cand, rows)])
            return torch.argsort(q).cpu()
        mine()
        sync()
        t = time.perf_counter()
        mine()
        sync()
        t_mine = time.perf_counter() - t
        del cand
        img = nrm(torch.randn(n_img, dim, device=ARGS.device, generator=g), dim=-1)
        neg = nrm(torch.randn(n_neg, dim, device=ARGS.device, generator=g), dim=-1)

        def score(chunk=10000, n=n_img):
            res = []
            gs = n_neg // ngroup
            for i in range(0, n, chunk):
                x = img[i:i + chunk]
                pos = x @ idl.T / tau
                negs = (x @ neg.T / tau)[:, :gs * ngroup].reshape(x.shape[0], ngroup, gs)
                s = []
                for k in range(ngroup):
                    full = torch.cat([pos, negs[:, k, :]], dim=-1).softmax(dim=-1)
                    s.append(full[:, :n_id].sum(dim=-1, keepdim=True))
                res.append(torch.cat(s, dim=-1).mean(dim=-1))
            return torch.cat(res).double().cpu()
        score(n=min(n_img, 10000))  # warm-up
        sync()
        reset_peak()
        t = time.perf_counter()
        score()
        sync()
        t_score = time.perf_counter() - t
    RESULT["minescore"].append({"what": "mine", "n_cand": n_cand, "n_id": n_id, "dim": dim, "seconds": t_mine,
                                "dtype": "fp32", "how": "cand @ id.T, torch.quantile(0.95), argsort"})
    RESULT["minescore"].append({"what": "score", "n_img": n_img, "n_id": n_id, "n_neg": n_neg, "ngroup": ngroup,
                                "dim": dim, "seconds": t_score, "dtype": "fp32",
                                "peak_mem_bytes": peak(),
                                "how": "reference grouping (clip_ood.py), 10,000 images per chunk, no shuffle"})
    log(f"torch mine {t_mine:.3f} s, score {t_score:.3f} s")


def load_open_clip(path):
    """open_clip's CLIP, float32, from an OpenCLIP folder (the layout neglabel reads)."""
    import open_clip
    from safetensors.torch import load_file
    mc = json.load(open(os.path.join(path, "open_clip_config.json")))["model_cfg"]
    m = open_clip.model.CLIP(embed_dim=mc["embed_dim"], vision_cfg=mc["vision_cfg"], text_cfg=mc["text_cfg"],
                             quick_gelu=mc.get("quick_gelu", False))
    m.load_state_dict(load_file(os.path.join(path, "open_clip_model.safetensors")))
    return m.to(ARGS.device).eval()


def resnet(path, batches, skip):
    """The ResNet rows: open_clip's own model, in 16 bits as open_clip's precision="fp16" makes it
    (convert_weights_to_lp: convolutions, linear layers and the attention pool in 16 bits, BatchNorm in
    fp32, as OpenAI's clip.load does on a GPU), as built (NCHW) and in channels_last."""
    try:
        import open_clip
    except Exception as e:  # not on every GPU machine: say so in the table
        RESULT["skipped"].append({"part": "resnet", "reason": f"open_clip does not import: {type(e).__name__}: {e}"})
        log(f"skip resnet: open_clip does not import ({e})")
        return
    RESULT["env"]["open_clip"] = open_clip.__version__
    name = os.path.basename(os.path.normpath(path))
    no_tf32()
    m32 = load_open_clip(path)
    log(f"loaded {name} (open_clip {open_clip.__version__})")
    if "cosine" not in skip:
        part(f"cosine {name} fp32", cosine_rows, m32, name, "fp32", m32.encode_image)
    for dt in ARGS.dtypes.split(","):
        m = copy.deepcopy(m32)
        open_clip.model.convert_weights_to_lp(m, DTYPES[dt])
        if "images" not in skip:
            part(f"images {name} {dt}", lambda m=m: image_rows(m, name, dt, batches, "open_clip",
                                                               lambda: m.encode_image, flops=0))
        if dt == "fp16" and "cosine" not in skip:
            part(f"cosine {name} fp16", cosine_rows, m, name, "fp16", m.encode_image)
        if "images" not in skip:
            m = m.to(memory_format=torch.channels_last)
            part(f"images {name} {dt} channels_last", lambda m=m: image_rows(
                m, name, dt, batches, "open_clip channels_last", lambda: m.encode_image, flops=0,
                memory_format=torch.channels_last))
        del m
        gc.collect()
        empty_cache()
    del m32


def compiled(path, name):
    torch._dynamo.reset()
    m = load(path, torch.float16)

    def maker():
        return torch.compile(lambda px: as_features(m.get_image_features(pixel_values=px)), dynamic=False)
    batches = [int(b) for b in ARGS.compile_batches.split(",") if b]
    image_rows(m, name, "fp16", batches, "sdpa+compile", maker, compile_s=True)
    del m


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", required=True, help="folder with clip-vit-b16/ and clip-vit-l14/ (gpu_models.py)")
    ap.add_argument("--names", default="clip-vit-b16,clip-vit-l14")
    ap.add_argument("--work", required=True, help="folder for the .npy outputs")
    ap.add_argument("--pixels", required=True, help="(N, 3*224*224) float32 .npy of the cosine check")
    ap.add_argument("--prompts", default=None, help="PREFIX of bench_gpu prompts' files (.txt, _ids.npy, _lens.npy)")
    ap.add_argument("--out", required=True, help="JSON results")
    ap.add_argument("--batches", default="256,1024")
    ap.add_argument("--dtypes", default="fp16,bf16")
    ap.add_argument("--compile-batches", default="256", help="batches for torch.compile rows ('' for none)")
    ap.add_argument("--text-batch", type=int, default=1024)
    ap.add_argument("--text-save", type=int, default=1024, help="padded-77 fp16 text embeddings kept for the check")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--budget", type=float, default=1e9, help="seconds; parts that would not fit are skipped")
    ap.add_argument("--device", default="cuda", help="cuda; cpu only to smoke-test this script (small sizes)")
    ap.add_argument("--gemm-n", type=int, default=8192)
    ap.add_argument("--resnet", default=None, help="an OpenCLIP ResNet folder for the open_clip rows (needs open_clip)")
    ap.add_argument("--skip", default="", help="comma list of parts to skip: gemm,images,cosine,texts,tokenizer,minescore,compile")
    ARGS = ap.parse_args()
    skip = set(s for s in ARGS.skip.split(",") if s)
    os.makedirs(ARGS.work, exist_ok=True)
    if gpu() and not torch.cuda.is_available():
        RESULT["errors"].append({"part": "setup", "error": "torch sees no CUDA device"})
        save()
        sys.exit("gpu_torch.py: torch sees no CUDA device")
    part("env", env)
    if "gemm" not in skip:
        part("gemm", gemm)
    batches = [int(b) for b in ARGS.batches.split(",") if b]
    names = [n for n in ARGS.names.split(",") if n]
    for name in names:
        path = os.path.join(ARGS.models, name)
        if not guard(f"model {name}", 20):
            continue
        m32 = None
        try:
            no_tf32()
            m32 = load(path, torch.float32)
            log(f"loaded {name}")
            if "cosine" not in skip:
                part(f"cosine {name} fp32", cosine_rows, m32, name, "fp32")
            for dt in ARGS.dtypes.split(","):
                m = copy.deepcopy(m32).to(DTYPES[dt])
                if "images" not in skip:
                    part(f"images {name} {dt}", image_rows, m, name, dt, batches, "sdpa", lambda m=m: (
                        lambda px: as_features(m.get_image_features(pixel_values=px))))
                if dt == "fp16" and "cosine" not in skip:
                    part(f"cosine {name} fp16", cosine_rows, m, name, "fp16")
                if dt == "fp16" and ARGS.prompts and "texts" not in skip:
                    part(f"texts {name}", texts, m, name)
                del m
                gc.collect()
                empty_cache()
        except Exception as e:
            RESULT["errors"].append({"part": f"model {name}", "error": f"{type(e).__name__}: {e}",
                                     "trace": traceback.format_exc()[-2000:]})
            log(f"model {name} FAILED: {e}")
        del m32
        gc.collect()
        empty_cache()
        save()
    if ARGS.resnet and guard("resnet", 30):
        part("resnet", resnet, ARGS.resnet, batches, skip)
    if ARGS.prompts and names and "tokenizer" not in skip and guard("tokenizer", 30):
        part("tokenizer", tokenizer, os.path.join(ARGS.models, names[0]))
    if "minescore" not in skip and guard("minescore", 30):
        part("minescore", minescore)
    if "compile" not in skip and ARGS.compile_batches:
        for name in names:
            if guard(f"compile {name}", 100 if "l14" in name else 70):
                part(f"compile {name}", compiled, os.path.join(ARGS.models, name), name)
    save()
    log(f"done: {len(RESULT['errors'])} errors, {len(RESULT['skipped'])} skipped")
    return 1 if RESULT["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
