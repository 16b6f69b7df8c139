r"""The training program: forward pass, backprop and the optimizer's update printed as one module.

`compile_training` prints, from a graph (forward and derivative nodes) and an
`OptimizerConfig`, a module with

* `step(params, state, *batch, eta=LR) -> (params, state, C)`: one mini-batch of m examples
  (columns), the cost C of the batch and the update of every parameter — Nielsen's
  w → w − (η/m) ∂C/∂w, momentum or Adam, with L2 decay 2λw on the decayed parameters;
* `epoch(params, state, rows, perm, bs, ..., eta=LR) -> (params, state, ΣC)`: every mini-batch of
  `bs` rows in the shuffled order `perm` (the last, partial batch with its own m);

η is an argument of both (default `LR`, the configuration's): a learning-rate schedule
(`symgrad.numeric.schedule`) changes it between epochs without printing or compiling again
(for JAX a Python float is a traced argument of the jitted scan, not a constant);
* `init_state(params)` (zero velocities / moments, t = 0) and, for NumPy, `workspace(m)`.

It is generic over the graph's leaves: the parameters (`params`, in the graph's order),
the data leaves — inputs then targets, each a matrix with the examples as columns
(`rows` holds one (n, d) array of rows per data leaf) — and one scalar cost. Backends are
printers: the graph is lowered once (`lower`) and printed by
SymPy's NumPy or JAX printer taught symgrad's heads.

* **NumPy** updates in place. η/m is folded into the derivative nodes the backward pass
  starts from (δ^L, ∂C/∂a^L: "seed" terms), so every δ^l and gradient comes out scaled and
  the update is `W -= ∂C/∂W`; matrix products, batch sums and σ write into a workspace of
  preallocated buffers (`out=`).
* **JAX** is functional (η/m applied in the update, which XLA fuses): `step` is jitted; `epoch` is one jitted `lax.scan` over the
  mini-batches that gathers each batch inside the scan from the device-resident rows; with a
  `Mesh` over the axis `"batch"` the batch is split over the devices, the parameters
  replicated (XLA adds one all-reduce of the gradients per step).

`.source` shows all of it and `.export(path)` writes it as a standalone module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp
from sympy import MatAdd, MatMul

from ..core.backprop import backprop
from ..core.functions import sigmoid
from ..core.graph import Graph, as_graph
from ..errors import CompileError, UsageError
from ..store.files import atomic_write_text
from .backend import check_backend, jax_modules
from .compile import DTYPES, _hoist, _live, _lower, _statement, header, printer_for, run_source
from .lower import Lowering, is_matrix
from .numpy_printer import _paren
from .optim import OptimizerConfig

__all__ = ["TrainingProgram", "compile_training"]

#: lax.scan's unroll in the printed JAX epoch (1: XLA's compile stays short; see docs/backends.md)
UNROLL = 1


# ------------------------------------------------------------------ the program
@dataclass
class TrainingProgram:
    """A graph's training program, printed for one backend (see the module docstring).

    `step`, `epoch`, `init_state` (and `workspace` for NumPy) are the generated
    functions; `params` and `data` name the leaves in the order `step` takes them.
    `state_dict` and `load_state` turn the optimizer state into the
    backend-neutral form a checkpoint holds (so a run saved by one backend resumes in the other).
    """

    source: str
    namespace: dict[str, Any] = field(repr=False)
    backend: str
    dtype: str
    params: tuple[str, ...]
    data: tuple[str, ...]
    cost: str
    config: OptimizerConfig
    decay: tuple[str, ...]
    folded: bool
    graph: Graph = field(repr=False)

    @property
    def step(self) -> Any:
        """`step(params, state, *batch[, ws]) -> (params, state, C)` (jitted for JAX)."""
        return self.namespace["step_jit" if self.backend == "jax" else "step"]

    @property
    def epoch(self) -> Any:
        """`epoch(params, state, rows, perm, bs, ...) -> (params, state, summed cost)`."""
        return self.namespace["epoch"]

    def init_state(self, params: Sequence[Any]) -> Any:
        """The optimizer state before the first step (zeros; Adam's t = 0)."""
        return self.namespace["init_state"](params)

    def workspace(self, m: int) -> Any:
        """NumPy: the work buffers of a mini-batch of m examples (`None` for JAX)."""
        return self.namespace["workspace"](int(m)) if self.backend == "numpy" else None

    def export(self, path: Any) -> Any:
        """Write the program as a standalone module (needs only NumPy, or only JAX), atomically."""
        return atomic_write_text(path, self.source)

    # ---------------------------------------------------------- conversions
    def to_backend(self, arrays: Sequence[Any]) -> Any:
        """Host arrays as the backend's: NumPy C-ordered copies in a list (updated in place), or a JAX tuple."""
        dt = np.dtype(self.dtype)
        host = [np.array(a, dtype=dt, order="C") for a in arrays]
        if self.backend == "numpy":
            return host
        jax, _ = jax_modules()
        return tuple(jax.device_put(a) for a in host)

    @staticmethod
    def to_host(arrays: Sequence[Any]) -> list[np.ndarray]:
        """Copies on the host (a JAX array may be donated to the next call: never keep a view of it)."""
        return [np.array(a, copy=True) for a in arrays]

    def state_dict(self, state: Sequence[Any]) -> dict[str, Any]:
        """The state as a checkpoint holds it: `{"t": int64, "v" / "m1" / "m2": {parameter: array}}`."""
        state = list(state)
        n = len(self.params)
        out: dict[str, Any] = {"t": np.asarray(0, dtype=np.int64)}
        for i, key in enumerate(self.config.state_keys):
            out[key] = dict(zip(self.params, self.to_host(state[i * n:(i + 1) * n])))
        if self.config.kind == "adam":
            out["t"] = np.asarray(int(np.asarray(state[-1])), dtype=np.int64)
        return out

    def load_state(self, saved: Mapping[str, Any], shapes: Mapping[str, tuple]) -> Any:
        """The backend's state from `state_dict`'s form (a UsageError names what is missing or misshapen)."""
        arrays: list[Any] = []
        for key in self.config.state_keys:
            group = saved.get(key)
            if not isinstance(group, Mapping):
                raise UsageError(f"checkpoint has no {self.config.kind} state {key!r}")
            for p in self.params:
                a = np.asarray(group.get(p, np.empty(0)))
                if a.shape != tuple(shapes[p]):
                    raise UsageError(f"checkpoint's {self.config.kind} state {key}[{p!r}] has shape {a.shape}, "
                                     f"the parameter has {tuple(shapes[p])}")
                arrays.append(a)
        state = list(self.to_backend(arrays))
        if self.config.kind == "adam":
            t = int(np.asarray(saved.get("t", 0)))
            if self.backend == "numpy":
                state.append(np.asarray(t, dtype=np.int64))
            else:
                jax, _ = jax_modules()
                state.append(jax.device_put(np.asarray(t, dtype=np.int32)))
        return state if self.backend == "numpy" else tuple(state)


# ------------------------------------------------------------------ compile
def compile_training(
    net_or_graph: Any,
    optimizer: OptimizerConfig | str = "sgd",
    *,
    backend: str = "numpy",
    dtype: str = "float64",
    cost: str = "C",
    decay: Sequence[str] | None = None,
    unroll: int = UNROLL,
    **settings: Any,
) -> TrainingProgram:
    """Print and load the training program of a graph (see the module docstring).

    `optimizer` is an `OptimizerConfig` or its `kind` with `settings`
    (`lr`, `momentum`, `weight_decay`, …). `decay` names the parameters the L2 term
    2λw applies to (default: the weight matrices, nodes of kind `"W"` or `"w"`).
    `backend="jax"` needs the `jax` extra; float64 switches on JAX's 64-bit mode.
    """
    try:
        graph = as_graph(net_or_graph)
    except UsageError:
        raise CompileError(f"compile_training() needs a Graph or a Network, got {type(net_or_graph).__name__}") from None
    config = optimizer if isinstance(optimizer, OptimizerConfig) else OptimizerConfig(optimizer, **settings)
    if dtype not in DTYPES:
        raise CompileError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}", arg="dtype")
    check_backend(backend, dtype, CompileError)
    if isinstance(unroll, bool) or not isinstance(unroll, int) or unroll < 1:
        raise CompileError(f"unroll must be a whole number ≥ 1, got {unroll!r}", arg="unroll")
    cost_name = graph.node(cost).name
    params = [p.name for p in graph.parameters]
    if not params:
        raise CompileError(f"graph {graph.name!r} has no parameters to train")
    table = graph.derivatives.get(cost_name, {})
    if any(p not in table for p in params):
        backprop(graph, cost_name, params)
        table = graph.derivatives[cost_name]
    grads = {p: table[p] for p in params}
    if decay is None:
        decay = [p for p in params if graph.node(p).kind in ("W", "w")]
    unknown = [d for d in decay if d not in params]
    if unknown:
        raise CompileError(f"decay: {', '.join(map(repr, unknown))} not a parameter of graph {graph.name!r}",
                           arg="decay")
    source, data, folded = _generate(graph, cost_name, grads, config, tuple(decay), backend, dtype, unroll)
    namespace = run_source(source, f"training {backend}")
    return TrainingProgram(source=source, namespace=namespace, backend=backend, dtype=dtype, params=tuple(params),
                           data=tuple(data), cost=cost_name, config=config, decay=tuple(decay), folded=folded,
                           graph=graph)


# ------------------------------------------------------------------ generation
def _data_leaves(graph: Graph, needed: set[str], params: list[str]) -> tuple[list[str], sp.Symbol]:
    """The inputs then targets the program reads, and the batch size m: the column count they all share."""
    rank = {"input": 0, "target": 1}
    leaves = [n for n in graph.topological_order()
              if n in needed and graph.node(n).expr is None and n not in params]
    data = sorted(leaves, key=lambda n: rank.get(graph.node(n).role, 2))
    if not data:
        raise CompileError(f"graph {graph.name!r}: the cost reads no input: nothing to train on")
    batch = None
    for n in data:
        node = graph.node(n)
        if node.role not in rank:
            raise CompileError(f"node {n!r}: a leaf with role {node.role!r} is neither a parameter nor data "
                               "(an input or a target)")
        d = node.shape[1] if node.is_matrix else None
        if not isinstance(d, sp.Symbol) or (batch is not None and d != batch):
            raise CompileError(f"node {n!r} (shape {node.shape}): a training program needs every input and target "
                               "as a matrix with the examples as columns, all with the same symbolic batch size")
        batch = d
    return data, batch


def _fold(graph: Graph, ctx: Lowering, rewritten: dict[str, sp.Basic], needed: set[str], k: sp.Symbol,
          whole: set[str]) -> bool:
    """Fold the factor k (η/m, or 1/m for Adam) into the terms the backward pass starts from.

    The backward pass is linear in its seed ∂C/∂C = 1: a derivative node is a sum of terms
    each linear in another derivative node, or free of them (the seed's own terms: ∂C/∂a^L,
    δ^L, the decay's 2λW). Multiplying the free terms by k scales every derivative node by k.
    A node free of derivative nodes is scaled as a whole (its name goes into `whole`: the
    printer writes `_k*(…)` around its code, which may be shared with the cost, e.g.
    `a3 - y`). Returns False (and changes nothing) when a node is not of that form.
    """
    deriv = {n for n in needed if graph.node(n).role == "derivative"}

    def refs(e: sp.Basic) -> set[sp.Basic]:
        return {a for a in e.atoms(sp.Dummy, sp.Symbol, sp.MatrixSymbol) if ctx.deps(a, set()) & deriv}

    def linear(e: sp.Basic) -> bool:  # no term free of derivative nodes hides in e
        atoms = refs(e)
        for a in atoms:
            if a in ctx.opaque and not linear(ctx.opaque[a]):
                return False
        z = e.xreplace({a: sp.ZeroMatrix(*a.shape) if is_matrix(a) else sp.S.Zero for a in atoms})
        z = z.doit() if is_matrix(z) else z
        return z == 0 or isinstance(z, sp.ZeroMatrix)

    new: dict[str, sp.Basic] = {}
    scaled: set[str] = set()
    for n in deriv:
        e = rewritten.get(n)
        if e is None:
            continue
        if not refs(e):
            scaled.add(n)
        elif linear(e):
            continue
        elif isinstance(e, (sp.Add, MatAdd)):
            free = [a for a in e.args if not refs(a)]
            lin = [a for a in e.args if refs(a)]
            if not all(linear(a) for a in lin):
                return False
            new[n] = (MatAdd(*lin, k * MatAdd(*free)) if is_matrix(e) else sp.Add(*lin, k * sp.Add(*free)))
        else:
            return False
    rewritten.update(new)
    whole |= scaled
    return True


def _shape_code(shape: Sequence, batch: sp.Symbol, m: str) -> str | None:
    """`(30, m)` for a node's shape, or None when it has another symbolic dimension."""
    parts = []
    for d in shape:
        d = sp.sympify(d)
        if d == batch:
            parts.append(m)
        elif d.is_Integer:
            parts.append(str(int(d)))
        else:
            return None
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def _pure_product(e: sp.Basic) -> bool:
    """A product of exactly two matrices (neither a ones matrix), no scalar factor: one `np.matmul`."""
    return (isinstance(e, MatMul) and len(e.args) == 2 and all(is_matrix(a) for a in e.args)
            and not any(isinstance(a, (sp.OneMatrix, sp.ZeroMatrix, sp.Identity)) for a in e.args))


def _buffered(graph: Graph, ctx: Lowering, printer: Any, n: str, e: sp.Basic, buf: str) -> list[str] | None:
    """NumPy: the statements computing node `n` into its buffer `buf` (`out=`), or None (printed plainly)."""
    node = graph.node(n)
    ident = ctx.ident[node.symbol]
    shape = tuple(node.shape)
    pr = printer._print

    def matmul(prod: sp.Basic) -> str:
        a, b = prod.args
        return f"{ident} = np.matmul({pr(a)}, {pr(b)}, out={buf})"

    if is_matrix(e):
        if _pure_product(e) and tuple(e.shape) == shape:
            return [matmul(e)]
        if (isinstance(e, MatMul) and len(e.args) == 2 and isinstance(e.args[1], sp.OneMatrix)
                and e.args[1].shape[1] == 1 and is_matrix(e.args[0]) and not isinstance(e.args[0], sp.OneMatrix)):
            return [f"{ident} = np.sum({pr(e.args[0])}, axis=1, keepdims=True, out={buf})"]  # the batch sum G 1
        return None
    # scalar forms: (A B) + rest, (A B) ⊙ rest, σ(z)
    if isinstance(e, sigmoid) and isinstance(e.args[0], sp.Dummy) and e.args[0] in ctx.ident \
            and e.args[0] not in ctx.opaque:
        return [f"{ident} = _sigmoid({ctx.ident[e.args[0]]}, out={buf})"]
    if isinstance(e, (sp.Add, sp.Mul)):
        prods = [a for a in e.args if a in ctx.opaque and _pure_product(ctx.opaque[a])
                 and tuple(ctx.opaque[a].shape) == shape]
        if len(prods) != 1:
            return None
        rest = [a for a in e.args if a is not prods[0]]
        op = "+=" if isinstance(e, sp.Add) else "*="
        rest_e = sp.Add(*rest) if isinstance(e, sp.Add) else sp.Mul(*rest)
        if op == "+=" and rest_e.could_extract_minus_sign():
            op, rest_e = "-=", -rest_e
        return [matmul(ctx.opaque[prods[0]]), f"{ident} {op} {pr(rest_e)}"]
    return None


def _body(graph: Graph, ctx: Lowering, printer: Any, rewritten: dict[str, sp.Basic], needed: set[str],
          batch: sp.Symbol, numpy: bool, whole: set[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """The step's statements, one (or two) per node in topological order, and the NumPy buffers `(name, shape)`."""
    body: list[str] = []
    buffers: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for n in graph.topological_order():
        if n not in needed or n not in rewritten:
            continue
        node = graph.node(n)
        ident = ctx.ident[node.symbol]
        e = rewritten[n]
        if numpy and node.is_matrix and n not in whole:
            shape = _shape_code(node.shape, batch, "m")
            if shape is not None:
                buf = f"_ws_{ident}"
                ctx.pre = []
                try:
                    lines = _buffered(graph, ctx, printer, n, e, buf)
                except Exception:  # noqa: BLE001 - printed plainly below, where errors name the node
                    lines = None
                if lines is not None:
                    body.extend(f"    {p}" for p in ctx.pre)
                    body.extend(f"    {line}" for line in lines)
                    buffers.append((buf, shape))
                    continue
        code = _statement(graph, ctx, printer, n, e)
        _hoist(ctx.pre, seen, body)
        if n in whole:  # a seed term of the backward pass: scaled by k = eta/m here, once
            body.append(f"    {ident} = _k*{_paren(seen.get(code, code))}")
            continue
        body.append(f"    {ident} = {seen.get(code, code)}")
        seen.setdefault(code, ident)
    return body, buffers


def _unpack(names: Sequence[str], source: str) -> str:
    return f"    {', '.join(names)}{',' if len(names) == 1 else ''} = {source}"


def _tuple(names: Sequence[str]) -> str:
    return "(" + ", ".join(names) + ("," if len(names) == 1 else "") + ")"


def _updates(config: OptimizerConfig, pids: list[str], gids: list[str], decayed: list[bool], folded: bool,
             numpy: bool) -> tuple[list[str], list[str], list[str]]:
    """(lines before the updates, the update lines, the state variables in order) for the optimizer."""
    f = repr
    lam2 = 2.0 * config.weight_decay
    pre: list[str] = []
    g: list[str] = []
    if lam2 and folded:
        pre.append(f"    _lam2k = {f(lam2)}*_k  # the L2 term 2λw, scaled like the folded gradients")
    for p, d, dec in zip(pids, gids, decayed):
        if folded and not (dec and lam2):
            g.append(d)
            continue
        gname = f"_g_{p}"
        if folded:
            pre.append(f"    {gname} = {d} + _lam2k*{p}")
        elif dec and lam2:
            pre.append(f"    {gname} = _k*({d} + {f(lam2)}*{p})")
        else:
            pre.append(f"    {gname} = _k*{d}")
        g.append(gname)
    up: list[str] = []
    sq = "np.sqrt" if numpy else "jnp.sqrt"
    if config.kind == "sgd":
        state: list[str] = []
        for p, gi in zip(pids, g):
            up.append(f"    {p} -= {gi}" if numpy else f"    {p} = {p} - {gi}")
    elif config.kind == "momentum":
        mu = f(config.momentum)
        state = [f"_v_{p}" for p in pids]
        for p, gi, v in zip(pids, g, state):
            if numpy:
                up += [f"    {v} *= {mu}", f"    {v} -= {gi}", f"    {p} += {v}"]
            else:
                up += [f"    {v} = {mu}*{v} - {gi}", f"    {p} = {p} + {v}"]
    else:
        b1, b2, c1, c2 = (f(config.beta1), f(config.beta2), f(1 - config.beta1), f(1 - config.beta2))
        m1 = [f"_m1_{p}" for p in pids]
        m2 = [f"_m2_{p}" for p in pids]
        state = [*m1, *m2, "_step_t"]
        if numpy:
            up += ["    _step_t += 1  # a 0-d int64 array, in place",
                   "    _t = int(_step_t)",
                   f"    _alpha = eta*math.sqrt(1 - {b2}**_t)/(1 - {b1}**_t)"]
        else:
            up += ["    _step_t = _step_t + 1",
                   "    _t = _step_t.astype(_dtype)",
                   f"    _alpha = eta*jnp.sqrt(1 - {b2}**_t)/(1 - {b1}**_t)"]
        for p, gi, a, s in zip(pids, g, m1, m2):
            if numpy:
                up += [f"    {a} *= {b1}", f"    {a} += {c1}*{gi}", f"    {s} *= {b2}", f"    {s} += {c2}*({gi}*{gi})",
                       f"    {p} -= _alpha*{a}/({sq}({s}) + {f(config.eps)})"]
            else:
                up += [f"    {a} = {b1}*{a} + {c1}*{gi}", f"    {s} = {b2}*{s} + {c2}*({gi}*{gi})",
                       f"    {p} = {p} - _alpha*{a}/({sq}({s}) + {f(config.eps)})"]
    return pre, up, state


def _describe(config: OptimizerConfig) -> str:
    if config.kind == "sgd":
        rule = f"w <- w - (eta/m) dC/dw, eta = {config.lr!r} unless a call gives eta"
    elif config.kind == "momentum":
        rule = (f"v <- mu v - (eta/m) dC/dw, w <- w + v, eta = {config.lr!r} unless a call gives eta, "
                f"mu = {config.momentum!r}")
    else:
        rule = (f"Adam: g = (dC/dw)/m, eta = {config.lr!r} unless a call gives eta, beta1 = {config.beta1!r}, beta2 = {config.beta2!r}, "
                f"eps = {config.eps!r}")
    if config.weight_decay:
        rule += f"; L2 decay lambda = {config.weight_decay!r} (2 lambda w added to dC/dw of DECAY)"
    return rule


def _generate(graph: Graph, cost: str, grads: dict[str, str], config: OptimizerConfig, decay: tuple[str, ...],
              backend: str, dtype: str, unroll: int) -> tuple[str, list[str], bool]:
    """The program's source, its data leaves and whether η/m was folded into the backward pass."""
    numpy = backend == "numpy"
    params = list(grads)
    outputs = [cost, *grads.values()]
    ctx, rewritten = _lower(graph, outputs)
    needed = _live(graph, ctx, rewritten, outputs)
    data, batch = _data_leaves(graph, needed, params)
    k = sp.Symbol("_k")
    ctx.ident[k] = "_k"
    whole: set[str] = set()
    # NumPy: folding saves a pass over every W per step. JAX: XLA fuses k into the dot's consumer anyway, and
    # the folded program measured slower (784-30-10, batch 10: 0.23 s against 0.17 s unfolded): k in the update.
    folded = numpy and _fold(graph, ctx, rewritten, needed, k, whole)
    printer = printer_for(backend, ctx, dtype)
    ctx.dims[batch] = "_m"
    body, buffers = _body(graph, ctx, printer, rewritten, needed, batch, numpy, whole)
    ident = {n: ctx.ident[graph.node(n).symbol] for n in [*params, *data, cost, *grads.values()]}
    pids = [ident[p] for p in params]
    dids = [ident[d] for d in data]
    gids = [ident[grads[p]] for p in params]
    pre, up, state = _updates(config, pids, gids, [p in decay for p in params], folded, numpy)
    scale = "1.0" if config.kind == "adam" else "eta"
    first = dids[0]
    lines = [
        *header(graph, backend, dtype, "A training program"),
        f"PARAMS = {tuple(params)!r}",
        f"DATA = {tuple(data)!r}",
        f"COST = {cost!r}",
        f"DECAY = {tuple(decay)!r}",
        f"OPTIMIZER = {_describe(config)!r}",
        f"LR = {config.lr!r}  # eta when a call gives none (every step and epoch takes eta=...)",
        "",
        "",
    ]
    # --- init_state and workspace
    z = "np" if numpy else "jnp"
    zeros = f"*({z}.zeros_like(p) for p in params)"
    items = {"sgd": [], "momentum": [zeros],
             "adam": [zeros, zeros, "np.zeros((), np.int64)" if numpy else "jnp.zeros((), jnp.int32)"]}[config.kind]
    what = {"sgd": "none", "momentum": "the velocities v", "adam": "the moments m1, m2 and the step count t"}
    lines += ["def init_state(params):",
              "    " + repr(f"The optimizer state before the first step: {what[config.kind]}."),
              ("    return [" + ", ".join(items) + "]") if numpy else ("    return " + _tuple(items))]
    lines += ["", ""]
    if numpy:
        lines += ["def workspace(m):",
                  "    " + repr("Work buffers for mini-batches of m examples: one per buffered node (out=)."),
                  "    return " + _tuple([f"np.empty({s}, _dtype)" for _, s in buffers]), "", ""]
    # --- step
    sig = ", ".join(["params", "state", *dids, *(["ws=None"] if numpy else []), "eta=LR"])
    kdoc = "1/m" if config.kind == "adam" else "eta/m"
    doc = (f"One mini-batch ({', '.join(data)}: examples as columns) with learning rate eta; "
           f"{'in place' if numpy else 'pure'}; returns (params, state, {cost}).")
    lines += [f"def step({sig}):", "    " + repr(doc), _unpack(pids, "params")]
    if state:
        lines.append(_unpack(state, "state"))
    lines.append(f"    _m = {first}.shape[1]")
    fold_doc = "folded into the backward pass's seed terms" if folded else "applied in the update"
    lines.append(f"    _k = {scale}/_m  # {kdoc}, {fold_doc}")
    if numpy and buffers:
        lines += ["    if ws is None:", "        ws = workspace(_m)", _unpack([b for b, _ in buffers], "ws")]
    lines += body
    lines += pre
    lines += up
    if numpy:
        lines += [f"    return params, state, {ident[cost]}", "", ""]
    else:
        lines += [f"    return {_tuple(pids)}, {_tuple(state)}, {ident[cost]}", "", ""]
    # --- epoch
    rows = [f"_{d}_rows" for d in dids]
    if numpy:
        batch_views = ", ".join(f"{r}[_s:_s + bs].T" for r in rows)
        tail_views = ", ".join(f"{r}[_full:].T" for r in rows)
        lines += [
            "def epoch(params, state, rows, perm, bs, ws=None, stop=None, eta=LR):",
            "    " + repr(f"One epoch over rows = ({', '.join(f'{d} rows' for d in data)}) in the order perm, "
                          "mini-batches of bs (the last, partial one with its own m); stop: a list whose "
                          "stop[0] ends the epoch after the current step; eta: the learning rate of every step. "
                          "Returns (params, state, summed cost)."),
            _unpack(rows, "(r[perm] for r in rows)") + "  # the epoch's order: one gather, then views",
            f"    _n = {rows[0]}.shape[0]",
            "    _full = _n - _n % bs",
            "    if ws is None and _full:",
            "        ws = workspace(bs)",
            "    _total = 0.0",
            "    for _s in range(0, _full, bs):",
            f"        params, state, _C = step(params, state, {batch_views}, ws, eta)",
            "        _total += _C",
            "        if stop is not None and stop[0]:",
            "            return params, state, _total",
            "    if _full < _n:",
            f"        params, state, _C = step(params, state, {tail_views}, eta=eta)",
            "        _total += _C",
            "    return params, state, _total",
            "",
        ]
    else:
        lines += [
            "def _scan(params, state, rows, idx, eta):",
            "    " + repr("The full mini-batches idx (nb, bs) in one lax.scan, each gathered from the rows inside."),
            "",
            "    def body(carry, i):",
            "        p, s = carry",
            "        p, s, c = step(p, s, *(r[i].T for r in rows), eta=eta)",
            "        return (p, s), c",
            "",
            f"    (params, state), costs = lax.scan(body, (params, state), idx, unroll={int(unroll)})",
            "    return params, state, costs.sum()",
            "",
            "",
            "step_jit = jax.jit(step, donate_argnums=(0, 1))",
            "_scans = {None: jax.jit(_scan, donate_argnums=(0, 1))}",
            "",
            "",
            "def epoch_fn(mesh=None):",
            "    " + repr("The jitted scan epoch; with a jax.sharding.Mesh over the axis 'batch', the parameters and "
                          "state come out replicated (pass idx sharded over 'batch')."),
            "    fn = _scans.get(mesh)",
            "    if fn is None:",
            "        rep = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())",
            "        fn = _scans[mesh] = jax.jit(_scan, donate_argnums=(0, 1), out_shardings=(rep, rep, rep))",
            "    return fn",
            "",
            "",
            "def epoch(params, state, rows, perm, bs, mesh=None, eta=LR):",
            "    " + repr(f"One epoch over rows = ({', '.join(f'{d} rows' for d in data)}), device arrays (replicated "
                          "on the mesh), in the order perm (host integers), mini-batches of bs (the last, partial one "
                          "replicated, with its own m), learning rate eta (an argument of the compiled scan: a new "
                          "eta does not recompile). params and state are donated: rebind them. Returns "
                          "(params, state, summed cost)."),
            "    perm = np.asarray(perm)",
            "    n = perm.shape[0]",
            "    full = n - n % bs",
            "    total = 0.0",
            "    if full:",
            "        idx = perm[:full].reshape(-1, bs)",
            "        if mesh is not None:",
            "            if bs % mesh.size:",
            "                raise ValueError(f'batch size {bs} does not divide over {mesh.size} devices')",
            "            spec = jax.sharding.PartitionSpec(None, 'batch')",
            "            idx = jax.device_put(idx, jax.sharding.NamedSharding(mesh, spec))",
            "        params, state, total = epoch_fn(mesh)(params, state, rows, idx, eta)",
            "    if full < n:",
            "        tail = perm[full:]",
            "        params, state, c = step_jit(params, state, *(r[tail].T for r in rows), eta=eta)",
            "        total = total + c",
            "    return params, state, total",
            "",
        ]
    return "\n".join(lines), data, folded
