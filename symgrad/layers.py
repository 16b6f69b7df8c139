r"""Layers at matrix level, in the book's notation: each adds named nodes to a `Graph`.

A mini-batch is a matrix with one example per column (m columns; for a sequence model, one
token per column). A bias b is broadcast as b 1ᵀ, a gain γ as γ 1ᵀ; a sum over an example's
entries is 1ᵀ x (Σ_j x_j, one per column), a mean (1/d) 1ᵀ x. Every layer is one function
`f(g, x, ..., k=...)` that adds its nodes (named with the layer's number k: `W3`, `b3`,
`z3`) to the graph and returns the name of its output node; the builder `sequential`
stacks them, so that an MLP, a residual MLP and a one-block transformer are each a few lines.

| layer | nodes it adds (per column) |
|---|---|
| `dense` | z = W x + b 1ᵀ |
| `activation` | a = f(z) elementwise: σ, tanh, ReLU, softplus, SiLU, GELU (tanh approximation) |
| `softmax` | a = softmax(z), per column |
| `layer_norm` | μ = (1/d) 1ᵀ x, c = x − 1 μ, v = (1/d) 1ᵀ (c ∘ c), r = (v + ε 1ᵀ)^∘−½, x̂ = c ⊙ (1 r), h = x̂ ⊙ (γ 1ᵀ) + β 1ᵀ |
| `rms_norm` | s = (1/d) 1ᵀ (x ∘ x), r = (s + ε 1ᵀ)^∘−½, x̂ = x ⊙ (1 r), h = x̂ ⊙ (γ 1ᵀ) (+ β 1ᵀ) |
| `residual` | h = x + F(x) |
| `swiglu` | g = W_gate x, u = W_up x, h = SiLU(g) ⊙ u, o = W_down h |
| `dropout` | h = x ⊙ M, the mask M an input (entries 0 or 1/(1 − p)) |
| `attention` | Q = W_Q x, K = W_K x, V = W_V x, S = KᵀQ/√d_k (+ M), A = softmax(S) per column, h = V A |

Costs: `softmax_cross_entropy` C = −Σ_x Σ_j y_j ln softmax(z)_j = −tr(yᵀ ln softmax(z)),
`quadratic` C = ½ Σ_x ‖a − y‖² = ½ tr((a − y)ᵀ(a − y)). Backprop (`symgrad.backprop`)
needs nothing more: each head has one rule in `symgrad.core.rules`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp
from sympy import HadamardProduct, OneMatrix, Trace
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.hadamard import HadamardPower

from .core import functions as F
from .core.backprop import backprop
from .core.graph import Graph
from .errors import GraphError, UsageError

#: The elementwise activations a layer may use: name -> SymPy head.
ELEMENTWISE: dict[str, type[sp.Function]] = {
    "sigmoid": F.sigmoid,
    "tanh": sp.tanh,
    "relu": F.relu,
    "softplus": F.softplus,
    "silu": F.silu,
    "gelu": F.gelu,
}

#: ε of the norms, exact (so the proofs stay exact): 10⁻⁵.
EPS = sp.Rational(1, 10**5)

__all__ = [
    "ELEMENTWISE", "EPS", "Model", "activation", "attention", "block_mask", "dense", "dropout", "init_values",
    "layer_norm", "mean_pool_matrix", "quadratic", "residual", "rms_norm", "sequential", "softmax",
    "softmax_cross_entropy", "swiglu",
]


# ------------------------------------------------------------------ helpers
def _shape(g: Graph, x: str) -> tuple:
    node = g.node(x)
    if not node.is_matrix:
        raise GraphError(f"node {node.name!r}: a layer needs a matrix input (one example per column), got a scalar")
    return tuple(node.shape)


def _whole(name: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise UsageError(f"{name} must be a whole number ≥ 1, got {v!r}", arg=name)
    return int(v)


def _param(g: Graph, name: str, shape: tuple, tex: str, kind: str, k: Any, init: str) -> sp.MatrixSymbol:
    return g.parameter(name, shape, tex=tex, kind=kind, meta={"layer": k, "init": init})


def _node(g: Graph, name: str, expr: sp.Basic, tex: str, k: Any, kind: str | None = None) -> str:
    g.add(name, expr, tex=tex, kind=kind, meta={"layer": k})
    return name


def _ones(rows: Any, cols: Any) -> OneMatrix:
    return OneMatrix(rows, cols)


# ------------------------------------------------------------------ layers
def dense(g: Graph, x: str, n_out: int, *, k: Any, bias: bool = True) -> str:
    r"""z^k = W^k x + b^k 1ᵀ: W^k (n_out × d), b^k (n_out × 1). Returns `"z{k}"`."""
    d, m = _shape(g, x)
    n_out = _whole("n_out", n_out)
    W = _param(g, f"W{k}", (n_out, d), f"W^{{{k}}}", "W", k, "glorot")
    expr = W * g[x]
    if bias:
        b = _param(g, f"b{k}", (n_out, 1), f"b^{{{k}}}", "b", k, "zeros")
        expr = expr + b * _ones(1, m)
    return _node(g, f"z{k}", expr, f"z^{{{k}}}", k, kind="z")


def activation(g: Graph, x: str, fn: str, *, k: Any) -> str:
    """a^k = f(x) elementwise, f one of `ELEMENTWISE`. Returns `"a{k}"`."""
    if fn not in ELEMENTWISE:
        raise UsageError(f"unknown activation {fn!r}; choose one of {', '.join(ELEMENTWISE)}", arg="activation")
    _shape(g, x)
    return _node(g, f"a{k}", ElementwiseApplyFunction(ELEMENTWISE[fn], g[x]), f"a^{{{k}}}", k, kind="a")


def softmax(g: Graph, x: str, *, k: Any) -> str:
    r"""a^k = softmax(x) per column: a_j = exp(x_j) / Σ_i exp(x_i). Returns `"a{k}"`."""
    _shape(g, x)
    return _node(g, f"a{k}", F.softmax(g[x]), f"a^{{{k}}}", k, kind="a")


def _norm_out(g: Graph, xhat: sp.Basic, d: Any, m: Any, k: Any, bias: bool) -> str:
    gamma = _param(g, f"gamma{k}", (d, 1), rf"\gamma^{{{k}}}", "gain", k, "ones")
    expr = HadamardProduct(xhat, gamma * _ones(1, m))
    if bias:
        beta = _param(g, f"beta{k}", (d, 1), rf"\beta^{{{k}}}", "b", k, "zeros")
        expr = expr + beta * _ones(1, m)
    return _node(g, f"h{k}", expr, f"h^{{{k}}}", k)


def layer_norm(g: Graph, x: str, *, k: Any, eps: sp.Basic = EPS, bias: bool = True) -> str:
    r"""Layer norm per column, with gain γ and bias β (d × 1 each):

    μ = (1/d) 1ᵀ x, c = x − 1 μ, v = (1/d) 1ᵀ (c ∘ c), r = (v + ε 1ᵀ)^∘−½, x̂ = c ⊙ (1 r),
    h = x̂ ⊙ (γ 1ᵀ) + β 1ᵀ. Returns `"h{k}"`.
    """
    d, m = _shape(g, x)
    X = g[x]
    mu = g.add(f"mu{k}", sp.Rational(1, d) * _ones(1, d) * X, tex=rf"\mu^{{{k}}}", meta={"layer": k})
    c = g.add(f"c{k}", X - _ones(d, 1) * mu, tex=f"c^{{{k}}}", meta={"layer": k})
    v = g.add(f"var{k}", sp.Rational(1, d) * _ones(1, d) * HadamardPower(c, 2), tex=f"v^{{{k}}}", meta={"layer": k})
    r = g.add(f"r{k}", HadamardPower(v + eps * _ones(1, m), sp.Rational(-1, 2)), tex=f"r^{{{k}}}",
              meta={"layer": k})
    xhat = g.add(f"xhat{k}", HadamardProduct(c, _ones(d, 1) * r), tex=rf"\hat{{x}}^{{{k}}}", meta={"layer": k})
    return _norm_out(g, xhat, d, m, k, bias)


def rms_norm(g: Graph, x: str, *, k: Any, eps: sp.Basic = EPS, bias: bool = False) -> str:
    r"""RMSNorm per column, with gain γ (and, with `bias=True`, a bias β):

    s = (1/d) 1ᵀ (x ∘ x), r = (s + ε 1ᵀ)^∘−½, x̂ = x ⊙ (1 r), h = x̂ ⊙ (γ 1ᵀ) (+ β 1ᵀ).
    Returns `"h{k}"`.
    """
    d, m = _shape(g, x)
    X = g[x]
    s = g.add(f"ms{k}", sp.Rational(1, d) * _ones(1, d) * HadamardPower(X, 2), tex=f"s^{{{k}}}", meta={"layer": k})
    r = g.add(f"r{k}", HadamardPower(s + eps * _ones(1, m), sp.Rational(-1, 2)), tex=f"r^{{{k}}}",
              meta={"layer": k})
    xhat = g.add(f"xhat{k}", HadamardProduct(X, _ones(d, 1) * r), tex=rf"\hat{{x}}^{{{k}}}", meta={"layer": k})
    return _norm_out(g, xhat, d, m, k, bias)


def residual(g: Graph, x: str, fx: str, *, k: Any) -> str:
    """h^k = x + F(x), the residual connection (F(x) the node `fx`, of x's shape). Returns `"h{k}"`."""
    if _shape(g, x) != _shape(g, fx):
        raise GraphError(f"node 'h{k}': a residual needs F(x) of x's shape: {x} is {_shape(g, x)}, "
                         f"{fx} is {_shape(g, fx)}")
    return _node(g, f"h{k}", g[x] + g[fx], f"h^{{{k}}}", k)


def swiglu(g: Graph, x: str, hidden: int, n_out: int | None = None, *, k: Any) -> str:
    r"""The SwiGLU MLP (Shazeer 2020; Llama/Qwen's gate, up and down projections):

    g = W_gate x, u = W_up x (hidden × m), h = SiLU(g) ⊙ u, o = W_down h (n_out × m, default d).
    Returns `"o{k}"`.
    """
    d, _m = _shape(g, x)
    hidden = _whole("hidden", hidden)
    n_out = d if n_out is None else _whole("n_out", n_out)
    Wg = _param(g, f"Wg{k}", (hidden, d), rf"W^{{{k}}}_{{\mathrm{{gate}}}}", "W", k, "glorot")
    Wu = _param(g, f"Wu{k}", (hidden, d), rf"W^{{{k}}}_{{\mathrm{{up}}}}", "W", k, "glorot")
    Wd = _param(g, f"Wd{k}", (n_out, hidden), rf"W^{{{k}}}_{{\mathrm{{down}}}}", "W", k, "glorot")
    gate = g.add(f"gate{k}", Wg * g[x], tex=rf"g^{{{k}}}", meta={"layer": k})
    up = g.add(f"up{k}", Wu * g[x], tex=rf"u^{{{k}}}", meta={"layer": k})
    h = g.add(f"act{k}", HadamardProduct(ElementwiseApplyFunction(F.silu, gate), up), tex=f"h^{{{k}}}",
              meta={"layer": k})
    return _node(g, f"o{k}", Wd * h, f"o^{{{k}}}", k)


def dropout(g: Graph, x: str, p: float = 0.5, *, k: Any) -> str:
    """h^k = x ⊙ M^k with the mask M^k an input of x's shape (inverted dropout: entries 0 or 1/(1 − p);
    `train` draws it for every mini-batch, all ones to evaluate). Returns `"h{k}"`; the mask is the
    input `"M{k}"`."""
    shape = _shape(g, x)
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
        raise UsageError(f"dropout p must be a number in [0, 1), got {p!r}", arg="p")
    M = g.input(f"M{k}", shape, tex=f"M^{{{k}}}", kind="mask", meta={"layer": k, "dropout": float(p)})
    return _node(g, f"h{k}", HadamardProduct(g[x], M), f"h^{{{k}}}", k)


def attention(g: Graph, x: str, d_k: int, d_v: int | None = None, *, k: Any, mask: str | None = None) -> str:
    r"""One scaled dot-product attention head over the columns of x (tokens as columns):

    Q = W_Q x, K = W_K x (d_k × T), V = W_V x (d_v × T, default d), S = KᵀQ/√d_k (+ M, an additive
    mask input: 0 where query j may see key i, a large negative number where not), A = softmax(S)
    per column (column j: query j's weights over the keys), h = V A. Returns `"h{k}"`.
    """
    d, T = _shape(g, x)
    d_k = _whole("d_k", d_k)
    d_v = d if d_v is None else _whole("d_v", d_v)
    X = g[x]
    Wq = _param(g, f"Wq{k}", (d_k, d), rf"W^{{{k}}}_{{Q}}", "W", k, "glorot")
    Wk = _param(g, f"Wk{k}", (d_k, d), rf"W^{{{k}}}_{{K}}", "W", k, "glorot")
    Wv = _param(g, f"Wv{k}", (d_v, d), rf"W^{{{k}}}_{{V}}", "W", k, "glorot")
    Q = g.add(f"Q{k}", Wq * X, tex=f"Q^{{{k}}}", meta={"layer": k})
    K = g.add(f"K{k}", Wk * X, tex=f"K^{{{k}}}", meta={"layer": k})
    V = g.add(f"V{k}", Wv * X, tex=f"V^{{{k}}}", meta={"layer": k})
    scores = (1 / sp.sqrt(d_k)) * K.T * Q
    if mask is not None:
        if _shape(g, mask) != (T, T):
            raise GraphError(f"node 'S{k}': the mask {mask} must be {T}×{T} (keys × queries), is {_shape(g, mask)}")
        scores = scores + g[mask]
    S = g.add(f"S{k}", scores, tex=f"S^{{{k}}}", meta={"layer": k})
    A = g.add(f"A{k}", F.softmax(S), tex=f"A^{{{k}}}", meta={"layer": k})
    return _node(g, f"h{k}", V * A, f"h^{{{k}}}", k)


# ------------------------------------------------------------------ costs
def softmax_cross_entropy(g: Graph, z: str, y: str = "y", *, name: str = "C") -> str:
    r"""C = −Σ_x Σ_j y_j ln softmax(z)_j = −tr(yᵀ ln softmax(z)) (summed over the batch); y a target of z's shape."""
    shape = _shape(g, z)
    Y = g[y] if y in g else g.target(y, shape, tex="y", kind="y")
    g.add(name, -Trace(Y.T * F.log_softmax(g[z])), role="cost", tex="C", kind="C")
    return name


def quadratic(g: Graph, a: str, y: str = "y", *, name: str = "C") -> str:
    r"""C = ½ Σ_x ‖a − y‖² = ½ tr((a − y)ᵀ(a − y)); y a target of a's shape."""
    shape = _shape(g, a)
    Y = g[y] if y in g else g.target(y, shape, tex="y", kind="y")
    A = g[a]
    g.add(name, Trace((A - Y).T * (A - Y)) / 2, role="cost", tex="C", kind="C")
    return name


# ------------------------------------------------------------------ sequences
def block_mask(batch: int, tokens: int, *, causal: bool = False, value: float = -1e9) -> np.ndarray:
    """The additive attention mask M (BT × BT) of `batch` sequences of `tokens` columns side by side:
    0 where key i and query j are in the same sequence (and, `causal`, i ≤ j), `value` elsewhere."""
    n = batch * tokens
    seq = np.arange(n) // tokens
    ok = seq[:, None] == seq[None, :]
    if causal:
        ok &= np.arange(n)[:, None] <= np.arange(n)[None, :]
    return np.where(ok, 0.0, value)


def mean_pool_matrix(batch: int, tokens: int) -> np.ndarray:
    """P (BT × B) with P_ib = 1/T when column i belongs to sequence b: h P is each sequence's mean column."""
    P = np.zeros((batch * tokens, batch))
    P[np.arange(batch * tokens), np.arange(batch * tokens) // tokens] = 1.0 / tokens
    return P


# ------------------------------------------------------------------ values
def init_values(g: Graph, seed: int | None = 0, *, overwrite: bool = False) -> dict[str, np.ndarray]:
    """Give the layers' parameters initial values (in graph order, one seeded generator); returns them.

    W ~ N(0, 2/(n_in + n_out)) (Glorot), biases 0, gains 1. A parameter that already has a value
    keeps it unless `overwrite`.
    """
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for p in g.parameters:
        if p.value is not None and not overwrite:
            continue
        if not p.is_matrix or not all(isinstance(s, (int, sp.Integer)) for s in p.shape):
            raise GraphError(f"parameter {p.name!r}: needs concrete whole-number shape to get a value, has {p.shape}")
        rows, cols = (int(s) for s in p.shape)
        how = p.meta.get("init", "glorot")
        if how == "zeros":
            v = np.zeros((rows, cols))
        elif how == "ones":
            v = np.ones((rows, cols))
        else:
            v = rng.standard_normal((rows, cols)) * np.sqrt(2.0 / (rows + cols))
        p.value = v
        out[p.name] = v
    return out


# ------------------------------------------------------------------ the builder
Layer = Callable[["_Builder", str], str]


@dataclass
class Model:
    """A stack of layers as one graph: `input` x, `output` (the node before the cost), `cost` C.

    `prediction` is the node read to classify (softmax of the output for the cross-entropy),
    `target` y; `constants` are inputs with fixed values (a mask M, a pooling matrix P).
    """

    graph: Graph
    input: str
    output: str
    cost: str
    target: str
    prediction: str
    constants: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def parameters(self) -> list[str]:
        return [p.name for p in self.graph.parameters]

    def backprop(self, wrt: Sequence[str] | str | None = None) -> dict[str, str]:
        """`symgrad.backprop` from the cost: `{node: its derivative node}` (default: every parameter;
        any node, e.g. the input x for ∂C/∂x)."""
        return backprop(self.graph, self.cost, wrt)

    def params(self) -> dict[str, np.ndarray]:
        """The parameters' current values."""
        missing = [p for p in self.parameters if self.graph.node(p).value is None]
        if missing:
            raise GraphError(f"parameter {missing[0]!r} has no value: call model.init(seed) or set_params")
        return {p: np.asarray(self.graph.node(p).value, dtype=float) for p in self.parameters}

    def set_params(self, params: Mapping[str, Any]) -> None:
        """Give parameters values `{name: array}` (each of its node's shape)."""
        for name, v in params.items():
            node = self.graph.node(name)
            if node.role != "parameter":
                raise GraphError(f"node {name!r} is not a parameter")
            arr = np.asarray(v, dtype=float)
            if arr.shape != tuple(int(s) for s in node.shape):
                raise GraphError(f"parameter {name!r} has shape {arr.shape}, the model needs {node.shape}")
            node.value = arr

    def init(self, seed: int | None = 0) -> Model:
        """Draw every parameter afresh (`init_values`); returns the model."""
        init_values(self.graph, seed, overwrite=True)
        return self


class _Builder:
    """What a layer sees while `sequential` builds: the graph and the next layer number."""

    def __init__(self, graph: Graph, start: int) -> None:
        self.graph = graph
        self.k = start
        self.constants: dict[str, np.ndarray] = {}

    def next(self) -> int:
        k = self.k
        self.k += 1
        return k


def _layer(fn: Callable[..., str], *args: Any, **kw: Any) -> Layer:
    def build(b: _Builder, x: str) -> str:
        return fn(b.graph, x, *args, k=b.next(), **kw)

    build.__name__ = fn.__name__
    return build


class layer:
    """Layer specifications for `sequential` (each builds the function of the same name)."""

    @staticmethod
    def dense(n_out: int, *, bias: bool = True) -> Layer:
        return _layer(dense, n_out, bias=bias)

    @staticmethod
    def activation(fn: str) -> Layer:
        return _layer(activation, fn)

    @staticmethod
    def softmax() -> Layer:
        return _layer(softmax)

    @staticmethod
    def layer_norm(*, bias: bool = True) -> Layer:
        return _layer(layer_norm, bias=bias)

    @staticmethod
    def rms_norm(*, bias: bool = False) -> Layer:
        return _layer(rms_norm, bias=bias)

    @staticmethod
    def swiglu(hidden: int, n_out: int | None = None) -> Layer:
        return _layer(swiglu, hidden, n_out)

    @staticmethod
    def dropout(p: float = 0.5) -> Layer:
        return _layer(dropout, p)

    @staticmethod
    def attention(d_k: int, d_v: int | None = None, *, sequences: int | None = None,
                  causal: bool = False) -> Layer:
        """One head; with `sequences=B` the columns are B sequences side by side, kept apart by a block mask."""

        def build(b: _Builder, x: str) -> str:
            k = b.next()
            mask = None
            if sequences is not None or causal:
                T = _shape(b.graph, x)[1]
                B = 1 if sequences is None else _whole("sequences", sequences)
                if not isinstance(T, (int, sp.Integer)) or int(T) % B:
                    raise GraphError(f"attention {k}: {T} columns do not split into {B} sequences")
                mask = f"mask{k}"
                b.graph.input(mask, (T, T), tex=f"M^{{{k}}}", kind="mask", meta={"layer": k})
                b.constants[mask] = block_mask(B, int(T) // B, causal=causal)
            return attention(b.graph, x, d_k, d_v, k=k, mask=mask)

        return build

    @staticmethod
    def residual(*inner: Layer) -> Layer:
        """h = x + F(x), F the stack `inner`."""

        def build(b: _Builder, x: str) -> str:
            fx = x
            for f in inner:
                fx = f(b, fx)
            return residual(b.graph, x, fx, k=b.next())

        return build

    @staticmethod
    def mean_pool(sequences: int) -> Layer:
        """h = x P: each of `sequences` sequences (side by side as columns) to its mean column."""

        def build(b: _Builder, x: str) -> str:
            k = b.next()
            d, n = _shape(b.graph, x)
            B = _whole("sequences", sequences)
            if not isinstance(n, (int, sp.Integer)) or int(n) % B:
                raise GraphError(f"mean_pool {k}: {n} columns do not split into {B} sequences")
            P = b.graph.input(f"P{k}", (n, B), tex=f"P^{{{k}}}", kind="pool", meta={"layer": k})
            b.constants[f"P{k}"] = mean_pool_matrix(B, int(n) // B)
            return _node(b.graph, f"h{k}", b.graph[x] * P, f"h^{{{k}}}", k)

        return build


COSTS = ("softmax_cross_entropy", "quadratic")


def sequential(
    inputs: int,
    *layers: Layer,
    cost: str = "softmax_cross_entropy",
    batch: int | sp.Symbol | None = None,
    name: str = "sequential",
    seed: int | None = 0,
) -> Model:
    r"""A stack of layers on an input x (`inputs` × m) with a cost, as one graph.

    `batch` is the number of columns m (default: the symbol m). Each layer is one of
    `layer`'s specifications, numbered k = 2, 3, … in order (layer 1 is the input, as in
    Nielsen); `cost` is `"softmax_cross_entropy"` (C = −tr(yᵀ ln softmax(z)), prediction
    softmax(z)) or `"quadratic"` (C = ½ tr((a − y)ᵀ(a − y)), prediction a). `seed` draws
    initial values (`init_values`; `None`: no values). For example a 4-8-3 MLP:

    ```python
    net = sequential(4, layer.dense(8), layer.activation("tanh"), layer.dense(3), seed=0)
    ```
    """
    inputs = _whole("inputs", inputs)
    if cost not in COSTS:
        raise UsageError(f"unknown cost {cost!r}; choose one of {', '.join(COSTS)}", arg="cost")
    m = sp.Symbol("m", integer=True, positive=True) if batch is None else batch
    if not isinstance(m, sp.Symbol):
        m = _whole("batch", m)
    g = Graph(name)
    g.input("x", (inputs, m), tex="x", kind="x")
    b = _Builder(g, 2)
    out = "x"
    for f in layers:
        if not callable(f):
            raise UsageError(f"sequential: {f!r} is not a layer (use symgrad.layers.layer.dense(...), ...)")
        out = f(b, out)
    if cost == "softmax_cross_entropy":
        C = softmax_cross_entropy(g, out)
        pred = _node(g, "p", F.softmax(g[out]), "p", "out")
    else:
        C = quadratic(g, out)
        pred = out
    for mask, value in b.constants.items():
        g.node(mask).value = value
    # what training reads off any graph (symgrad.numeric.train): the data leaves, the cost, the prediction
    g.meta.update(input="x", target="y", cost=C, prediction=pred)
    model = Model(g, "x", out, C, "y", pred, dict(b.constants))
    if seed is not None:
        init_values(g, seed)
    return model
