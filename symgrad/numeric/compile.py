r"""Compile a derivative graph to one NumPy function: one statement per node.

`compile_graph` (exported as `symgrad.numeric.compile`) walks the graph in
topological order and writes, for every node the requested outputs need (forward nodes, then derivative nodes; the rest
is dead code and left out), one statement `name = <expression>`. A shared
node is computed once and its variable reused. The graph is first lowered
(`symgrad.numeric.lower`: elementwise matrix expressions in scalar form, σ′(z)
as `a*(1 - a)`, δ^L = `a - y` for σ with cross-entropy), then printed
(`symgrad.numeric.numpy_printer`: `W @ x`, `+ b` broadcasting, stable σ and
softmax).

The result, a `CompiledModel`, has the readable `.source`; calling it
gives the cost and the gradients for a mini-batch (columns are examples);
`.fn` is the raw positional function (the training fast path), and
`.export(path)` writes a standalone module that needs only NumPy.
"""

from __future__ import annotations

import linecache
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

from ..core.backprop import backprop
from ..core.graph import Graph, as_graph, find_cost, node_symbols
from ..errors import CompileError, GraphError, UsageError
from ..networks import layer_params, neuron_params
from ..store.files import atomic_write_text
from . import jax_printer, numpy_printer
from .backend import BACKENDS, check_backend, jax_modules
from .lower import Lowering, fuse_derivatives, is_full, is_matrix, scalar_full
from .names import DTYPES
from .numpy_printer import HELPERS, GraphPrinting, fast_scalar

__all__ = ["BACKENDS", "DTYPES", "HELPERS", "CompiledModel", "CompileError", "compile_graph"]


# ------------------------------------------------------------------ the model
@dataclass
class CompiledModel:
    """A graph compiled to one NumPy function.

    `fn(*args)` is the generated function: positional arrays in the order of
    `args` (node names: parameters, then inputs, then targets), returning a
    tuple in the order of `outputs`. `model(params, x, y)` is the friendly
    call: it returns `(cost, {parameter: gradient})` (when the outputs are a
    cost and gradients) or `{output: value}`.
    """

    source: str
    fn: Any
    args: tuple[str, ...]
    outputs: tuple[str, ...]
    dtype: str
    cost: str | None = None
    grads: dict[str, str] = field(default_factory=dict)  # parameter -> derivative node
    graph: Graph | None = field(default=None, repr=False)
    network: Any = field(default=None, repr=False)
    function_name: str = "compiled"
    backend: str = "numpy"
    #: the outputs' terms that use no example (λΣw², 2λw), compiled on their own; built on first need
    _once: Any = field(default=None, repr=False)

    @property
    def params(self) -> tuple[str, ...]:
        """The parameters whose gradients are returned, in order."""
        return tuple(self.grads)

    def __repr__(self) -> str:
        return f"<CompiledModel {self.function_name}({', '.join(self.args)}) -> {', '.join(self.outputs)}>"

    # -------------------------------------------------------------- calls
    def evaluate(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """`{output: value}` given `{leaf name: value}` (checked, converted to the dtype)."""
        missing = [a for a in self.args if a not in values]
        if missing:
            raise UsageError(f"compiled model needs a value for {', '.join(map(repr, missing))}")
        arrays = [self._convert(a, values[a]) for a in self.args]
        out = self.fn(*arrays)
        if self.backend != "numpy":  # device arrays back to NumPy
            out = [np.asarray(o) for o in out]
        return dict(zip(self.outputs, out))

    def _convert(self, name: str, value: Any) -> Any:
        arr = np.asarray(value, dtype=self.dtype)
        node = self.graph.node(name) if self.graph is not None else None
        if node is not None and node.is_matrix:
            if arr.ndim == 1 and node.shape[1] == 1:
                arr = arr.reshape(-1, 1)
            if arr.ndim != 2:
                raise UsageError(f"node {name!r} needs a matrix of shape {node.shape}, got shape {arr.shape}")
            if not _fits(node.shape, arr.shape):
                # data given as rows (one example per row, as train() takes it) when only that reading fits
                if node.role in ("input", "target") and _fits(node.shape, arr.shape[::-1]):
                    return np.ascontiguousarray(arr.T)
                what = " (one example per column)" if node.role in ("input", "target") else ""
                raise UsageError(f"node {name!r} needs shape {node.shape}{what}, got {arr.shape}")
        elif arr.ndim == 0:
            arr = arr[()]
        return arr

    def __call__(self, *args: Any, **kw: Any) -> Any:
        """`model(params, x, y)` -> `(cost, grads)`; `model(values)` or `model(*arrays)` also work.

        `params` maps parameter names to arrays (for a neuron-level network
        also the layer arrays `W2, b2, ...`, with `x`, `y` as (n, m)
        arrays, one example per column: the result is then summed over the m
        examples, and a term that uses no example, λΣw² in C and 2λw in ∂C/∂w,
        counts once per mini-batch, as at the layer level).
        """
        if len(args) == 1 and isinstance(args[0], Mapping) and not kw:
            values = dict(args[0])
        elif args and isinstance(args[0], Mapping):
            values = dict(args[0])
            leaves = [a for a in self.args if a not in values]
            if self._neuron_level():
                return self._neuron_call(values, *args[1:], **kw)
            for name, v in zip(leaves, args[1:]):
                values[name] = v
            values.update(kw)
        elif len(args) == len(self.args):
            values = dict(zip(self.args, args))
        else:
            raise UsageError(
                f"call the compiled model as model(params, x, y) or with {len(self.args)} arrays "
                f"({', '.join(self.args)})"
            )
        out = self.evaluate(values)
        return self._shape_result(out)

    def _shape_result(self, out: dict[str, Any]) -> Any:
        if self.cost is not None and self.grads and set(self.outputs) == {self.cost, *self.grads.values()}:
            return out[self.cost], {p: out[d] for p, d in self.grads.items()}
        return out

    def _neuron_level(self) -> bool:
        return self.network is not None and self.network.level == "neuron"

    def _neuron_call(self, params: Mapping[str, Any], x: Any = None, y: Any = None) -> Any:
        net = self.network
        values = neuron_params(net, params, self.dtype)
        if x is not None:
            X = as_columns("x", x, net.sizes[0]).astype(self.dtype)
            values.update({name: X[k] for k, name in enumerate(net.names["x"])})
        if y is not None:
            Y = as_columns("y", y, net.sizes[-1]).astype(self.dtype)
            values.update({name: Y[k] for k, name in enumerate(net.names["y"])})
        out = self.batch_sum(values)
        if self.cost is None or not self.grads:
            return out
        return out[self.cost], layer_params(net, {p: out[d] for p, d in self.grads.items()}, self.dtype)

    def batch_sum(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """`{output: Σ_x value}`: the outputs of a graph that holds one example, summed over a mini-batch.

        `values` gives each input and target node a vector, one entry per example (the
        parameters stay scalars). A term that uses no example (no input, no target), such as
        λΣw² in C, 2λw in ∂C/∂w or 2λ in ∂²C/∂w², belongs to the mini-batch once, as at the
        layer level, not once per example.
        """
        per_example = self.evaluate(values)
        out = {k: np.sum(v) for k, v in per_example.items()}
        if max((np.size(v) for v in per_example.values()), default=1) > 1:
            once = self._example_free()
            if once is not None:
                model, parts = once
                free = model.evaluate({a: values[a] for a in model.args})
                for o, part in parts.items():
                    if np.ndim(per_example[o]) > 0:  # it came into the sum once per example
                        out[o] = out[o] - (np.size(per_example[o]) - 1) * free[part]
        return out

    def _example_free(self) -> tuple[CompiledModel, dict[str, str]] | None:
        """The outputs' example-free terms compiled apart, and `{output: its part's node}`; or None."""
        if self._once is None:
            self._once = example_free_parts(self.graph, self.outputs, self.dtype) or False
        return self._once or None

    # ------------------------------------------------------------- export
    def export(self, path: Any) -> Any:
        """Write the generated code as a standalone module (NumPy only, or JAX only), atomically."""
        return atomic_write_text(path, self.source)


def _fits(shape: tuple, actual: tuple) -> bool:
    return all(not sp.sympify(d).is_Integer or int(d) == a for d, a in zip(shape, actual))


def as_columns(name: str, value: Any, n: int) -> np.ndarray:
    """`value` as an n × m array, one example per column (the layer level's orientation, x = a^1).

    A 1-D array of n numbers is one example; an m × n array with m ≠ n (examples as rows, as
    `train()` takes them) is turned; anything else is a `UsageError` that says which
    shape is wanted.
    """
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise UsageError(f"{name} must be an array of numbers, got {type(value).__name__}", arg=name) from None
    if arr.ndim == 1 and arr.shape[0] == n:
        return arr.reshape(n, 1)
    if arr.ndim == 2 and arr.shape[0] == n:
        return arr
    if arr.ndim == 2 and arr.shape[1] == n:
        return arr.T
    raise UsageError(
        f"{name} has shape {arr.shape}, but the network takes {n} numbers per example: give an {n} × m array "
        "(one example per column)", arg=name
    )


def _outputs(graph: Graph, cost: str | None, wrt: Sequence[str] | None,
             outputs: Sequence[str] | None) -> tuple[list[str], dict[str, str], str | None]:
    """(outputs, {parameter: its derivative node among them}, the cost if it is one), running backprop if needed."""
    if outputs is None:
        cost_name = graph.node(cost).name
        params = list(wrt) if wrt is not None else [p.name for p in graph.parameters]
        table = graph.derivatives.get(cost_name, {})
        if any(p not in table for p in params):
            backprop(graph, cost_name, params)
            table = graph.derivatives[cost_name]
        grads = {p: table[p] for p in params}
        return [cost_name, *grads.values()], grads, cost_name
    if any(isinstance(o, str) and o not in graph for o in outputs) and cost is not None:
        backprop(graph, cost)  # derivative nodes asked for before backprop was run
    outputs = [graph.node(o).name for o in outputs]
    grads: dict[str, str] = {}
    cost_out = None
    if cost is not None and cost in graph.derivatives:
        inv = {d: p for p, d in graph.derivatives[cost].items()}
        grads = {inv[o]: o for o in outputs if o in inv}
        cost_out = cost if cost in outputs else None
    return outputs, grads, cost_out


def example_free_parts(graph: Graph, outputs: Sequence[str],
                       dtype: str) -> tuple[CompiledModel, dict[str, str]] | None:
    """The terms of the scalar `outputs` that use no example (no input, no target), compiled as one model.

    A neuron-level graph holds one example; its cost C = Σ_j c_j(x, y) + λ Σ w² is summed over a
    mini-batch example by example, but λ Σ w² (and 2λw in ∂C/∂w) belongs to the batch once. Returns
    the model and `{output: the node of its example-free part}`; None when no output has one.
    """
    data = {n.name for n in graph.nodes(("input", "target"))}
    dependent = set(data)
    for d in data:
        dependent |= nx.descendants(graph.nx, d)
    parts: dict[str, sp.Basic] = {}
    for o in outputs:
        node = graph.node(o)
        if node.expr is None or node.is_matrix or o not in dependent:
            continue
        free = [t for t in sp.Add.make_args(node.expr)
                if not any(graph.node(s).name in dependent for s in node_symbols(t))]
        if free:
            parts[o] = sp.Add(*free)
    if not parts:
        return None
    used = {graph.node(s).name for e in parts.values() for s in node_symbols(e)}
    g = graph.subgraph(used, name=f"{graph.name} (terms without an example)")
    names = {}
    for i, (o, e) in enumerate(parts.items()):
        names[o] = f"once{i}"
        g.add(names[o], e)
    return compile_graph(g, outputs=list(names.values()), dtype=dtype, name="example_free"), names


def compile_graph(
    net_or_graph: Any,
    cost: str | None = None,
    wrt: Sequence[str] | None = None,
    dtype: str = "float64",
    outputs: Sequence[str] | None = None,
    *,
    name: str = "compiled",
    update: str | None = None,
    backend: str = "numpy",
) -> CompiledModel:
    """Compile the graph's nodes needed for `outputs` into one NumPy (or JAX) function.

    `outputs` defaults to the cost and ∂cost/∂p for every parameter in
    `wrt` (default: all parameters with a derivative node; backprop is run
    first if it has not been). `cost` defaults to a network's cost, or to the
    graph's one node of role `cost`, whatever its name (several, or none, when
    the outputs are the cost's gradients: an error says to name it). Leaves become
    positional arguments; the generated source is `model.source`.

    Orientation: a layer-level mini-batch is columns, x is n_1 × m (one example per
    column), as in the book's `z^l = W^l a^{l−1} + b^l`; `train()` takes data as rows
    (one example per row, as data sets come) and turns them into columns itself.

    `update="sgd"` makes the training step itself: the function takes one more
    argument `eta` (η/m) and, after computing every gradient, updates the
    parameters in place, w → w − (η/m) ∂C/∂w, returning nothing — Nielsen's
    update with no Python between the gradients and the update.
    """
    try:
        graph = as_graph(net_or_graph)
    except UsageError:
        raise CompileError(f"compile() needs a Graph or a Network, got {type(net_or_graph).__name__}") from None
    network = None if net_or_graph is graph else net_or_graph
    if dtype not in DTYPES:
        raise CompileError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}", arg="dtype")
    check_backend(backend, dtype, CompileError)
    if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
        raise CompileError(f"name must be a Python identifier not starting with _, got {name!r}", arg="name")
    try:
        if network is not None and cost is None:
            cost = network.cost_node
        elif outputs is None or cost is not None:
            cost = find_cost(graph, cost)
        else:
            costs = graph.nodes("cost")
            cost = costs[0].name if len(costs) == 1 else None
    except GraphError as e:
        raise CompileError(str(e), arg="cost") from None
    outputs, grads, cost_out = _outputs(graph, cost, wrt, outputs)
    if update not in (None, "sgd"):
        raise CompileError(f"update must be None or 'sgd', got {update!r}", arg="update")
    if update == "sgd" and not grads:
        raise CompileError("update='sgd' needs gradient outputs (∂C/∂p of the parameters)", arg="update")
    if update == "sgd" and backend != "numpy":
        raise CompileError("update='sgd' updates NumPy arrays in place; for JAX use compile_training()", arg="update")
    source, args = _generate(graph, outputs, dtype, name, grads if update else None, backend)
    namespace = run_source(source, f"compiled {name}")
    fn = namespace[name]
    if backend == "jax":
        fn = jax_modules()[0].jit(fn)
    return CompiledModel(
        source=source,
        fn=fn,
        args=tuple(args),
        outputs=tuple(outputs),
        dtype=dtype,
        cost=cost_out,
        grads=grads,
        graph=graph,
        network=network,
        function_name=name,
        backend=backend,
    )


def run_source(source: str, what: str) -> dict[str, Any]:
    """Execute generated `source` (ours: every name in it is derived or a `repr` literal) in a fresh namespace.

    The source is registered with `linecache`, so tracebacks and `inspect` show its lines.
    """
    namespace: dict[str, Any] = {"__name__": "symgrad_generated"}
    filename = f"<symgrad-{what.replace(' ', '-')} {id(source):x}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)  # our own generated source, never user text
    return namespace


# ------------------------------------------------------------- generation
def _lower(graph: Graph, outputs: list[str]) -> tuple[Lowering, dict[str, sp.Basic]]:
    """The lowering of the nodes `outputs` need: `{node: expression to print}`."""
    ctx = Lowering(graph)
    needed = graph.upstream(outputs)
    for n in needed:
        node = graph.node(n)
        if node.expr is not None and node.role != "derivative":
            ctx.add_rules(node)
    rewritten: dict[str, sp.Basic] = {}
    for n in needed:
        node = graph.node(n)
        if node.expr is None:
            continue
        try:
            rewritten[n] = ctx.rewrite(node)
        except Exception as e:  # noqa: BLE001 - name the node, whatever SymPy raised
            raise CompileError(f"node {n!r}: cannot compile {node.expr}: {e}") from None
    fuse_derivatives(graph, ctx, rewritten, graph.topological_order())
    return ctx, rewritten


def _live(graph: Graph, ctx: Lowering, rewritten: dict[str, sp.Basic], outputs: list[str]) -> set[str]:
    """The nodes the lowered expressions of `outputs` still use (a fused δ^L no longer needs ∂C/∂a^L)."""
    needed: set[str] = set()
    stack = list(outputs)
    while stack:
        n = stack.pop()
        if n in needed:
            continue
        needed.add(n)
        if n in rewritten:
            e = rewritten[n]
            if e is graph.node(n).expr and not graph.node(n).is_matrix:
                stack.extend(graph.nx.predecessors(n))
            else:
                stack.extend(ctx.deps(e, set()) - needed)
    return needed


def _hoist(pre: list[str], seen: dict[str, str], body: list[str]) -> None:
    """Append a statement's hoisted temporaries (`_t1 = a3 - y`); code seen before is reused by name."""
    for p in pre:
        tname, tcode = p.split(" = ", 1)
        if tcode not in seen:
            seen[tcode] = tname
            body.append(f"    {p}")
        else:
            body.append(f"    {tname} = {seen[tcode]}")


def _statement(graph: Graph, ctx: Lowering, printer: GraphPrinting, n: str, e: sp.Basic) -> str:
    """The code computing node `n` from its lowered expression `e` (hoisted temporaries go to `ctx.pre`)."""
    node = graph.node(n)
    ctx.pre = []
    code = None if node.is_matrix else fast_scalar(e, ctx.ident, printer.np)
    try:
        code = code if code is not None else printer.doprint(e)
    except CompileError as err:
        raise CompileError(f"node {n!r}: {err}") from None
    except Exception as err:  # noqa: BLE001
        undefined = sorted({str(a.func) for a in node.expr.atoms(AppliedUndef)})
        if undefined:
            raise CompileError(
                f"node {n!r}: {', '.join(undefined)} is an undefined function (sympy.Function), with no numeric "
                f"code; define it (a sympy.Lambda, or a symgrad head) before compiling"
            ) from None
        why = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise CompileError(f"node {n!r}: cannot print {' '.join(str(node.expr).split())[:80]}: {why}") from None
    # a node whose code broadcasts (a constant, b 1ᵀ alone) gets its full shape
    if node.is_matrix and ((is_matrix(node.expr) and not is_matrix(e) and not scalar_full(ctx, e))
                           or (is_matrix(e) and not is_full(e))):
        code = f"{printer.np}.broadcast_to({code}, {printer._shape(node.shape)})"
        code += ".copy()" if printer.np == "np" else ""  # NumPy's broadcast is a read-only view
    return code


def _body(graph: Graph, ctx: Lowering, printer: GraphPrinting, rewritten: dict[str, sp.Basic],
          needed: set[str]) -> list[str]:
    """One line per needed node, in topological order; the same code twice is computed once."""
    body: list[str] = []
    seen: dict[str, str] = {}
    for n in graph.topological_order():
        if n not in needed or n not in rewritten:
            continue
        code = _statement(graph, ctx, printer, n, rewritten[n])
        _hoist(ctx.pre, seen, body)
        ident = ctx.ident[graph.node(n).symbol]
        # the same expression twice (e.g. a3 - y in C and in ∂C/∂a3) is computed once
        body.append(f"    {ident} = {seen.get(code, code)}")
        seen.setdefault(code, ident)
    return body


def _dimensions(graph: Graph, ctx: Lowering, args: list[str]) -> list[str]:
    """Lines reading the batch size (and any other symbolic dimension) off the arguments."""
    dims: list[str] = []
    for a in args:
        node = graph.node(a)
        if node.is_matrix:
            for i, d in enumerate(node.shape):
                if isinstance(d, sp.Symbol) and d not in ctx.dims:
                    ctx.dims[d] = f"_dim{len(ctx.dims)}_" + re.sub(r"[^A-Za-z0-9_]", "_", str(d))
                    dims.append(f"    {ctx.dims[d]} = {ctx.ident[node.symbol]}.shape[{i}]")
    return dims


def printer_for(backend: str, ctx: Lowering, dtype: str) -> GraphPrinting:
    """The printer of a backend: SymPy's NumPy or JAX printer, taught symgrad's heads."""
    if backend == "jax":
        return jax_printer.GraphJaxPrinter(ctx, dtype)
    return numpy_printer.GraphNumPyPrinter(ctx, dtype)


def header(graph: Graph, backend: str, dtype: str, what: str) -> list[str]:
    """The generated module's first lines: its docstring (a `repr` literal: the graph's name is text, never code),
    imports, dtype and the stable helpers."""
    needs = "JAX" if backend == "jax" else "NumPy"
    doc = f"{what}, generated by symgrad from graph {graph.name!r} (needs only {needs})."
    if backend == "jax":
        imports = ["import functools", "", "import jax", "import jax.numpy as jnp", "import numpy as np",
                   "from jax import lax", ""]
        if dtype == "float64":
            imports += ["jax.config.update(\"jax_enable_x64\", True)  # float64: JAX's 64-bit mode, before any array", ""]
        return [repr(doc), "", *imports, f"_dtype = jnp.{dtype}", "", "", jax_printer.HELPERS]
    return [repr(doc), "", "import math", "", "import numpy as np", "", f"_dtype = np.{dtype}", "", "", HELPERS]


def _generate(graph: Graph, outputs: list[str], dtype: str, fname: str,
              sgd: dict[str, str] | None = None, backend: str = "numpy") -> tuple[str, list[str]]:
    """The generated module's source and its function's arguments (leaf names, then `eta` for `sgd`)."""
    ctx, rewritten = _lower(graph, outputs)
    needed = _live(graph, ctx, rewritten, outputs)
    role_rank = {"parameter": 0, "input": 1, "target": 2}
    leaves = [n for n in graph.topological_order() if n in needed and graph.node(n).expr is None]
    args = sorted(leaves, key=lambda n: role_rank.get(graph.node(n).role, 3))
    printer = printer_for(backend, ctx, dtype)
    dims = _dimensions(graph, ctx, args)
    body = _body(graph, ctx, printer, rewritten, needed)
    idents = [ctx.ident[graph.node(a).symbol] for a in args]
    rets = [ctx.ident[graph.node(o).symbol] for o in outputs]
    if sgd:
        missing = [p for p in sgd if p not in args]
        if missing:
            raise CompileError(f"update='sgd': parameter(s) {', '.join(map(repr, missing))} are not arguments")
        idents.append("eta")
        args = [*args, "eta"]
        body.append("    # Nielsen's update, in place: w -> w - (eta/m) dC/dw (eta here is already eta/m)")
        for p, d in sgd.items():
            body.append(f"    {ctx.ident[graph.node(p).symbol]} -= eta*{ctx.ident[graph.node(d).symbol]}")
        rets = []
    what = f"updates {', '.join(sgd)} in place" if sgd else f"-> ({', '.join(outputs)})"
    doc = "    " + repr(f"{graph.name}: ({', '.join(args)}) {what}; generated by symgrad.")
    used = "\n".join(body)
    lines = [
        *header(graph, backend, dtype, "A compiled derivative graph"),
        f"ARGS = {tuple(args)!r}",
        f"OUTPUTS = {tuple(outputs)!r}",
        "",
        "",
        f"def {fname}({', '.join(idents)}):",
        doc,
        *[d for d in dims if re.search(r"\b" + d.split(" = ")[0].strip() + r"\b", used)],
        *body,
        (f"    return ({', '.join(rets)},)" if len(rets) == 1 else f"    return {', '.join(rets)}") if rets
        else "    return None",
        "",
    ]
    return "\n".join(lines), args
