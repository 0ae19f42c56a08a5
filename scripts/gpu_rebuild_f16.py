#!/usr/bin/env python3
"""gpu_rebuild_f16.py — rebuild F16 safetensors files that gpu_bundle.sh left
out of the GPU bundle (to stay under the device tool's 64 MiB): for every
NAME.safetensors.header under the folder given, write NAME.safetensors from
the header (the F16 file's own first bytes) and the float32 tensors of the
model.safetensors beside it, cast to float16, then check the SHA-256 that
gpu_bundle.sh recorded in NAME.safetensors.sha256. Exit 1 on any mismatch.
The fixture's F16 file is exactly that cast of its F32 file (checked when
bundling: the bundle refuses to leave out a file it cannot rebuild).

    python3 scripts/gpu_rebuild_f16.py FOLDER            # on the GPU machine
    python3 scripts/gpu_rebuild_f16.py --strip F16_FILE   # when bundling

--strip checks that F16_FILE is the cast of the model.safetensors beside it,
writes its .header and .sha256 and removes it; exit 1 (file kept) if not.
"""
import hashlib, json, os, struct, sys

import numpy as np


def read(path):
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    return b, n, json.loads(b[8:8 + n])


def rebuild(header_bytes, f32_path):
    """The F16 file the header describes, its tensors cast from f32_path."""
    n = struct.unpack("<Q", header_bytes[:8])[0]
    h = json.loads(header_bytes[8:8 + n])
    b32, n32, h32 = read(f32_path)
    size = max(v["data_offsets"][1] for k, v in h.items() if k != "__metadata__")
    data = bytearray(size)
    for k, v in h.items():
        if k == "__metadata__":
            continue
        a, e = v["data_offsets"]
        a32, e32 = h32[k]["data_offsets"]
        src = b32[8 + n32 + a32:8 + n32 + e32]
        if v["dtype"] == "F16" and h32[k]["dtype"] == "F32":
            src = np.frombuffer(src, dtype="<f4").astype("<f2").tobytes()
        elif v["dtype"] != h32[k]["dtype"]:
            raise ValueError(f"{k}: {h32[k]['dtype']} -> {v['dtype']} is not a cast this script makes")
        if len(src) != e - a:
            raise ValueError(f"{k}: {len(src)} bytes, the header says {e - a}")
        data[a:e] = src
    return header_bytes[:8 + n] + bytes(data)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--strip":
        path = sys.argv[2]
        b, n, _ = read(path)
        if rebuild(b[:8 + n], os.path.join(os.path.dirname(path), "model.safetensors")) != b:
            print(f"gpu_rebuild_f16: {path} is not the F16 cast of model.safetensors: kept", file=sys.stderr)
            sys.exit(1)
        with open(path + ".header", "wb") as fh:
            fh.write(b[:8 + n])
        with open(path + ".sha256", "w") as fh:
            fh.write(hashlib.sha256(b).hexdigest() + "\n")
        os.remove(path)
        return
    root = sys.argv[1]
    bad = 0
    for d, _, files in os.walk(root):
        for f in files:
            if not f.endswith(".safetensors.header"):
                continue
            hp = os.path.join(d, f)
            out_path = hp[:-len(".header")]
            with open(hp, "rb") as fh:
                hb = fh.read()
            with open(out_path + ".sha256") as fh:
                want = fh.read().split()[0]
            out = rebuild(hb, os.path.join(d, "model.safetensors"))
            got = hashlib.sha256(out).hexdigest()
            if got != want:
                print(f"gpu_rebuild_f16: {out_path}: sha256 {got}, expected {want}", file=sys.stderr)
                bad = 1
                continue
            tmp = out_path + ".tmp"
            with open(tmp, "wb") as fh:
                fh.write(out)
            os.replace(tmp, out_path)
            print(f"gpu_rebuild_f16: {out_path} rebuilt ({len(out)} bytes, sha256 ok)")
    sys.exit(bad)


if __name__ == "__main__":
    main()
