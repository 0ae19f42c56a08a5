"""bench/gpu_table.py, the GPU benchmark's table, on small made-up inputs:
rows merged by model, precision and batch, the ratios, which rows the GEMM
rate takes, and the cosine checks (pass, fail, missing). It measures nothing;
it checks the arithmetic and bookkeeping of the table a GPU run prints.
Run by .ci/run (numpy and pytest from .venv-py)."""
import json, os, subprocess, sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TABLE = os.path.join(HERE, "..", "gpu_table.py")


def ours_images(model, precision, batch, ips, tflops):
    return {"kind": "images", "model": model, "precision": precision, "batch": batch, "images_per_s": ips,
            "tflops": tflops, "gpu_mem_used_bytes": 2 << 30}


def torch_images(model, impl, dtype, batch, ips):
    return {"model": model, "impl": impl, "dtype": dtype, "batch": batch, "images_per_s": ips,
            "peak_mem_bytes": 1 << 30}


def run_table(tmp, ours, torch_json, extra=()):
    work = tmp / "work"
    work.mkdir(exist_ok=True)
    (tmp / "ours.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ours))
    (tmp / "torch.json").write_text(json.dumps(torch_json))
    out = subprocess.run([sys.executable, TABLE, "--ours", str(tmp / "ours.jsonl"), "--torch", str(tmp / "torch.json"),
                          "--work", str(work), "--json", str(tmp / "t.json"), "--md", str(tmp / "t.md"),
                          "--models", "clip-vit-b16", *extra], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads((tmp / "t.json").read_text()), out.stdout


def table(js, prefix):
    hits = [t for title, t in js["tables"].items() if title.startswith(prefix)]
    assert len(hits) == 1, (prefix, list(js["tables"]))
    return hits[0]


def test_resnet_rows_checks_and_gemm_rate(tmp_path):
    stage = lambda st, ms, fl: {"kind": "stage", "model": "clip-vit-b16", "precision": "fp16", "batch": 256,
                                "stage": st, "ms": ms, "share": 0.1, "flops": fl, "bytes": 1e9, "tflops": 0,
                                "gbps": 0, "pass_ms": 30.0}
    ours = [ours_images("clip-vit-b16", "fp16", 256, 8000.0, 280.0),
            ours_images("clip-rn50", "fp16", 256, 3000.0, 400.0),  # more TFLOP/s than the ViT: not the GEMM rate
            ours_images("clip-rn50", "bf16", 256, 2900.0, 390.0),
            # GEMMs alone: (4 + 2) TFLOP in (6 + 4) ms = 600 TFLOP/s; attention and LayerNorm stay out
            stage("qkv", 6.0, 4e12), stage("fc1", 4.0, 2e12), stage("attn", 5.0, 1e12), stage("ln1", 2.0, 0)]
    tj = {"env": {"device": "test", "open_clip": "3.3.0"},
          "gemm": [{"dtype": "fp16", "tflops": 700.0}, {"dtype": "bf16", "tflops": 750.0}],
          "images": [torch_images("clip-vit-b16", "sdpa", "fp16", 256, 9000.0),
                     torch_images("clip-rn50", "open_clip", "fp16", 256, 2000.0),
                     torch_images("clip-rn50", "open_clip channels_last", "fp16", 256, 2400.0)],
          "skipped": [], "errors": []}
    w = tmp_path / "work"
    w.mkdir()
    rng = np.random.default_rng(0)
    g = rng.standard_normal((8, 16)).astype(np.float32)
    np.save(w / "cos_clip-rn50_gpu_fp16.npy", g)
    np.save(w / "cos_clip-rn50_torch_fp16.npy", g * 3)  # scaled: cosine 1
    np.save(w / "cos_clip-rn50_cpu_fp32.npy", g)
    bad = g.copy()
    bad[5] = rng.standard_normal(16)  # one row unrelated: the fp32 check must fail
    np.save(w / "cos_clip-rn50_gpu_fp32.npy", bad)
    js, md = run_table(tmp_path, ours, tj, ["--resnet", "clip-rn50"])

    rn = table(js, "Image embedding, model only: RN50 against open_clip")
    rows = {(r[1], r[2]): r for r in rn["rows"]}
    assert rows[("fp16", "256")][3:9] == ["3,000", "400", "2,000", "1.50×", "2,400", "1.25×"]
    assert rows[("bf16", "256")][5] == "—" and rows[("bf16", "256")][6] == "—"  # no torch row: no ratio
    vit = table(js, "Image embedding, model only (images/s")
    assert [r[:4] for r in vit["rows"]] == [["ViT-B/16", "fp16", "256", "8,000"]]  # the ResNet stays out
    assert vit["rows"][0][6] == "0.89×"
    rate = table(js, "Matrix-product rate")
    assert rate["rows"][0][1].startswith("280 (ViT-B/16") and rate["rows"][0][3] == "40 %"
    assert rate["rows"][0][4:] == ["600 (ViT-B/16)", "86 %"] and rate["rows"][1][4:] == ["—", "—"]

    checks = {(c["check"], c["model"]): c for c in js["checks"]}
    c16 = checks[("neglabel GPU fp16 vs open_clip fp16 (images)", "clip-rn50")]
    assert c16["result"] == "PASS" and c16["rows"] == 8 and abs(c16["worst_cosine"] - 1) < 1e-12
    c32 = checks[("neglabel GPU fp32 vs neglabel CPU fp32 (images)", "clip-rn50")]
    assert c32["result"] == "FAIL" and c32["worst_cosine"] < 0.9
    assert checks[("neglabel CPU fp32 vs open_clip fp32 (images)", "clip-rn50")]["result"] == "missing"
    assert "open_clip 3.3.0" in md and "RN50 (tests/openclip_ckpt.h)" in md


def test_resnet_without_open_clip_says_why(tmp_path):
    ours = [ours_images("clip-rn50", "fp16", 256, 3000.0, 400.0)]
    tj = {"env": {"device": "test"}, "images": [], "gemm": [], "errors": [],
          "skipped": [{"part": "resnet", "reason": "open_clip does not import: ModuleNotFoundError"}]}
    js, md = run_table(tmp_path, ours, tj, ["--resnet", "clip-rn50"])
    rn = table(js, "Image embedding, model only: RN50 against open_clip")
    assert rn["rows"][0][3] == "3,000" and rn["rows"][0][5] == "—"
    assert any("open_clip does not import" in p for p in js["problems"])


def test_adaneg_rows(tmp_path):
    ours = [{"kind": "score", "n_img": 100000, "n_id": 1000, "n_neg": 10000, "ngroup": 100, "gpu_s": 0.06,
             "cpu_s": 2.7, "max_abs_diff": 1e-16, "max_rel_diff": 2e-15},
            {"kind": "adaneg", "variant": "task", "n_img": 60000, "n_id": 1000, "n_neg": 10000, "ngroup": 5,
             "memory": 10, "gpu_s": 0.5, "cpu_s": 4.0, "max_rel_diff": 1.2e-14, "same_top_id": True},
            {"kind": "adaneg", "variant": "sample", "n_img": 60000, "n_id": 1000, "n_neg": 10000, "ngroup": 5,
             "memory": 10, "gpu_s": 0.8, "cpu_s": -1, "max_rel_diff": -1, "same_top_id": None},
            {"kind": "oodd", "batch": 64, "queue": 2048, "k": 5, "n_img": 60000, "n_id": 1000, "n_neg": 10000,
             "ngroup": 100, "gpu_s": 0.05, "cpu_s": 1.0, "max_rel_diff": 3e-15, "same_top_id": False}]
    js, _ = run_table(tmp_path, ours, {"images": []})
    rows = table(js, "NegMining, NegLabel, AdaNeg and OODD scoring")["rows"]
    ada = [r for r in rows if r[0].startswith("AdaNeg")]
    assert len(ada) == 2 and "60,000 images × 11,000 labels, 5 groups, memory 10" in ada[0][0]
    assert ada[0][1:4] == ["0.500", "4.000", "8.00×"] and "1.2e-14" in ada[0][6] and "yes" in ada[0][6]
    assert ada[1][0].startswith("AdaNeg, sample-adaptive") and ada[1][2:4] == ["—", "—"] and ada[1][6] == "—"
    oodd = [r for r in rows if r[0].startswith("OODD")]
    assert len(oodd) == 1 and "60,000 images × 11,000 labels, 100 groups, queue 2048, k 5, batches of 64" in oodd[0][0]
    assert oodd[0][1:4] == ["0.050", "1.000", "20.00×"] and "3.0e-15" in oodd[0][6] and "NO" in oodd[0][6]


def test_no_resnet_no_resnet_table(tmp_path):
    js, _ = run_table(tmp_path, [ours_images("clip-vit-b16", "fp16", 256, 8000.0, 280.0)], {"images": []})
    assert not any(t.startswith("Image embedding, model only: RN") for t in js["tables"])
    assert not any(c["model"] == "clip-rn50" for c in js["checks"] if "model" in c)


def test_text_stage_rows(tmp_path):
    stages = ["embed", "ln1", "qkv", "attn", "o_proj", "ln2", "fc1", "act", "fc2", "head", "between_passes"]
    ours = [{"kind": "text_stage", "model": "clip-vit-b16", "precision": "fp16", "stage": k, "ms": 10.0 * (i + 1),
             "share": (i + 1) / 66} for i, k in enumerate(stages)]
    ours.append({"kind": "text_clock", "model": "clip-vit-b16", "precision": "fp16", "n": 70000, "events": 1500,
                 "cap": 17000, "clocked_ms": 660.0, "wall_ms": 700.0})
    js, md = run_table(tmp_path, ours, {"images": []})
    name = [k for k in js["tables"] if k.startswith("Where neglabel's text embedding spends its time: ViT-B/16")]
    assert len(name) == 1 and "70,000 prompts (660.0 ms clocked of 700.0 ms wall)" in name[0]
    rows = table(js, name[0])["rows"]
    assert [r[0] for r in rows] == stages and rows[3][1:] == ["40.000", "6.1 %"]
    assert "ran out of room" not in md
