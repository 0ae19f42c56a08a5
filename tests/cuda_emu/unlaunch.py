#!/usr/bin/env python3
"""unlaunch.py IN.cu OUT.cpp — rewrite a CUDA source for the CPU emulator
(tests/cuda_emu/nlemu.h): each launch `k<<<grid, block[, smem[, stream]]>>>(args);`
becomes `nlemu::launch_kernel(k, grid, block, smem, stream, args);`, and each
`extern __shared__ T name[];` a pointer to the launch's dynamic shared memory.
A #line directive keeps compiler messages pointing at IN.cu."""
import re
import sys


def split_top(s):
    """Split s at commas outside brackets."""
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def matching(s, i):
    """Index of the parenthesis closing the one at s[i]."""
    depth = 0
    for j in range(i, len(s)):
        if s[j] == "(":
            depth += 1
        elif s[j] == ")":
            depth -= 1
            if depth == 0:
                return j
    raise SystemExit(f"unbalanced parentheses after offset {i}")


def rewrite(src):
    out, pos, n = [], 0, 0
    launch = re.compile(r"([A-Za-z_][A-Za-z_0-9]*)\s*<<<")
    while True:
        m = launch.search(src, pos)
        if not m:
            break
        end = src.index(">>>", m.end())
        cfg = split_top(src[m.end():end])
        if not 2 <= len(cfg) <= 4:
            raise SystemExit(f"launch of {m.group(1)}: expected 2 to 4 configuration values, got {cfg}")
        cfg += ["0", "0"][: 4 - len(cfg)]
        p = src.index("(", end)
        q = matching(src, p)
        args = src[p + 1:q].strip()
        out.append(src[pos:m.start()])
        # newlines of the original kept, so line numbers still match
        call = f"nlemu::launch_kernel({m.group(1)}, {', '.join(cfg)}{', ' if args else ''}{args})"
        call += "\n" * (src[m.start():q + 1].count("\n") - call.count("\n"))
        out.append(call)
        pos = q + 1
        n += 1
    out.append(src[pos:])
    text = "".join(out)
    text = re.sub(r"extern\s+__shared__\s+(?:__align__\(\d+\)\s+)?([A-Za-z_][A-Za-z_0-9 ]*?)\s*([A-Za-z_][A-Za-z_0-9]*)\s*\[\s*\]\s*;",
                  r"\1 *\2 = (\1 *)nlemu::dyn_smem();", text)
    return text, n


def main():
    src = open(sys.argv[1]).read()
    text, n = rewrite(src)
    if "<<<" in text:
        raise SystemExit(f"{sys.argv[1]}: a launch was left unrewritten")
    with open(sys.argv[2], "w") as f:
        f.write(f'#line 1 "{sys.argv[1]}"\n' + text)


if __name__ == "__main__":
    main()
