r"""Typed matrix expressions as text: `parse("C = sum((W @ x + b - y)**2)/2", shapes=...)` → a Graph.

The text is read by a tokenizer and a precedence-climbing (Pratt) parser written here; it is
never handed to `eval`, `sympify` or `parse_expr` (all of which run Python). Only the
grammar below is accepted; anything else is a `ParseError` naming the line and column
and what was expected there.

Grammar (`;` or a new line ends a statement; `#` starts a comment):

```text
program   := statement ((";" | NEWLINE) statement)*
statement := NAME "=" expr | expr            (a bare expression only last: it is C)
expr      := expr ("+" | "-") expr           (left, lowest)
           | expr ("*" | "/" | "@") expr     (left)
           | ("-" | "+") expr                (prefix: -x**2 is -(x**2))
           | expr "**" expr                  (right: 2**3**2 is 2**9)
           | expr ".T" | expr "'"            (transpose)
           | NAME "(" args ")" | NAME | NUMBER | "(" expr ")"
args      := expr ("," expr)* ("," "axis" "=" NUMBER)?
```

Types: every value is a scalar or an r×c matrix (a column vector is n×1). `@` is the matrix
product; `+ − * /` and `**` act entry by entry (`*` on two matrices is the Hadamard
product ⊙, `M**2` is `M^{∘2}`), and a column b (n×1), a row (1×m) or a scalar is
broadcast to n×m as b 1ᵀ, 1 r, s 1 1ᵀ. Functions: `exp log sqrt abs sin cos sigmoid tanh
relu softplus` entry by entry; `sum(M)` = 1ᵀ M 1, `sum(M, axis=0)` = 1ᵀ M (a row),
`sum(M, axis=1)` = M 1 (a column), `mean` the same divided by the count; `softmax` and
`log_softmax` per column; `norm(M)` = `(1ᵀ M^{∘2} 1)^{∘½}` (Frobenius; `norm(M)**2` is
the sum of squares itself); `trace`. A sum or a norm is a 1×1 matrix (as xᵀ A x is).

Each `name = expr` is one node of the graph; the names in `shapes` are its leaves. The
cost is the node `C` if one is assigned, else the last statement; it must be a scalar or
1×1 (backprop needs that).
"""

from __future__ import annotations

import fractions
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.hadamard import HadamardPower
from sympy.matrices.expressions.matexpr import MatrixExpr

from ..errors import ParseError, UsageError
from .functions import log_softmax, relu, sigmoid, softmax, softplus
from .graph import Graph
from .rules import hadamard

#: Longest text accepted (characters), deepest nesting (brackets and operators), most statements.
MAX_LENGTH = 4000
MAX_DEPTH = 40
MAX_STATEMENTS = 100
#: Longest number literal, largest matrix dimension, largest |exponent| of a constant power.
MAX_NUMBER_CHARS = 30
MAX_DIMENSION = 10_000
MAX_DIGITS = 400

Shape = tuple[int, int] | None


#: Elementwise functions: name -> SymPy head (a scalar function class applied entry by entry).
ELEMENTWISE: dict[str, type] = {
    "exp": sp.exp,
    "log": sp.log,
    "ln": sp.log,
    "sin": sp.sin,
    "cos": sp.cos,
    "abs": sp.Abs,
    "sigmoid": sigmoid,
    "tanh": sp.tanh,
    "relu": relu,
    "softplus": softplus,
}
#: Every function name the language knows (none can be a variable's name).
FUNCTIONS = (*ELEMENTWISE, "sqrt", "sum", "mean", "softmax", "log_softmax", "norm", "trace")
RESERVED = frozenset(FUNCTIONS) | {"T", "axis"}

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_NUMBER = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_OPERATORS = ("**", "+", "-", "*", "/", "@", "(", ")", ",", "=", ";", "'")


# ------------------------------------------------------------------ tokens
@dataclass(frozen=True)
class Token:
    kind: str  # "name", "number", "op", "T" (the .T suffix), "end" (of a statement), "eof"
    text: str
    line: int
    col: int


def _where(line: int, col: int, multiline: bool) -> str:
    return f"line {line}, column {col}" if multiline else f"column {col}"


def _describe(tok: Token) -> str:
    if tok.kind == "eof":
        return "the end of the text"
    if tok.kind == "end":
        return "the end of the line" if tok.text == "\n" else "';'"
    return repr(tok.text)


def tokenize(text: str) -> list[Token]:
    """The tokens of `text` (positions 1-based); a character outside the language is a `ParseError`."""
    multiline = "\n" in text.strip()
    out: list[Token] = []
    line, start, i, n = 1, 0, 0, len(text)
    while i < n:
        ch = text[i]
        col = i - start + 1
        if ch == "\n":
            out.append(Token("end", "\n", line, col))
            line, start, i = line + 1, i + 1, i + 1
        elif ch in " \t\r":
            i += 1
        elif ch == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif ch.isascii() and (ch.isalpha() or ch == "_"):
            m = _NAME.match(text, i)
            if m is None or text[i] == "_":
                raise ParseError(f"{_where(line, col, multiline)}: a name cannot start with '_' "
                                 "(names are letters, digits and '_', starting with a letter)")
            out.append(Token("name", m.group(), line, col))
            i = m.end()
        elif ch.isdigit() or (ch == "." and i + 1 < n and text[i + 1].isdigit()):
            m = _NUMBER.match(text, i)
            assert m is not None  # a digit or ".digit" always starts a number
            if len(m.group()) > MAX_NUMBER_CHARS:
                raise ParseError(f"{_where(line, col, multiline)}: number longer than {MAX_NUMBER_CHARS} characters")
            out.append(Token("number", m.group(), line, col))
            i = m.end()
        elif ch == ".":
            m = re.compile(r"\w+").match(text, i + 1)
            if m is not None and m.group() == "T":
                out.append(Token("T", ".T", line, col))
                i = m.end()
            else:
                what = f"'.{m.group()[:20]}'" if m else "'.'"
                raise ParseError(f"{_where(line, col, multiline)}: attribute access {what} is not allowed; "
                                 "the only suffix is .T (transpose)")
        else:
            op = next((o for o in _OPERATORS if text.startswith(o, i)), None)
            if op is None:
                shown = repr(ch) if ch.isprintable() else f"U+{ord(ch):04X}"
                raise ParseError(f"{_where(line, col, multiline)}: unexpected character {shown}; "
                                 "expected a name, a number or one of + - * / @ ** ( ) , = ; '")
            kind = "end" if op == ";" else "op"
            out.append(Token(kind, op, line, col))
            i += len(op)
    out.append(Token("eof", "", line, n - start + 1))
    return out


# ------------------------------------------------------------------ values
@dataclass(frozen=True)
class Value:
    """A typed value: its SymPy expression, its shape (`None`: a scalar) and its source text."""

    expr: sp.Basic
    shape: Shape
    text: str
    norm_of: Value | None = None  # norm(M) remembers M, so that norm(M)**2 is the sum of squares

    @property
    def is_matrix(self) -> bool:
        return self.shape is not None

    def describe(self) -> str:
        text = self.text if len(self.text) <= 40 else self.text[:37] + "..."
        kind = "a scalar" if self.shape is None else f"{self.shape[0]}×{self.shape[1]}"
        return f"{text} ({kind})"


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def _shape_of(expr: sp.Basic) -> Shape:
    return tuple(int(d) for d in expr.shape) if isinstance(expr, MatrixExpr) else None


# ------------------------------------------------------------------ parser
_BINARY = {"+": 10, "-": 10, "*": 20, "/": 20, "@": 20, "**": 40}
_PREFIX = 30
_POSTFIX = 50


class _Parser:
    def __init__(self, text: str, leaves: Mapping[str, Value]) -> None:
        self.text = text
        self.multiline = "\n" in text.strip()
        self.tokens = tokenize(text)
        self.pos = 0
        self.depth = 0
        self.names: dict[str, Value] = dict(leaves)
        self.statements: list[tuple[str | None, Value, Token]] = []

    # -- helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def advance(self) -> Token:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def fail(self, tok: Token, message: str) -> ParseError:
        return ParseError(f"{_where(tok.line, tok.col, self.multiline)}: {message}")

    def expect(self, text: str, what: str) -> Token:
        if self.tok.text != text or self.tok.kind not in ("op", "end"):
            raise self.fail(self.tok, f"expected {what}, found {_describe(self.tok)}")
        return self.advance()

    def source(self, first: Token, last: Token) -> str:
        """The text from token `first` to the end of token `last` (on one line: else first's line)."""
        lines = self.text.split("\n")
        if first.line == last.line:
            return lines[first.line - 1][first.col - 1 : last.col - 1 + len(last.text)].strip()
        return lines[first.line - 1][first.col - 1 :].strip()

    # -- statements
    def program(self) -> list[tuple[str | None, Value, Token]]:
        while True:
            while self.tok.kind == "end":
                self.advance()
            if self.tok.kind == "eof":
                break
            if len(self.statements) >= MAX_STATEMENTS:
                raise self.fail(self.tok, f"more than {MAX_STATEMENTS} statements")
            self.statement()
            if self.tok.kind not in ("end", "eof"):
                raise self.fail(self.tok, f"expected an operator, ';' or the end of the line, found {_describe(self.tok)}")
        if not self.statements:
            raise ParseError("the expression is empty: write e.g. C = sum((W @ x - y)**2)/2")
        for name, _, tok in self.statements[:-1]:
            if name is None:
                raise self.fail(tok, "only the last statement may be a bare expression; name this one (t = ...)")
        return self.statements

    def statement(self) -> None:
        first = self.tok
        name = None
        if first.kind == "name" and self.tokens[self.pos + 1].text == "=" and self.tokens[self.pos + 1].kind == "op":
            name = first.text
            if name in RESERVED:
                raise self.fail(first, f"{name!r} is a function or keyword of the language, not a name to assign")
            if name in self.names:
                raise self.fail(first, f"{name!r} is already defined; each name is assigned once")
            self.pos += 2
        value = self.expression(0)
        if name is not None:  # later statements use the node's symbol, so the graph keeps the node
            symbol = sp.Symbol(name, real=True) if value.shape is None else sp.MatrixSymbol(name, *value.shape)
            self.names[name] = Value(symbol, value.shape, name, value.norm_of)
        self.statements.append((name, value, first))

    # -- expressions (precedence climbing)
    def expression(self, min_bp: int) -> Value:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(self.tok, f"the expression nests deeper than {MAX_DEPTH} levels")
        first = self.tok
        if first.kind == "op" and first.text in ("-", "+"):
            self.advance()
            operand = self.expression(_PREFIX)
            left = operand if first.text == "+" else self.build(first, "neg", operand, None, self.tokens[self.pos - 1], first)
        else:
            left = self.primary()
        while True:
            tok = self.tok
            if tok.kind == "T" or (tok.kind == "op" and tok.text == "'"):
                self.advance()
                left = self.build(first, "T", left, None, tok, tok)
                continue
            if tok.kind != "op" or tok.text not in _BINARY:
                break
            bp = _BINARY[tok.text]
            if bp < min_bp or (bp == min_bp and tok.text != "**"):
                break
            self.advance()
            # ** is right-associative and its exponent may carry a sign: 2**-1
            right = self.expression(bp if tok.text == "**" else bp + 1)
            left = self.build(first, tok.text, left, right, self.tokens[self.pos - 1], tok)
        self.depth -= 1
        return left

    def primary(self) -> Value:
        tok = self.tok
        if tok.kind == "number":
            self.advance()
            mantissa, _, exponent = tok.text.lower().partition("e")
            # 1e-99999999 would make Fraction build a 10^99999999 first: the exponent is bounded before
            if exponent and abs(int(exponent)) > MAX_DIGITS:
                raise self.fail(tok, f"number {tok.text} is out of range (exponent beyond ±{MAX_DIGITS})")
            f = fractions.Fraction(tok.text)
            if abs(f.numerator) > 10**MAX_DIGITS:
                raise self.fail(tok, "number too large")
            return Value(sp.Rational(f.numerator, f.denominator), None, tok.text)
        if tok.kind == "name":
            self.advance()
            if self.tok.kind == "op" and self.tok.text == "(":
                return self.call(tok)
            if tok.text in RESERVED:
                raise self.fail(tok, f"{tok.text!r} is a function: call it, {tok.text}(...)")
            if tok.text not in self.names:
                raise self.fail(tok, f"unknown name {tok.text!r}: give its shape (shapes={{{tok.text!r}: (rows, cols)}}, "
                                     f"--shape {tok.text}=ROWSxCOLS) or assign it first")
            return self.names[tok.text]
        if tok.kind == "op" and tok.text == "(":
            self.advance()
            if self.tok.kind == "op" and self.tok.text == ")":
                raise self.fail(self.tok, "expected an expression inside '( )'")
            inner = self.expression(0)
            close = self.expect(")", "')'")
            return Value(inner.expr, inner.shape, self.source(tok, close), inner.norm_of)
        raise self.fail(tok, f"expected a name, a number or '(', found {_describe(tok)}")

    def call(self, fname: Token) -> Value:
        name = fname.text
        if name not in FUNCTIONS:
            known = ", ".join(FUNCTIONS)
            raise self.fail(fname, f"unknown function {name!r}; the functions are {known}")
        self.expect("(", "'('")
        args: list[Value] = []
        axis: int | None = None
        while True:
            if self.tok.kind == "name" and self.tok.text == "axis":
                kw = self.advance()
                self.expect("=", "'=' after axis")
                num = self.tok
                if num.kind != "number" or num.text not in ("0", "1"):
                    raise self.fail(num, f"expected axis=0 (over the rows) or axis=1 (over the columns), found {_describe(num)}")
                self.advance()
                if name not in ("sum", "mean"):
                    raise self.fail(kw, f"{name}() takes no axis (only sum and mean do)")
                axis = int(num.text)
            else:
                if axis is not None:
                    raise self.fail(self.tok, "axis=... comes last")
                args.append(self.expression(0))
            if self.tok.kind == "op" and self.tok.text == ",":
                self.advance()
                continue
            break
        close = self.expect(")", f"')' to close {name}(")
        if len(args) != 1:
            raise self.fail(fname, f"{name}() takes one argument, got {len(args)}")
        return self.apply(fname, name, args[0], axis, self.source(fname, close))

    # -- typing and building
    def apply(self, at: Token, name: str, x: Value, axis: int | None, text: str) -> Value:
        e, shape = x.expr, x.shape
        if name in ELEMENTWISE or name == "sqrt":
            if shape is None:
                out = sp.sqrt(e) if name == "sqrt" else ELEMENTWISE[name](e)
            elif name == "sqrt":
                out = HadamardPower(e, sp.Rational(1, 2))
            else:
                out = ElementwiseApplyFunction(ELEMENTWISE[name], e)
            return self.checked(at, Value(out, shape, text))
        if name in ("sum", "mean"):
            if shape is None:
                return Value(e, None, text)
            r, c = shape
            if axis is None:
                out, count = sp.OneMatrix(1, r) * e * sp.OneMatrix(c, 1), r * c
            elif axis == 0:
                out, count = sp.OneMatrix(1, r) * e, r
            else:
                out, count = e * sp.OneMatrix(c, 1), c
            if name == "mean" and count != 1:
                out = sp.Rational(1, count) * out
            return Value(out, _shape_of(out), text)
        if name in ("softmax", "log_softmax"):
            if shape is None:
                raise self.fail(at, f"{name}() needs a matrix (it acts per column), got {x.describe()}")
            return Value((softmax if name == "softmax" else log_softmax)(e), shape, text)
        if name == "norm":
            if shape is None:
                return Value(sp.Abs(e), None, text)
            r, c = shape
            squares = sp.OneMatrix(1, r) * HadamardPower(e, 2) * sp.OneMatrix(c, 1)
            return Value(HadamardPower(squares, sp.Rational(1, 2)), (1, 1), text, norm_of=x)
        # trace
        if shape is None or shape[0] != shape[1]:
            raise self.fail(at, f"trace() needs a square matrix, got {x.describe()}")
        return Value(sp.Trace(e), None, text)

    def checked(self, at: Token, v: Value) -> Value:
        if v.expr.has(sp.zoo, sp.nan, sp.oo, sp.S.NegativeInfinity):
            raise self.fail(at, f"{v.text} is not finite (a division by zero?)")
        return v

    def broadcast(self, at: Token, op: str, a: Value, b: Value) -> tuple[sp.Basic, sp.Basic, Shape]:
        """Both operands at one shape (b 1ᵀ, 1 r, s 1 1ᵀ), or a ParseError naming both."""
        if a.shape == b.shape:
            return a.expr, b.expr, a.shape
        if a.shape is None or b.shape is None:
            if a.shape is None and b.shape is None:
                return a.expr, b.expr, None
            shape = a.shape or b.shape
            assert shape is not None
            ones = sp.OneMatrix(*shape)
            ea = a.expr * ones if a.shape is None else a.expr
            eb = b.expr * ones if b.shape is None else b.expr
            return ea, eb, shape
        (ra, ca), (rb, cb) = a.shape, b.shape
        rows, cols = max(ra, rb), max(ca, cb)
        if ra not in (1, rows) or rb not in (1, rows) or ca not in (1, cols) or cb not in (1, cols):
            verb = {"+": "add", "-": "subtract", "*": "multiply entry by entry", "/": "divide entry by entry"}[op]
            raise self.fail(at, f"cannot {verb} {a.describe()} and {b.describe()}: the shapes do not fit "
                                "(nor broadcast: a column, a row or a 1×1 stretches along its 1)")

        def stretch(e: sp.Basic, r: int, c: int) -> sp.Basic:
            if r == 1 and rows > 1:
                e = sp.OneMatrix(rows, 1) * e
            if c == 1 and cols > 1:
                e = e * sp.OneMatrix(1, cols)
            return e

        return stretch(a.expr, ra, ca), stretch(b.expr, rb, cb), (rows, cols)

    def build(self, first: Token, op: str, a: Value, b: Value | None, last: Token, at: Token) -> Value:
        """`a op b` typed; `first`..`last` is its source text, `at` the operator (for messages)."""
        text = self.source(first, last)
        if op == "neg":
            assert a is not None
            return Value(-a.expr, a.shape, text)
        if op == "T":
            if a.shape is None:
                return Value(a.expr, None, text)
            return Value(a.expr.T, (a.shape[1], a.shape[0]), text)
        assert b is not None
        if op == "@":
            if a.shape is None or b.shape is None:
                scalar = a if a.shape is None else b
                raise self.fail(at, f"@ is the matrix product and {scalar.describe()} is a scalar; use * for a scalar times a matrix")
            if a.shape[1] != b.shape[0]:
                raise self.fail(at, f"cannot multiply {a.describe()} by {b.describe()}: {_count(a.shape[1], 'column')} but {_count(b.shape[0], 'row')}")
            return Value(a.expr * b.expr, (a.shape[0], b.shape[1]), text)
        if op == "**":
            return self.power(at, a, b, text)
        if op == "/" and b.expr == 0:
            raise self.fail(at, f"division by zero: {text}")
        if op in ("*", "/") and (a.shape is None or b.shape is None) and not (op == "/" and b.is_matrix):
            out = a.expr * b.expr if op == "*" else a.expr * (1 / b.expr if b.expr.is_Number else b.expr**-1)
            return self.checked(at, Value(out, a.shape or b.shape, text))
        ea, eb, shape = self.broadcast(at, op, a, b)
        if op == "+":
            out = ea + eb
        elif op == "-":
            out = ea - eb
        elif op == "*":
            out = hadamard(ea, eb) if shape is not None else ea * eb
        else:  # "/" by a matrix: entry by entry, a ⊙ b^{∘−1}
            out = HadamardPower(eb, -1) if isinstance(ea, sp.OneMatrix) else hadamard(ea, HadamardPower(eb, -1))
        return self.checked(at, Value(out, shape, text))

    def power(self, at: Token, a: Value, b: Value, text: str) -> Value:
        if b.is_matrix:
            raise self.fail(at, f"the exponent must be a scalar, got {b.describe()}")
        p = b.expr
        if a.expr.is_Number and p.is_Number:
            size = abs(float(p)) * math.log10(max(abs(float(a.expr)), 2.0))
            if size > MAX_DIGITS:
                raise self.fail(at, f"{text} is too large a number (over {MAX_DIGITS} digits)")
        if a.shape is None:
            return self.checked(at, Value(a.expr**p, None, text))
        if not p.is_Number:
            raise self.fail(at, f"a matrix power M**p (entry by entry) needs a constant p, got {b.describe()}")
        if a.norm_of is not None and p == 2:
            m = a.norm_of
            r, c = m.shape  # type: ignore[misc]
            return Value(sp.OneMatrix(1, r) * HadamardPower(m.expr, 2) * sp.OneMatrix(c, 1), (1, 1), text)
        out = a.expr if p == 1 else HadamardPower(a.expr, p)
        return self.checked(at, Value(out, a.shape, text))


# ------------------------------------------------------------------ the graph
_GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu",
    "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega",
    "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega",
}


def name_tex(name: str) -> str:
    r"""LaTeX for a node name: `W` → `W`, `W1` → `W_{1}`, `alpha` → `\alpha`,
    `W_out` → `W_{\mathrm{out}}`, and a multi-letter name upright: `up` → `\mathrm{up}`
    (never the product u·p)."""
    if "_" in name:
        head, _, rest = name.partition("_")
        return f"{name_tex(head)}_{{{name_tex(rest) if rest else ''}}}" if head else rf"\mathrm{{{name}}}".replace("_", r"\_")
    m = re.fullmatch(r"([A-Za-z]+?)(\d+)", name)
    if m:
        return f"{name_tex(m.group(1))}_{{{m.group(2)}}}"
    if len(name) == 1:
        return name
    if name in _GREEK:
        return "\\" + name
    if name == "lam":  # the usual spelling of λ where lambda is a keyword
        return r"\lambda"
    return rf"\mathrm{{{name}}}"


def _leaf_shape(name: str, shape: object) -> Shape:
    if shape is None or shape == ():
        return None
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape, 1)
    if (
        not isinstance(shape, tuple)
        or len(shape) != 2
        or not all(isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= MAX_DIMENSION for d in shape)
    ):
        raise UsageError(f"shapes[{name!r}] must be (rows, cols) of whole numbers 1..{MAX_DIMENSION}, "
                         f"n (a column n×1) or () (a scalar), got {shape!r}", arg="shapes")
    return shape  # type: ignore[return-value]


def parse(
    text: str,
    shapes: Mapping[str, object] | None = None,
    *,
    parameters: Iterable[str] | None = None,
    name: str = "expression",
) -> Graph:
    r"""A `Graph` from typed matrix expressions (the grammar is in this module's docstring).

    `shapes` gives every leaf: `{"W": (3, 4), "x": (4, 1), "lam": ()}` (a whole number n
    is a column n×1, `()` a scalar; a name the text does not use adds no node). The leaves named in `parameters` (default: all) are
    parameters, the others inputs. Each `name = expr` becomes node `name` (LaTeX from
    `name_tex`); the cost is `C` if assigned, else the last statement (named `C`
    when it is a bare expression, or when the statements leave `C` unused).

    Example: `parse("C = x.T @ A @ x", {"x": (3, 1), "A": (3, 3)})` is the graph of
    C = xᵀ A x, whose backprop gives ∇ₓC = A x + Aᵀ x.

    Raises:
        ParseError: the text is not in the language or not well typed (one line naming the
            line/column and what was expected, or the names and shapes that do not fit).
        UsageError: a shape is malformed.
    """
    if not isinstance(text, str):
        raise ParseError(f"the expression must be text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ParseError(f"the expression is {len(text)} characters long; at most {MAX_LENGTH} are read")
    shapes = dict(shapes or {})
    leaves: dict[str, Value] = {}
    for leaf, shape in shapes.items():
        if not isinstance(leaf, str) or not _NAME.fullmatch(leaf) or leaf in RESERVED:
            raise UsageError(f"shapes: {leaf!r} is not a name the language can use "
                             "(letters, digits and '_', starting with a letter, not a function's name)", arg="shapes")
        s = _leaf_shape(leaf, shape)
        symbol = sp.Symbol(leaf, real=True) if s is None else sp.MatrixSymbol(leaf, *s)
        leaves[leaf] = Value(symbol, s, leaf)
    params = set(shapes) if parameters is None else set(parameters)
    unknown = sorted(params - set(shapes))
    if unknown:
        raise UsageError(f"parameters: {unknown[0]!r} has no shape (give it in shapes)", arg="parameters")
    parser = _Parser(text, leaves)
    statements = parser.program()
    used = {t.text for t in parser.tokens if t.kind == "name"}

    g = Graph(name)
    g.meta.update(level="expression", source=text)
    for leaf, v in leaves.items():
        if leaf not in used:  # a shape given for a name the text does not use adds no node
            continue
        add = g.parameter if leaf in params else g.input
        add(leaf, v.shape, tex=name_tex(leaf))
    names = [n for n, _, _ in statements if n is not None]
    cost = "C" if "C" in names else (statements[-1][0] or "C")
    if cost == "C" and statements[-1][0] is None and "C" in shapes:
        raise ParseError("the last statement is the cost C, but C is a leaf; assign the cost (J = ...)")
    for stmt_name, value, tok in statements:
        node = stmt_name or "C"
        expr = value.expr
        if not isinstance(expr, sp.Basic) or not (_shape_of(expr) == value.shape):
            raise parser.fail(tok, f"internal shape mismatch in {value.describe()}")  # pragma: no cover
        if node == cost:
            if value.shape not in (None, (1, 1)):
                raise parser.fail(tok, f"the cost {node} = {value.describe()} must be a scalar or 1×1 "
                                       "(sum it: sum(...), or write a norm)")
            g.add(node, expr, role="cost", tex=name_tex(node))
        else:
            if not _depends_on_leaf(expr):
                raise parser.fail(tok, f"{node} = {value.text} uses no name; a node must depend on a leaf")
            g.add(node, expr, tex=name_tex(node))
    if not _depends_on_leaf(g.node(cost).expr):
        raise ParseError(f"the cost {cost} uses no name; nothing to differentiate")
    g.meta["cost"] = cost
    return g


def _depends_on_leaf(expr: sp.Basic) -> bool:
    return bool(expr.atoms(sp.Symbol, sp.MatrixSymbol) - expr.atoms(sp.Dummy))


def shape_arg(text: str) -> tuple[str, Shape]:
    """A `--shape` value: `"W=3x4"` → `("W", (3, 4))`; `"x=4"` is a column 4×1, `"lam=scalar"` a scalar."""
    name, sep, dims = text.partition("=")
    name = name.strip()
    if not sep or not _NAME.fullmatch(name):
        raise UsageError(f"--shape takes NAME=ROWSxCOLS (e.g. W=3x4, x=4x1, lam=scalar), got {text!r}", arg="shape")
    dims = dims.strip().lower().replace("×", "x")
    if dims in ("scalar", "()"):
        return name, None
    parts = dims.split("x")
    if not 1 <= len(parts) <= 2 or not all(p.isdigit() and len(p) <= 6 for p in parts):
        raise UsageError(f"--shape {name}= needs ROWSxCOLS of whole numbers (e.g. 3x4), N (a column) "
                         f"or scalar, got {dims!r}", arg="shape")
    shape = (int(parts[0]), int(parts[1]) if len(parts) == 2 else 1)
    return name, _leaf_shape(name, shape)


__all__ = ["FUNCTIONS", "MAX_DEPTH", "MAX_LENGTH", "ParseError", "Token", "Value", "name_tex", "parse",
           "shape_arg", "tokenize"]
