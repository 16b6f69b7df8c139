"""Issue 11: API behaviours of the installed jax that a printer must get right (each checked, printed).

    .venv/bin/python benchmarks/explore/pitfalls.py

Each check runs in its own subprocess (x64 and XLA flags are process-wide) and prints what happened.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

CHECKS = {
    "float64 data without x64": """
        import warnings, numpy as np, jax, jax.numpy as jnp
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            a = jnp.asarray(np.ones(3, np.float64)); b = jax.device_put(np.ones(3, np.float64))
            c = jnp.asarray(np.arange(3, dtype=np.int64))
            d = jnp.zeros(3, dtype=jnp.float64)
        print("jnp.asarray(float64) ->", a.dtype, "| device_put(float64) ->", b.dtype, "| asarray(int64) ->", c.dtype,
              "| zeros(dtype=float64) ->", d.dtype)
        print("warnings:", [str(x.message)[:110] for x in w])
    """,
    "x64 as a context manager (jax.enable_x64)": """
        import numpy as np, jax, jax.numpy as jnp
        print("jax.enable_x64 is", type(jax.enable_x64).__name__)
        try:
            with jax.enable_x64(True):
                a = jnp.asarray(np.ones(3)); f = jax.jit(lambda x: x * 2)(a)
            print("inside: ", a.dtype, f.dtype, "| after:", jnp.asarray(np.ones(3)).dtype)
        except Exception as e:
            print("enable_x64 context:", type(e).__name__, str(e)[:200])
    """,
    "a function jitted inside jax.enable_x64, called outside it": """
        import numpy as np, jax, jax.numpy as jnp
        with jax.enable_x64(True):
            f = jax.jit(lambda x: x * 2)
            a = jnp.asarray(np.ones(3))
            print("inside: input", a.dtype, "output", f(a).dtype)
        print("outside, same float64 input array:", f(a).dtype, "| a new array:", f(jnp.asarray(np.ones(3))).dtype)
    """,
    "jax.make_mesh (Explicit axes) and a contraction over the sharded batch axis": """
        import os
        os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
        import numpy as np, jax, jax.numpy as jnp
        from jax import lax
        from jax.sharding import NamedSharding, PartitionSpec as P, AxisType
        mesh = jax.make_mesh((2,), ("batch",))
        print("make_mesh axis_types:", mesh.axis_types)
        def make(fix):
            def step(p, xy):
                (W,), (x, y) = p, xy
                a = jax.nn.sigmoid(W @ x); d = (a - y) * a * (1 - a)
                g = jnp.matmul(d, x.T, out_sharding=P()) if fix else d @ x.T
                return (W - 0.3 * g,), None
            return jax.jit(lambda p, X, Y: lax.scan(step, p, (X, Y)))
        X = jax.device_put(np.random.rand(8, 784, 10).astype(np.float32), NamedSharding(mesh, P(None, None, "batch")))
        Y = jax.device_put(np.random.rand(8, 30, 10).astype(np.float32), NamedSharding(mesh, P(None, None, "batch")))
        W = jax.device_put(np.random.rand(30, 784).astype(np.float32), NamedSharding(mesh, P()))
        for fix in (False, True):
            try:
                with jax.set_mesh(mesh):
                    out = make(fix)((W,), X, Y)
                print(f"out_sharding=P() given: {fix}: ok, W sharding {out[0][0].sharding.spec}")
            except Exception as e:
                print(f"out_sharding=P() given: {fix}: {type(e).__name__}: {str(e)[:160]}")
        print("Auto mesh instead:", jax.make_mesh((2,), ("batch",), axis_types=(AxisType.Auto,)))
    """,
    "float32 params under x64: Adam alpha from an int step counter": """
        import numpy as np, jax, jax.numpy as jnp
        from jax import lax
        jax.config.update("jax_enable_x64", True)
        W = jnp.ones((3, 3), jnp.float32)
        def body(c, _):
            W, t = c
            t = t + 1
            alpha = 0.01 * jnp.sqrt(1 - 0.999**t) / (1 - 0.9**t)
            return (W - alpha * W, t), None
        for t0 in (0, jnp.asarray(0, jnp.int32), jnp.asarray(0)):
            try:
                (W2, t), _ = lax.scan(body, (W, t0), None, length=3)
                print(f"t0={t0!r:32s} ok: W {W2.dtype}, t {t.dtype}")
            except Exception as e:
                print(f"t0={t0!r:32s} {type(e).__name__}: {str(e).splitlines()[0][:150]}")
        def body2(c, _):
            W, t = c
            t = t + 1
            alpha = (0.01 * jnp.sqrt(1 - 0.999**t) / (1 - 0.9**t)).astype(W.dtype)
            return (W - alpha * W, t), None
        (W2, t), _ = lax.scan(body2, (W, jnp.asarray(0)), None, length=3)
        print("with alpha.astype(W.dtype):", W2.dtype)
    """,
    "float32 Adam alpha computed in float32 vs float64": """
        import numpy as np, jax, jax.numpy as jnp
        t = jnp.arange(1, 801, dtype=jnp.int32)
        a32 = np.asarray(0.01 * jnp.sqrt(1 - 0.999**t) / (1 - 0.9**t))
        tt = np.arange(1, 801, dtype=np.float64)
        a64 = 0.01 * np.sqrt(1 - 0.999**tt) / (1 - 0.9**tt)
        rel = np.abs(a32 - a64) / a64
        print(f"max relative error of alpha_t (t=1..800) in float32: {rel.max():.2e} (at t={int(rel.argmax()) + 1}); "
              f"float32 eps {np.finfo(np.float32).eps:.2e}; vs alpha rounded to float32 from float64: "
              f"{(np.abs(a64.astype(np.float32) - a64) / a64).max():.2e}")
        print("1e-8 in float32:", np.float32(1e-8), "| sqrt(0)+eps > 0:", float(jnp.sqrt(jnp.float32(0)) + 1e-8) > 0)
    """,
    "donation on CPU": """
        import warnings, numpy as np, jax, jax.numpy as jnp
        f = jax.jit(lambda p, x: (p[0] - 0.1 * x, p[1] * 2), donate_argnums=(0,))
        p = (jnp.ones((30, 784)), jnp.ones((30, 1)))
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            q = f(p, jnp.ones((30, 784)))
        print("warnings:", [str(x.message)[:120] for x in w])
        print("donated input deleted:", p[0].is_deleted())
        try:
            p[0] + 1
        except Exception as e:
            print("using a donated array:", type(e).__name__, str(e)[:100])
    """,
    "weak-typed python scalars as jit args": """
        import numpy as np, jax, jax.numpy as jnp
        jax.config.update("jax_enable_x64", True)
        n = [0]
        @jax.jit
        def f(W, eta):
            n[0] += 1
            return W - eta * W
        W = jnp.ones(3, jnp.float32)
        print("eta=3.0 (python float):", f(W, 3.0).dtype, "| eta=np.float64(3):", f(W, np.float64(3.0)).dtype,
              "| eta=np.float32(3):", f(W, np.float32(3.0)).dtype, "| traces:", n[0])
    """,
    "lax.scan over a python-int-length with a partial last batch": """
        import numpy as np, jax, jax.numpy as jnp
        from jax import lax
        perm = jnp.arange(8005)
        try:
            perm.reshape(-1, 10)
        except Exception as e:
            print("perm(8005).reshape(-1, 10):", type(e).__name__, str(e)[:120])
        print("perm[:8000].reshape(-1, 10):", perm[:8000].reshape(-1, 10).shape, "+ a tail of", 8005 % 10)
    """,
    "meshes and shard_map on 2 host devices": """
        import os
        os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
        import numpy as np, jax, jax.numpy as jnp
        from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
        print("devices:", jax.devices(), "| jax.P is PartitionSpec:", jax.P is P)
        m1 = jax.make_mesh((2,), ("batch",))
        print("jax.make_mesh((2,), ('batch',)):", m1, "axis_types", m1.axis_types)
        m2 = Mesh(np.array(jax.devices()), ("batch",))
        print("Mesh(devices, ('batch',)):", m2)
        x = jax.device_put(np.ones((784, 10)), NamedSharding(m2, P(None, "batch")))
        print("x sharding:", x.sharding, "| shards:", [s.data.shape for s in x.addressable_shards])
        f = jax.shard_map(lambda a: jax.lax.psum(a.sum(axis=1, keepdims=True), "batch"), mesh=m2,
                          in_specs=P(None, "batch"), out_specs=P())
        print("shard_map psum:", jax.jit(f)(x).shape, "| jax.experimental.shard_map importable:", end=" ")
        try:
            from jax.experimental.shard_map import shard_map  # noqa: F401
            print("yes")
        except Exception as e:
            print(type(e).__name__, str(e)[:100])
        try:
            jax.device_put(np.ones((784, 5)), NamedSharding(m2, P(None, "batch")))
        except Exception as e:
            print("5 columns on 2 devices:", type(e).__name__)
        print("pmap still there:", hasattr(jax, "pmap"))
    """,
}


def main():
    for name, code in CHECKS.items():
        p = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True)
        print(f"## {name}")
        print(textwrap.indent((p.stdout + (p.stderr[-800:] if p.returncode else "")).strip(), "   "))
        print()


if __name__ == "__main__":
    main()
