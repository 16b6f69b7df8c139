"""Issue 11, question 5b: the same sharded scan epoch as 2 JAX *processes* (multi-controller), on localhost.

    .venv/bin/python benchmarks/explore/multihost.py [--dtype float32] [--bs 10] [--epochs 3]

What a multi-host run looks like, tried on one machine: the parent starts 2 processes; each calls
``jax.distributed.initialize(coordinator_address="127.0.0.1:PORT", num_processes=2, process_id=i)``
(CPU collectives: gloo, jax's default), sees 1 local CPU device and 2 global devices, builds the global
(nb, d, bs) mini-batch array from *its own half of every mini-batch* with
``jax.make_array_from_process_local_data``, and runs the same jitted scan epoch as sharding.py's
``gspmd``. A third process runs the single-device epoch; the parameters are compared.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def worker(pid, port, dtype, bs, epochs, out):
    from common import blas_threads, load, params0, perms

    blas_threads(1)
    import numpy as np
    import jax

    if dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    if pid >= 0:
        jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=2, process_id=pid)
    import jax.numpy as jnp
    from jax import lax
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

    def step(params, xy, eta):
        W2, b2, W3, b3 = params
        x, y = xy
        a2 = jax.nn.sigmoid(W2 @ x + b2)
        a3 = jax.nn.sigmoid(W3 @ a2 + b3)
        e = a3 - y
        d3 = e * a3 * (1 - a3)
        d2 = (W3.T @ d3) * a2 * (1 - a2)
        k = eta / x.shape[1]
        return (W2 - k * (d2 @ x.T), b2 - k * d2.sum(axis=1, keepdims=True),
                W3 - k * (d3 @ a2.T), b3 - k * d3.sum(axis=1, keepdims=True)), 0.5 * jnp.vdot(e, e)

    def epoch(params, Xb, Yb, eta):
        return lax.scan(lambda p, xy: step(p, xy, eta), params, (Xb, Yb))

    (X, Y), _ = load(dtype)
    eta = np.asarray(3.0, dtype)
    P0 = params0([784, 30, 10], 0, dtype)
    info = {"pid": pid, "process_count": jax.process_count(), "local_devices": str(jax.local_devices()),
            "devices": str(jax.devices())}
    times = []
    if pid < 0:  # single device reference
        f = jax.jit(epoch)
        p = tuple(jnp.asarray(a) for a in P0)
        for perm in perms(8000, epochs, seed=1):
            Xb = np.ascontiguousarray(X[perm].reshape(-1, bs, 784).transpose(0, 2, 1))
            Yb = np.ascontiguousarray(Y[perm].reshape(-1, bs, 10).transpose(0, 2, 1))
            t = time.perf_counter()
            p, _ = f(p, jnp.asarray(Xb), jnp.asarray(Yb), eta)
            jax.block_until_ready(p)
            times.append(time.perf_counter() - t)
    else:
        mesh = Mesh(np.array(jax.devices()), ("batch",))
        rep, bat = NamedSharding(mesh, P()), NamedSharding(mesh, P(None, None, "batch"))
        f = jax.jit(epoch, out_shardings=(rep, rep))
        p = tuple(jax.make_array_from_process_local_data(rep, a) for a in P0)
        half = bs // 2
        for perm in perms(8000, epochs, seed=1):  # every process draws the same permutation (same seed)
            Xb = X[perm].reshape(-1, bs, 784).transpose(0, 2, 1)[:, :, pid * half:(pid + 1) * half]
            Yb = Y[perm].reshape(-1, bs, 10).transpose(0, 2, 1)[:, :, pid * half:(pid + 1) * half]
            gX = jax.make_array_from_process_local_data(bat, np.ascontiguousarray(Xb), (8000 // bs, 784, bs))
            gY = jax.make_array_from_process_local_data(bat, np.ascontiguousarray(Yb), (8000 // bs, 10, bs))
            t = time.perf_counter()
            p, _ = f(p, gX, gY, eta)
            jax.block_until_ready(p)
            times.append(time.perf_counter() - t)
        info["param_sharding"] = str(p[0].sharding)
    info["times"] = times
    np.savez(out, *[np.asarray(a.addressable_data(0)) if hasattr(a, "addressable_data") else np.asarray(a)
                    for a in p])
    print(json.dumps(info))
    if pid >= 0:
        jax.distributed.shutdown()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dtype", default="float64")
    ap.add_argument("--bs", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--worker", nargs=6)
    a = ap.parse_args()
    if a.worker:
        pid, port, dtype, bs, epochs, out = a.worker
        worker(int(pid), int(port), dtype, int(bs), int(epochs), out)
        return
    import tempfile

    import numpy as np

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as d:
        env = {**os.environ, "XLA_FLAGS": ""}
        procs = [subprocess.Popen([sys.executable, __file__, "--worker", str(i), str(port), a.dtype, str(a.bs),
                                   str(a.epochs), f"{d}/p{i}.npz"], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for i in (0, 1)]
        outs = []
        for p in procs:
            try:
                o, e = p.communicate(timeout=300)
            except subprocess.TimeoutExpired:
                p.kill()
                o, e = p.communicate()
            outs.append((p.returncode, o, e))
        ref = subprocess.run([sys.executable, __file__, "--worker", "-1", "0", a.dtype, str(a.bs), str(a.epochs),
                              f"{d}/ref.npz"], env=env, capture_output=True, text=True)
        print(f"# multihost.py: 2 processes on 127.0.0.1, {a.dtype}, 784-30-10, batch {a.bs}, {a.epochs} epochs")
        for rc, o, e in outs + [(ref.returncode, ref.stdout, ref.stderr)]:
            if rc:
                print("FAILED", rc, e[-2500:])
                return
            info = json.loads(o.strip().splitlines()[-1])
            print(f"process {info['pid']:2d}: process_count {info['process_count']}, local {info['local_devices']}, "
                  f"global {info['devices']}; s/epoch {['%.3f' % t for t in info['times']]}"
                  + (f"; params {info['param_sharding']}" if "param_sharding" in info else ""))
        R = np.load(f"{d}/ref.npz")
        for i in (0, 1):
            Q = np.load(f"{d}/p{i}.npz")
            diff = max(float(np.max(np.abs(Q[k] - R[k]))) for k in R.files)
            print(f"process {i} parameters vs single device: max|Δp| = {diff:.2e}")


if __name__ == "__main__":
    main()
