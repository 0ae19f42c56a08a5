#!/usr/bin/env python3
"""torch_zip.py — re-save the state dict of a torch.save zip archive in the
other shapes PyTorch users' checkpoints come in, without torch (for
tests/cli_convert.sh): torch's pickling is reproduced with stand-in torch
globals by name and storages by persistent id, so the tensors are the
source's own bytes.

  torch_zip.py wrap SRC DST MODE
      an OpenCLIP training checkpoint as open_clip_train saves it
      ({"epoch", "name", "state_dict", "optimizer", "scaler"}), the names
      under DDP's "module." prefix. MODE: train; train-nostor (the
      optimizer's storages left out of the zip); module (the plain state
      dict, prefixed); bad ('state_dict' a list of the tensors).
  torch_zip.py shard SRC DIR MODE
      transformers' sharded pytorch_model.bin: DIR/pytorch_model-0000k-of-
      00002.bin (each with only its own storages) and
      DIR/pytorch_model.bin.index.json. MODE: ok; missing (the index names
      a tensor no shard has); wrong (a tensor mapped to the other shard);
      unlisted (a shard tensor the index lacks).
"""
import io
import json
import os
import pickle
import struct
import sys
import types
import zipfile
from collections import OrderedDict

torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")
torch._utils = utils
sys.modules.update({"torch": torch, "torch._utils": utils})
for _n in ("Float", "Half", "BFloat16", "Double", "Long", "Int", "Short", "Char", "Byte", "Bool"):
    setattr(torch, _n + "Storage", type(_n + "Storage", (), {"__module__": "torch"}))


class Storage:
    def __init__(self, pid):
        self.pid = pid


class Tensor:
    def __init__(self, *args):
        self.args = args

    def __reduce_ex__(self, proto):
        return (_rebuild_tensor_v2, self.args)


def _rebuild_tensor_v2(*args):
    return Tensor(*args)


_rebuild_tensor_v2.__module__ = "torch._utils"
utils._rebuild_tensor_v2 = _rebuild_tensor_v2


class Reader(pickle.Unpickler):
    def persistent_load(self, pid):
        return Storage(pid)


class Writer(pickle.Pickler):
    def persistent_id(self, obj):
        return obj.pid if isinstance(obj, Storage) else None


def load(src):
    """(the zip, its top folder, the state dict of Tensor stand-ins)"""
    zin = zipfile.ZipFile(src)
    top = zin.namelist()[0].split("/")[0]
    return zin, top, Reader(io.BytesIO(zin.read(top + "/data.pkl"))).load()


def dumps(obj):
    buf = io.BytesIO()
    Writer(buf, protocol=2).dump(obj)
    return buf.getvalue()


def wrap(src, dst, mode):
    zin, top, sd = load(src)
    out = OrderedDict(("module." + k, v) for k, v in sd.items())
    out._metadata = OrderedDict([("", {}), ("module", {"version": 1})])  # as state_dict() has: a BUILD
    extra = {}
    key = [max(int(n.rsplit("/", 1)[1]) for n in zin.namelist() if "/data/" in n) + 1]

    def tensor(values):
        extra[str(key[0])] = struct.pack("<%df" % len(values), *values)
        st = Storage(("storage", torch.FloatStorage, str(key[0]), "cpu", len(values)))
        key[0] += 1
        shape = () if len(values) == 1 else (len(values),)
        return Tensor(st, 0, shape, () if not shape else (1,), False, OrderedDict())

    if mode == "module":
        obj = out
    else:
        obj = {"epoch": 3, "name": "run", "state_dict": list(out.values()) if mode == "bad" else out,
               "optimizer": {"state": {0: {"step": tensor([30.0]), "exp_avg": tensor([0.5, -0.25, 1e-3])},
                                       1: {"step": tensor([30.0]), "exp_avg": tensor([2.0])}},
                             "param_groups": [{"lr": 0.001, "betas": (0.9, 0.98), "eps": 1e-6, "weight_decay": 0.2,
                                               "amsgrad": False, "foreach": None, "maximize": False,
                                               "initial_lr": 0.001, "params": [0, 1]}]},
               "scaler": {"scale": 65536.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2000,
                          "_growth_tracker": 7}}
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as z:
        z.writestr("checkpoint/data.pkl", dumps(obj))
        for n in zin.namelist():
            if not n.endswith("/data.pkl"):
                z.writestr("checkpoint/" + n.split("/", 1)[1], zin.read(n))
        if mode != "train-nostor":
            for k, v in extra.items():
                z.writestr("checkpoint/data/" + k, v)


def shard(src, out, mode):
    zin, top, sd = load(src)
    names = list(sd)
    half = len(names) // 2
    weight_map = {}
    for k, part in enumerate((names[:half], names[half:]), 1):
        fn = "pytorch_model-%05d-of-00002.bin" % k
        stem = fn[:-4]
        with zipfile.ZipFile(os.path.join(out, fn), "w", zipfile.ZIP_STORED) as z:
            z.writestr(stem + "/data.pkl", dumps(OrderedDict((n, sd[n]) for n in part)))
            for e in zin.namelist():
                rest = e.split("/", 1)[1]
                if not (rest.startswith("data/") or rest == "data.pkl"):
                    z.writestr(stem + "/" + rest, zin.read(e))
            for key in sorted({sd[n].args[0].pid[2] for n in part}):
                z.writestr(stem + "/data/" + key, zin.read(top + "/data/" + key))
        weight_map.update((n, fn) for n in part)
    if mode == "missing":
        weight_map["text_model.extra.weight"] = "pytorch_model-00002-of-00002.bin"
    elif mode == "wrong":
        weight_map[names[0]] = "pytorch_model-00002-of-00002.bin"
    elif mode == "unlisted":
        del weight_map[names[-1]]
    with open(os.path.join(out, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map}, f, indent=2)


if __name__ == "__main__":
    {"wrap": wrap, "shard": shard}[sys.argv[1]](*sys.argv[2:5])
