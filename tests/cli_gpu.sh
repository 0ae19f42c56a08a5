# cli_gpu.sh — the CLI on a CUDA device (ctest label gpu): devices, a bad
# device index, embed/mine/score with --device cuda against --device cpu on
# the tiny model, and score-embeddings on the GPU equal to the CPU's to
# 1e-9 relative. Exits 77 (skipped) with the reason where no GPU is usable.
. "$(dirname "$0")/lib_cli.sh"
need_shared
need_cuda
ndev=$(nl devices | jq '.cuda_devices | length')
command -v python3 >/dev/null && python3 -c 'import numpy' 2>/dev/null || { echo "SKIP: python3 with numpy needed"; exit 77; }
M=$SHARED/fixtures/tiny-clip
I=$SHARED/fixtures/images
L=$SHARED/neglabel-reference/txtfiles

check "devices lists a GPU" test "$ndev" -ge 1
expect_fail "cuda:99 is refused, naming it" 'cuda:99: no such device' nl --device cuda:99 info --model "$M"
expect_fail "bad --device value" 'expected auto, cpu, cuda or cuda:N' nl --device gpu info --model "$M"
expect_fail "fp16 on the CPU is refused" 'the CPU engine computes in fp32 or bf16' nl --device cpu --precision fp16 info --model "$M"
check "info says cuda:0" sh -c "'$BIN' --device cuda info --model '$M' 2>/dev/null | jq -e '.device | startswith(\"cuda:0\")' >/dev/null"
check "default precision on the GPU is fp16" sh -c "'$BIN' --device cuda info --model '$M' 2>/dev/null | jq -e '.precision == \"fp16\"' >/dev/null"
check "auto picks the GPU" sh -c "'$BIN' --device auto info --model '$M' 2>/dev/null | jq -e '.device | startswith(\"cuda\")' >/dev/null"

# --- score-embeddings: the GPU's double-precision scores equal the CPU's
python3 - "$TMP" <<'PY'
import sys, numpy as np
r = np.random.default_rng(7)
d = sys.argv[1]
np.save(f"{d}/id.npy", r.standard_normal((1000, 512)).astype(np.float32))
np.save(f"{d}/neg.npy", r.standard_normal((10007, 512)).astype(np.float32))
np.save(f"{d}/img.npy", r.standard_normal((3000, 512)).astype(np.float32))
PY
for meth in neglabel mcm; do
  nl --device cpu score-embeddings --id "$TMP/id.npy" --neg "$TMP/neg.npy" --images "$TMP/img.npy" --method $meth >"$TMP/s_cpu_$meth.txt" 2>/dev/null
  nl --device cuda score-embeddings --id "$TMP/id.npy" --neg "$TMP/neg.npy" --images "$TMP/img.npy" --method $meth >"$TMP/s_gpu_$meth.txt" 2>"$TMP/s_gpu.err"
  check "$meth scores: one per image on both" test "$(grep -c . "$TMP/s_gpu_$meth.txt")" -eq "$(grep -c . "$TMP/s_cpu_$meth.txt")" -a "$(grep -c . "$TMP/s_cpu_$meth.txt")" -ge 3000
  check "$meth scores: GPU = CPU to 1e-9 relative" python3 - "$TMP/s_cpu_$meth.txt" "$TMP/s_gpu_$meth.txt" <<'PY'
import sys
def nums(p):
    out = []
    for line in open(p):
        for f in line.replace(",", " ").split():
            try: out.append(float(f))
            except ValueError: pass
    return out
a, b = nums(sys.argv[1]), nums(sys.argv[2])
worst = max(abs(x - y) / max(abs(x), 1e-300) for x, y in zip(a, b)) if a else 1
print(f"  worst relative difference {worst:.3g} over {len(a)} values")
sys.exit(0 if len(a) == len(b) and len(a) > 0 and worst <= 1e-9 else 1)
PY
done

# --- embed: GPU fp32 = CPU within 1e-5 ||g||; fp16 close
nl --device cpu embed --no-cache --model "$M" --image "$I/dog.jpg" --text "a photo of a dog" >"$TMP/e_cpu.jsonl" 2>/dev/null
nl --device cuda --precision fp32 embed --no-cache --model "$M" --image "$I/dog.jpg" --text "a photo of a dog" >"$TMP/e_g32.jsonl" 2>/dev/null
nl --device cuda --precision fp16 embed --no-cache --model "$M" --image "$I/dog.jpg" --text "a photo of a dog" >"$TMP/e_g16.jsonl" 2>/dev/null
check "embed on the GPU: fp32 within 1e-5, fp16 cosine >= 0.999" python3 - "$TMP" <<'PY'
import sys, json, numpy as np
d = sys.argv[1]
rd = lambda n: [np.array(json.loads(l)["embedding"]) for l in open(f"{d}/{n}")]
c, g, h = rd("e_cpu.jsonl"), rd("e_g32.jsonl"), rd("e_g16.jsonl")
ok = len(c) == len(g) == len(h) == 2
for a, b, x in zip(c, g, h):
    e = np.abs(a - b).max() / np.linalg.norm(a)
    cs = float(x @ a / np.linalg.norm(x) / np.linalg.norm(a))
    print(f"  fp32 err {e:.3g}, fp16 cosine {cs:.6f}")
    ok = ok and e <= 1e-5 and cs >= 0.999
sys.exit(0 if ok else 1)
PY

# --- mine on the GPU (prompts and quantiles there) vs the CPU
mkdir -p "$TMP/mini"
head -n 400 "$L/noun.artifact.txt" >"$TMP/mini/noun.artifact.txt"
head -n 300 "$L/adj.all.txt" >"$TMP/mini/adj.all.txt"
printf 'dog\ncat\nairplane\nship\n' >"$TMP/labels.txt"
nl --device cpu mine --no-cache --model "$M" --id-labels "$TMP/labels.txt" --lists "$TMP/mini" -o "$TMP/neg_cpu.tsv" 2>/dev/null
nl --device cuda --precision fp32 mine --cache "$TMP/c" --model "$M" --id-labels "$TMP/labels.txt" --lists "$TMP/mini" -o "$TMP/neg_gpu.tsv" 2>"$TMP/mine_gpu.err"
check "GPU mine: same count" test "$(grep -vc '^#' "$TMP/neg_gpu.tsv")" -eq "$(grep -vc '^#' "$TMP/neg_cpu.tsv")"
common=$(comm -12 <(grep -v '^#' "$TMP/neg_cpu.tsv" | cut -f1,2 | sort) <(grep -v '^#' "$TMP/neg_gpu.tsv" | cut -f1,2 | sort) | wc -l)
total=$(grep -vc '^#' "$TMP/neg_cpu.tsv")
echo "  GPU fp32 mining keeps $common of the CPU's $total labels"
check "GPU mine: >= 98% the same labels" test $((common * 100)) -ge $((total * 98))
check "GPU cache is its own file" sh -c "ls '$TMP/c' | grep -q 'cuda-fp32'"
nl --device cuda --precision fp32 mine --cache "$TMP/c" --model "$M" --id-labels "$TMP/labels.txt" --lists "$TMP/mini" -o "$TMP/neg_gpu2.tsv" 2>/dev/null
check "GPU mine from its cache: identical file" cmp -s "$TMP/neg_gpu.tsv" "$TMP/neg_gpu2.tsv"

# --- score images on the GPU
nl --device cuda score --no-cache --model "$M" --id-labels "$TMP/labels.txt" --negatives "$TMP/neg_gpu.tsv" \
  "$I"/*.jpg >"$TMP/score_gpu.csv" 2>"$TMP/score_gpu.err"
check "GPU score: a row per JPEG" test "$(tail -n +2 "$TMP/score_gpu.csv" | wc -l)" -eq "$(ls "$I"/*.jpg | wc -l)"

# --- GPUs the kernels cannot run on (compute capability below 8.0: T4, V100).
# Here every GPU must be supported and auto must take cuda:0; on the emulator
# (NLEMU_CC) older GPUs are refused by name and auto passes over them.
check "devices: every GPU supported, auto is cuda:0" sh -c "'$BIN' devices | jq -e '(.cuda_devices | all(.supported)) and .auto == \"cuda:0\"' >/dev/null"
if [ "${NEGLABEL_GPU_EMU:-0}" = 1 ]; then
  export NLEMU_DEVICES=2
  check "emulated 7.5 + 9.0: cuda:0 unsupported (why), auto cuda:1" sh -c "NLEMU_CC=7.5,9.0 '$BIN' devices | jq -e '(.cuda_devices | map(.supported)) == [false, true] and (.cuda_devices[0].unsupported | test(\"compute capability 7.5\")) and .auto == \"cuda:1\"' >/dev/null"
  check "emulated 7.5 + 9.0: auto loads the model on cuda:1, no warning" sh -c "NLEMU_CC=7.5,9.0 '$BIN' --device auto info --model '$M' 2>'$TMP/auto.err' | jq -e '.device | startswith(\"cuda:1\")' >/dev/null && ! grep -q warning '$TMP/auto.err'"
  expect_fail "emulated 7.5: --device cuda:0 refused, naming the GPU and what it lacks" \
    'cuda:0 \(nlemu CPU emulation of an sm_75 GPU\) has compute capability 7.5; this build.s GPU kernels need 8.0 or newer' \
    env NLEMU_CC=7.5,9.0 "$BIN" --device cuda:0 info --model "$M"
  expect_fail "emulated 7.5: score-embeddings --device cuda refused too" 'compute capability 7.5' \
    env NLEMU_CC=7.5 "$BIN" --device cuda score-embeddings --id "$TMP/id.npy" --neg "$TMP/neg.npy" --images "$TMP/img.npy"
  check "emulated 7.0 + 7.5: devices says why the CPU (auto cpu)" sh -c "NLEMU_CC=7.0,7.5 '$BIN' devices | jq -e '.auto == \"cpu\" and (.cuda_unavailable | test(\"none of the 2 GPUs is supported\"))' >/dev/null"
  NLEMU_CC=7.0,7.5 "$BIN" --device auto score --no-cache --model "$M" --id-labels "$TMP/labels.txt" --negatives "$TMP/neg_cpu.tsv" "$I/dog.jpg" >"$TMP/old.csv" 2>"$TMP/old.err"
  check "emulated old GPUs: auto scores on the CPU, as --device cpu" sh -c "'$BIN' --device cpu score --no-cache --model '$M' --id-labels '$TMP/labels.txt' --negatives '$TMP/neg_cpu.tsv' '$I/dog.jpg' 2>/dev/null | cmp -s - '$TMP/old.csv' && test -s '$TMP/old.csv'"
  check "emulated old GPUs: one warning, naming the GPU" test "$(grep -c 'warning: no usable CUDA device: none of the 2 GPUs is supported: cuda:0 (nlemu CPU emulation of an sm_70 GPU)' "$TMP/old.err")" -eq 1
  check "emulated old GPUs: the model says cpu" grep -q 'model on cpu' "$TMP/old.err"
  NLEMU_NO_CUBLAS=1 "$BIN" --device auto info --model "$M" >"$TMP/nocublas.json" 2>"$TMP/nocublas.err"
  check "emulated GPUs without cuBLAS: auto runs on the CPU" jq -e '.device == "cpu"' "$TMP/nocublas.json"
  check "emulated GPUs without cuBLAS: one warning saying so" test "$(grep -c 'warning: no usable CUDA device: 2 GPUs found, but cuBLAS could not be loaded' "$TMP/nocublas.err")" -eq 1
  expect_fail "emulated GPUs without cuBLAS: --device cuda refused, saying why" '2 GPUs found, but cuBLAS could not be loaded' \
    env NLEMU_NO_CUBLAS=1 "$BIN" --device cuda info --model "$M"
  unset NLEMU_DEVICES
fi

finish
