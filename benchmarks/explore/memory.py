"""Issue 11, question 7: peak memory (RSS) and build + first-jit time, each variant in a fresh process.

    .venv/bin/python benchmarks/explore/memory.py
    .venv/bin/python benchmarks/explore/memory.py --one "jax printed gather" 784-30-10 10 float64   # one child

A child process imports what its variant needs, loads the data, builds the symgrad graph (mlp +
backprop + compile: what a printer will start from), prepares the variant (exec of the printed
source, jit) and runs 3 epochs. It reports ru_maxrss (peak RSS) after imports, after loading the data,
after the first epoch and at the end, and the seconds of: symgrad build+backprop+compile, the first
epoch call (trace + compile + run), a later epoch. ``cache`` variants turn on JAX's persistent
compilation cache (a fresh directory; the child runs twice, the second run reads the cache).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

VARIANTS = ["numpy symgrad today", "numpy printed buf", "jax hand gather", "jax printed gather",
            "jax printed hostT", "torch eager"]


def child(variant, net, bs, dtype, cache_dir=""):
    import resource

    def rss():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    out = {}
    t0 = time.perf_counter()
    from common import NETS, blas_threads, load, params0, perms

    blas_threads(1)
    import numpy as np

    if variant.startswith("jax"):
        import jax

        if dtype == "float64":
            jax.config.update("jax_enable_x64", True)
        if cache_dir:
            jax.config.update("jax_compilation_cache_dir", cache_dir)
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
            jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
        import jax.numpy as jnp
    if variant.startswith("torch"):
        import torch

        torch.set_num_threads(1)
    import symgrad  # noqa: F401
    from symgrad.compile import compile as sg_compile

    out["import_s"] = time.perf_counter() - t0
    out["rss_import"] = rss()
    (X, Y), _ = load(dtype)
    out["rss_data"] = rss()
    sizes = NETS[net]
    L = len(sizes)
    t = time.perf_counter()
    g = symgrad.mlp(sizes, "sigmoid", "quadratic", level="layer")
    table = g.backprop()
    sg_compile(g, outputs=list(table.values()), dtype=dtype, update="sgd")
    out["build_backprop_compile_s"] = time.perf_counter() - t
    P0 = params0(sizes, 0, dtype)
    E = perms(X.shape[0], 3, seed=1)
    times = []
    t = time.perf_counter()
    if variant == "numpy symgrad today":
        import numpy_step as N

        r = N.SymgradToday("", sizes, P0, bs, dtype, 1)

        def run(perm):
            r.epoch(X[perm], Y[perm], None, None)
    elif variant == "numpy printed buf":
        import numpy_step as N

        r = N.Printed("", sizes, P0, bs, dtype, 1, style="buf", loop="inline", kfold=True)

        def run(perm):
            r.epoch(X[perm], Y[perm], None, None)
    elif variant == "torch eager":
        import numpy_step as N

        r = N.Torch("", sizes, P0, bs, dtype, 1)

        def run(perm):
            r.epoch(X[perm], Y[perm], None, None)
    else:
        from common import jax_generators

        G = jax_generators(dtype)
        kind = variant.split()[-1]
        fn = (G["make_grad_epoch"](L, "cols", kind) if "hand" in variant
              else G["exec_source"](G["printed_source"](L, data=kind))["epoch"])
        f = jax.jit(fn, static_argnums=(5,), donate_argnums=(0,))
        state = [tuple(jnp.asarray(p) for p in P0)]
        Xd, Yd = jax.device_put(X), jax.device_put(Y)
        eta = np.asarray(3.0, dtype)

        def run(perm):
            if kind == "hostT":
                Xb = jnp.asarray(np.ascontiguousarray(X[perm].reshape(-1, bs, 784).transpose(0, 2, 1)))
                Yb = jnp.asarray(np.ascontiguousarray(Y[perm].reshape(-1, bs, 10).transpose(0, 2, 1)))
            else:
                Xb, Yb = Xd, Yd
            o = f(state[0], Xb, Yb, jnp.asarray(perm), eta, bs)
            jax.block_until_ready(o)
            state[0] = o[0]
    out["prepare_s"] = time.perf_counter() - t
    for i, perm in enumerate(E):
        t = time.perf_counter()
        run(perm)
        times.append(time.perf_counter() - t)
        if i == 0:
            out["rss_first_epoch"] = rss()
    out["first_epoch_s"] = times[0]
    out["later_epoch_s"] = min(times[1:])
    out["rss_peak"] = rss()
    return out


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        v, net, bs, dt, cache = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]
        print(json.dumps(child(v, net, bs, dt, cache)))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        print(json.dumps(child(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]), indent=1))
        return
    from common import machine

    print(f"# memory.py; {machine()}")
    print("each line a fresh process: 3 epochs; RSS in MiB (ru_maxrss); times in s")
    hdr = (f"{'variant':24s} {'net':15s} {'bs':>3s} {'dtype':7s} {'import':>6s} {'RSS imp':>7s} {'RSS data':>8s} "
           f"{'build':>6s} {'1st ep':>7s} {'later':>6s} {'build+1st-later':>15s} {'RSS 1st':>7s} {'RSS peak':>8s}")
    print(hdr)
    runs = [(v, net, 10, dt) for dt in ("float64", "float32") for net in ("784-30-10", "784-256-128-10")
            for v in VARIANTS]
    runs += [("jax printed gather", "784-30-10", 100, "float64"), ("jax printed hostT", "784-30-10", 100, "float64")]
    for v, net, bs, dt in runs:
        p = subprocess.run([sys.executable, __file__, "--child", v, net, str(bs), dt, ""], capture_output=True,
                           text=True)
        if p.returncode:
            print(v, net, bs, dt, "FAILED", p.stderr[-1500:])
            continue
        r = json.loads(p.stdout.strip().splitlines()[-1])
        jit = r["build_backprop_compile_s"] + r["prepare_s"] + r["first_epoch_s"] - r["later_epoch_s"]
        print(f"{v:24s} {net:15s} {bs:3d} {dt:7s} {r['import_s']:6.2f} {r['rss_import']:7.0f} {r['rss_data']:8.0f} "
              f"{r['build_backprop_compile_s']:6.3f} {r['first_epoch_s']:7.3f} {r['later_epoch_s']:6.3f} {jit:15.3f} "
              f"{r['rss_first_epoch']:7.0f} {r['rss_peak']:8.0f}", flush=True)
    print("\npersistent compilation cache (jax printed gather, 784-30-10, bs 10, float64): cold, then warm")
    with tempfile.TemporaryDirectory() as d:
        for label in ("cold cache", "warm cache"):
            p = subprocess.run([sys.executable, __file__, "--child", "jax printed gather", "784-30-10", "10",
                                "float64", d], capture_output=True, text=True)
            r = json.loads(p.stdout.strip().splitlines()[-1])
            print(f"  {label}: first epoch {r['first_epoch_s']:.3f} s, later {r['later_epoch_s']:.3f} s "
                  f"(first-call overhead {r['first_epoch_s'] - r['later_epoch_s']:.3f} s)")


if __name__ == "__main__":
    main()
