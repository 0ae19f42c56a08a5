# cli_memory.sh — peak resident memory of `neglabel embed` on a full-size
# checkpoint: a random-weight ViT-B/16 (tests/memtool.c, random_clip.h)
# written as F32, F16 and BF16 in a temporary folder, each embedding four
# images and four texts on the CPU's fp32 path and on its bf16 path. The
# peak RSS (getrusage's ru_maxrss, measured by `memtool peak`) must stay
# within the weight bytes the engine computes from + 200 MB (10^6 bytes):
# fp32 path 4 bytes a parameter; bf16 path 2 bytes a parameter of the
# matrices the bf16 kernels multiply by, 4 for the rest (README, "Memory").
# The weight bytes come from the shapes memtool writes, and the parameter
# count is checked against `neglabel info`'s. Before the mapped pages were
# given back while loading, F32 peaked at ~1.18 GB on both paths and F16/BF16
# at ~0.89 GB (bounds: 0.80 GB fp32, 0.55 GB bf16).
# Then a config whose working memory would outgrow its weights (memtool
# bomb, below): within start-up + 400 MB.
# Measured above the program's own start-up RSS (`neglabel --version`, the
# same binary and shared libraries, no model: ~14 MB, in a CUDA build too,
# which opens cuBLAS only when a GPU is used; when it linked cuBLAS, mapping
# libcublasLt touched ~180 MB of relocated pages at start, 214 MB in all:
# tests/test_cublas_load.c checks that nothing maps it at start).
# Under AddressSanitizer (a NEGLABEL_SANITIZE build) RSS measures the
# sanitizer (shadow memory, quarantine): the same runs are made and checked,
# the bound is printed but not asserted.
. "$(dirname "$0")/lib_cli.sh"
need_shared
need_jq
MEMTOOL=${NEGLABEL_BUILD:-build}/memtool
check "memtool is built ($MEMTOOL)" test -x "$MEMTOOL"
[ -x "$MEMTOOL" ] || { finish; exit 1; }
sanitized=0
grep -qs '^NEGLABEL_SANITIZE:BOOL=ON' "${NEGLABEL_BUILD:-build}/CMakeCache.txt" && sanitized=1
native=$(nl devices | jq -r '.cpu.bf16_kernel')
paths=fp32
if [ "$native" != none ]; then paths="fp32 bf16"
else echo "note: this CPU has no native bf16 (devices: .cpu.bf16_kernel none): only the fp32 path is measured"; fi

I=$SHARED/fixtures/images
args=(--image "$I/dog.jpg" --image "$I/eagle.jpg" --image "$I/giraffe.jpg" --image "$I/horses.jpg"
      --text "a photo of a dog" --text "the nice cat" --text "a red double-decker bus in the rain"
      --text "Grevy's zebra")
LIMIT=200000000
"$MEMTOOL" peak "$TMP/base" "$BIN" --version >/dev/null
base=$(cat "$TMP/base" 2>/dev/null || echo 0)
check "start-up RSS measured ($base KiB)" test "$base" -gt 0
echo "start-up RSS of $BIN (--version, no model): $((base / 1024)) MiB ($base KiB)"
for dt in F32 F16 BF16; do
  M="$TMP/$dt"
  mkdir -p "$M"
  out=$("$MEMTOOL" checkpoint "$M" "$dt")
  check "$dt checkpoint written" test -s "$M/model.safetensors"
  cp "$TINY/vocab.json" "$TINY/merges.txt" "$M/"
  read -r _ params _ fp32_bytes _ bf16_bytes <<<"$out"
  info_params=$(nl info --model "$M" 2>/dev/null | jq -r '.parameters')
  check "$dt: parameters as written ($params) = info's ($info_params)" test "$params" = "$info_params"
  # The threads: the machine's default (all cores), and for F32 on the fp32
  # path 64 as well, so that memory which grows with the thread count (each
  # fingerprint-hashing thread held a 4 MiB buffer: 1 core 0.63 GiB, 64
  # cores 0.80-0.87 GiB against a 0.76 GiB bound) fails here whatever the
  # number of cores of the machine that runs the test.
  runs=$paths; [ "$dt" = F32 ] && runs="$paths fp32@64"
  for run in $runs; do
    p=${run%@*} threads=(); [ "$run" != "$p" ] && threads=(--threads "${run#*@}")
    w=$fp32_bytes; [ "$p" = bf16 ] && w=$bf16_bytes
    "$MEMTOOL" peak "$TMP/peak" "$BIN" "${threads[@]}" embed --model "$M" --device cpu --precision "$p" "${args[@]}" \
      >"$TMP/out.jsonl" 2>"$TMP/err"
    rc=$?
    check "$dt $run: embed runs (rc $rc: $(tail -n 1 "$TMP/err"))" test $rc -eq 0
    check "$dt $run: embed says where it ran" grep -q "model on cpu.*$p" "$TMP/err"
    rows=$(jq -s '[.[] | select((.embedding | length) == 512 and all(.embedding[]; isinfinite | not))] | length' \
      "$TMP/out.jsonl" 2>/dev/null)
    check "$dt $run: 8 embeddings of 512 finite values (got ${rows:-none})" test "${rows:-0}" -eq 8
    kib=$(cat "$TMP/peak" 2>/dev/null || echo 0)
    bound=$(( base + (w + LIMIT) / 1024 ))
    echo "$dt on the $p path${threads[*]:+ (${threads[*]})}: peak RSS $((kib / 1024)) MiB ($kib KiB); weights $((w / 1048576)) MiB ($w bytes), bound $((bound / 1024)) MiB (start-up + weights + 200 MB)"
    if [ $sanitized -eq 1 ]; then
      echo "  (sanitizer build: the bound is not asserted)"
    else
      check "$dt $run: peak RSS $kib KiB <= start-up + weights + 200 MB = $bound KiB" test "$kib" -gt 0 -a "$kib" -le "$bound"
    fi
  done
  rm -rf "$M"
done

# A config that asks for more than its weights hold (memtool bomb: a 2 MB
# checkpoint, 2048-pixel images in 16-pixel patches, 16,385 tokens, width
# 8, an MLP 32,768 wide): attention scores in row blocks (16 MiB a thread),
# the MLP in row blocks (64 MiB), the default batch sized to 256 MiB of
# pixels (4 images here). One image and one text within start-up + 400 MB;
# before, the T x T scores (1.07 GB) and the rows x 32,768 MLP (2.1 GB) made
# 3.3 GB (at 4096 pixels, 65,537 tokens: "refusing to allocate 34 GB").
M=$TMP/bomb
mkdir -p "$M"
"$MEMTOOL" bomb "$M"
check "bomb checkpoint written" test -s "$M/model.safetensors"
cp "$TINY/vocab.json" "$TINY/merges.txt" "$M/"
batch=$(nl info --model "$M" 2>/dev/null | jq -r '.batch_size')
check "bomb: the default batch holds 256 MiB of 2048-pixel images: 4 (got $batch)" test "$batch" = 4
for p in $paths; do
  "$MEMTOOL" peak "$TMP/peak" "$BIN" embed --model "$M" --device cpu --precision "$p" --image "$I/dog.jpg" \
    --text "a photo of a dog" >"$TMP/out.jsonl" 2>"$TMP/err"
  rc=$?
  check "bomb $p: embed runs (rc $rc: $(tail -n 1 "$TMP/err"))" test $rc -eq 0
  rows=$(jq -s '[.[] | select((.embedding | length) == 8 and all(.embedding[]; . != null))] | length' \
    "$TMP/out.jsonl" 2>/dev/null)
  check "bomb $p: 2 embeddings of 8 finite values (got ${rows:-none})" test "${rows:-0}" -eq 2
  kib=$(cat "$TMP/peak" 2>/dev/null || echo 0)
  bound=$(( base + 400000000 / 1024 ))
  echo "bomb on the $p path: peak RSS $((kib / 1024)) MiB ($kib KiB), bound $((bound / 1024)) MiB (start-up + 400 MB)"
  if [ $sanitized -eq 1 ]; then
    echo "  (sanitizer build: the bound is not asserted)"
  else
    check "bomb $p: peak RSS $kib KiB <= start-up + 400 MB = $bound KiB" test "$kib" -gt 0 -a "$kib" -le "$bound"
  fi
done
finish
