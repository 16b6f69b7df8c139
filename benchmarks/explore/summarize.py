"""Markdown tables from the JSON lines the exploration scripts write (--json FILE).

    .venv/bin/python benchmarks/explore/summarize.py headline FILE.jsonl
    .venv/bin/python benchmarks/explore/summarize.py jax FILE.jsonl [variant,variant,...]
    .venv/bin/python benchmarks/explore/summarize.py numpy FILE.jsonl
"""

from __future__ import annotations

import collections
import json
import sys

ORDER = {"784-30-10": 0, "784-100-10": 1, "784-256-128-10": 2}


def load(path):
    rows = [json.loads(line) for line in open(path)]
    by = collections.OrderedDict()
    for r in rows:
        key = (r["dtype"], r["net"], r["bs"])
        by.setdefault(key, collections.OrderedDict())[r.get("impl") or r.get("variant")] = r
    return collections.OrderedDict(sorted(by.items(), key=lambda kv: (kv[0][0] != "float64", ORDER[kv[0][1]],
                                                                     kv[0][2])))


def headline(path):
    by = load(path)
    impls = list(next(iter(by.values())))
    print("s/epoch incl. the implementation's own shuffling; (× hand NumPy / × hand JAX)\n")
    print("| dtype | net | bs | " + " | ".join(impls) + " |")
    print("|---|---|---:|" + "---:|" * len(impls))
    for (dt, net, bs), d in by.items():
        cells = [f"{d[i]['total']:.3f} ({d[i]['x_np']:.2f}/{d[i]['x_jax']:.2f})" if i in d else "–" for i in impls]
        print(f"| {dt} | {net} | {bs} | " + " | ".join(cells) + " |")


def jax(path, only=None):
    by = load(path)
    names = list(next(iter(by.values())))
    if only:
        names = [n for n in names if n in only]
    print("wall s/epoch of `grad cols gather`, then each variant's ratio to it (wall / CPU time)\n")
    print("| dtype | net | bs | grad s | " + " | ".join(n for n in names if n != "grad cols gather") + " |")
    print("|---|---|---:|---:|" + "---:|" * (len(names) - 1))
    for (dt, net, bs), d in by.items():
        ref = d["grad cols gather"]
        cells = [f"{d[n]['ratio']:.2f} / {d[n]['cpu_ratio']:.2f}" if n in d else "–" for n in names
                 if n != "grad cols gather"]
        print(f"| {dt} | {net} | {bs} | {ref['s']:.4f} | " + " | ".join(cells) + " |")
    print("\ntrace+lower / compile seconds of the epoch (grad cols gather; printed cols gather donate or the first "
          "printed variant)\n")
    for (dt, net, bs), d in by.items():
        p = next((d[n] for n in d if n.startswith("printed")), None)
        g = d["grad cols gather"]
        print(f"- {dt} {net} bs {bs}: grad {g['trace_lower']:.2f} + {g['compile']:.2f} s; printed "
              f"{p['trace_lower']:.2f} + {p['compile']:.2f} s")


def transposed(path, ref):
    """Variants as rows, configurations as columns: wall ratio to ``ref`` (its seconds in the first row)."""
    by = load(path)
    cfgs = list(by)
    names = []
    for d in by.values():
        names += [n for n in d if n not in names]
    short = {"float64": "f64", "float32": "f32"}
    print("| variant | " + " | ".join(f"{short[dt]} {net} b{bs}" for dt, net, bs in cfgs) + " |")
    print("|---|" + "---:|" * len(cfgs))
    print(f"| {ref} (s) | " + " | ".join(f"{by[c][ref]['s']:.4f}" for c in cfgs) + " |")
    for n in names:
        if n == ref:
            continue
        print(f"| {n} | " + " | ".join(f"{by[c][n]['ratio']:.2f}" if n in by[c] else "–" for c in cfgs) + " |")


def numpy(path):
    by = load(path)
    names = [n for n in next(iter(by.values())) if n != "hand-written @1"]
    print("wall s/epoch of `hand-written @1`, then each variant's ratio to it (wall)\n")
    print("| dtype | net | bs | hand s | " + " | ".join(names) + " |")
    print("|---|---|---:|---:|" + "---:|" * len(names))
    for (dt, net, bs), d in by.items():
        cells = [f"{d[n]['ratio']:.2f}" if n in d else "–" for n in names]
        print(f"| {dt} | {net} | {bs} | {d['hand-written @1']['s']:.4f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    kind, path = sys.argv[1], sys.argv[2]
    if kind == "headline":
        headline(path)
    elif kind == "jax":
        jax(path, sys.argv[3].split(",") if len(sys.argv) > 3 else None)
    elif kind == "jaxT":
        transposed(path, "grad cols gather")
    elif kind == "numpyT":
        transposed(path, "hand-written @1")
    else:
        numpy(path)
