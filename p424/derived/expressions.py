"""The maths-channel expression language: parsed with ``ast``, checked node by node, evaluated with numpy.

An expression is Python syntax restricted to arithmetic over channels:

- numbers (``60``, ``0.5``, ``1e-3``) and ``None`` (absent: NaN);
- names: catalog channels, the header's ``sim_time`` and ``lap_distance``, and maths channels;
- ``+ - * /``, ``**`` with a number as exponent, unary ``-``, parentheses;
- comparisons (``<  <= > >= == !=``, one at a time), ``and``, ``or``, ``not``, only as conditions
  (of ``where`` and ``if``);
- ``a if condition else b`` and the functions ``where(condition, a, b)``, ``abs(x)``, ``sqrt(x)``,
  ``min(a, b, ...)``, ``max(a, b, ...)``, ``mean(a, b, ...)``, ``hypot(a, b, ...)``,
  ``clip(x, lo, hi)`` and ``convert(x, "unit")`` (``x`` in another unit of the same dimension).

Nothing else parses: attribute access, subscripts, keyword arguments, lambdas, strings outside
``convert``, any other function. The tree is never compiled or evaluated as Python: each checked
node becomes one of the small node classes below, whose ``eval`` calls numpy on a block of frames.

Units are inferred while checking (``p424.derived.dimensions``): ``+``, ``-``, comparisons and
the functions that pick or blend values need the same unit on every side; ``*`` and ``/`` combine
units; ``sqrt`` halves them. A bare number takes the unit of what it is added to or compared
with (``battery_temperature > 60`` means 60 degC), and is a plain factor in ``*`` and ``/``.
Values are NaN where a channel is absent, and any operation with NaN gives NaN (``min`` and
``max`` too), so a maths value is present only where all its inputs are. Conditions follow the same
rule: a comparison with an absent side is unknown, and ``where`` with an unknown condition is absent
(conditions are evaluated as 1.0, 0.0 or NaN).
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from p424.derived.dimensions import NUMBER, Unit, UnitError, parse_unit

F64 = npt.NDArray[np.float64]
Value = Any  # an ndarray over the block's frames, or a Python float for a constant


class ExprError(ValueError):
    """What is wrong with an expression (the caller names the file and the channel)."""


# ------------------------------------------------------------------ nodes (picklable, numpy on eval)
class Node:
    def eval(self, slots: Sequence[F64]) -> Value:
        raise NotImplementedError


@dataclass(frozen=True)
class Const(Node):
    value: float

    def eval(self, slots: Sequence[F64]) -> Value:
        return self.value


@dataclass(frozen=True)
class Slot(Node):
    """An input column or an earlier maths channel: ``slots[index]``."""

    index: int

    def eval(self, slots: Sequence[F64]) -> Value:
        return slots[self.index]


@dataclass(frozen=True)
class Apply(Node):
    """A numpy function of the operands' values (ufuncs and numpy functions pickle by name)."""

    fn: Callable[..., Any]
    args: tuple[Node, ...]

    def eval(self, slots: Sequence[F64]) -> Value:
        args = self.args  # one call per node and block: the common arities without a generator
        if len(args) == 2:
            return self.fn(args[0].eval(slots), args[1].eval(slots))
        if len(args) == 1:
            return self.fn(args[0].eval(slots))
        return self.fn(*[a.eval(slots) for a in args])


@dataclass(frozen=True)
class Fold(Node):
    """A binary numpy function folded over two or more operands (``min``, ``max``, ``and``, a mean's sum)."""

    fn: Callable[..., Any]
    args: tuple[Node, ...]
    divide_by: float = 1.0  # mean: the sum divided by the count

    def eval(self, slots: Sequence[F64]) -> Value:
        acc = self.args[0].eval(slots)
        for a in self.args[1:]:
            acc = self.fn(acc, a.eval(slots))
        return acc / self.divide_by if self.divide_by != 1.0 else acc


@dataclass(frozen=True)
class Power(Node):
    args: tuple[Node]
    exponent: float

    def eval(self, slots: Sequence[F64]) -> Value:
        return np.power(self.args[0].eval(slots), self.exponent)


@dataclass(frozen=True)
class Hypot(Node):
    args: tuple[Node, ...]

    def eval(self, slots: Sequence[F64]) -> Value:
        total = np.square(self.args[0].eval(slots))
        for a in self.args[1:]:
            total = total + np.square(a.eval(slots))
        return np.sqrt(total)


@dataclass(frozen=True)
class Compare(Node):
    """A comparison as 1.0 (true), 0.0 (false) or NaN (a side is absent: unknown)."""

    fn: Callable[..., Any]
    args: tuple[Node, Node]

    def eval(self, slots: Sequence[F64]) -> Value:
        a, b = self.args[0].eval(slots), self.args[1].eval(slots)
        return self.fn(a, b) + 0.0 * (a + b)


@dataclass(frozen=True)
class Where(Node):
    """``a`` where the condition holds, ``b`` where it does not, absent where it is unknown.

    ``certain``: every branch is absent wherever the condition is unknown (each is ``None`` or reads
    every input the condition reads, and absence propagates), so the unknown case needs no work.
    """

    args: tuple[Node, Node, Node]
    certain: bool = False

    def eval(self, slots: Sequence[F64]) -> Value:
        test, yes, no = self.args
        if isinstance(test, Compare):  # the usual case, in fewer operations
            a, b = test.args[0].eval(slots), test.args[1].eval(slots)
            picked = np.where(test.fn(a, b), yes.eval(slots), no.eval(slots))
            return picked if self.certain else picked + 0.0 * (a + b)
        cond = test.eval(slots)
        picked = np.where(cond > 0.5, yes.eval(slots), no.eval(slots))
        return picked if self.certain else picked + 0.0 * cond


def reads(node: Node) -> frozenset[int]:
    """The slots a tree reads."""
    if isinstance(node, Slot):
        return frozenset((node.index,))
    out: frozenset[int] = frozenset()
    for a in getattr(node, "args", ()):
        out |= reads(a)
    return out


def _absent(node: Node) -> bool:
    return isinstance(node, Const) and node.value != node.value  # None: NaN


# ------------------------------------------------------------------ checking
BOOL = "bool"  # the kind of a condition; a quantity's kind is its Unit, a bare number's None
Kind = Unit | None | str

# Name -> (fewest, most) arguments; None: no upper bound.
FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "abs": (1, 1),
    "sqrt": (1, 1),
    "min": (2, None),
    "max": (2, None),
    "mean": (2, None),
    "hypot": (2, None),
    "clip": (3, 3),
    "where": (3, 3),
    "convert": (2, 2),
}
_ARITH = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide}
_COMPARE = {
    ast.Lt: np.less,
    ast.LtE: np.less_equal,
    ast.Gt: np.greater,
    ast.GtE: np.greater_equal,
    ast.Eq: np.equal,
    ast.NotEq: np.not_equal,
}
_SYMBOL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}


@dataclass(frozen=True)
class Checked:
    """An expression that passed every check: its evaluation tree, its unit and the names it reads."""

    node: Node
    unit: Unit | None  # None: a constant expression without a unit of its own
    names: tuple[str, ...]


class Resolver:
    """What a name in an expression means: a slot and a unit, or an ExprError saying why not."""

    def resolve(self, name: str) -> tuple[int, Unit]:
        raise NotImplementedError

    def known(self) -> Sequence[str]:
        raise NotImplementedError

    def unknown(self, name: str) -> ExprError:
        close = difflib.get_close_matches(name, self.known(), n=3, cutoff=0.75)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        return ExprError(f"unknown channel {name!r}: not a catalog channel nor a maths channel{hint}")


def parse(text: str) -> ast.expr:
    """The expression's syntax tree; ExprError for text that is not one expression."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        where = f" at column {err.offset}" if err.offset else ""
        raise ExprError(f"bad syntax{where}: {err.msg}") from None
    return tree.body


def names_in(tree: ast.expr) -> list[str]:
    """Every name an expression reads as a value (function names left out), each once."""
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and id(node) not in called and node.id not in out:
            out.append(node.id)
    return out


def check(text: str, resolver: Resolver) -> Checked:
    """Parse and check an expression; ExprError naming the first problem."""
    tree = parse(text)
    checker = _Checker(text.strip(), resolver)
    node, kind = checker.visit(tree)
    if kind == BOOL:
        raise ExprError("the expression is a condition (true/false), not a value: use where(condition, a, b)")
    unit = kind if isinstance(kind, Unit) else None
    return Checked(node=_fold(node), unit=unit, names=tuple(checker.names))


class _Checker:
    def __init__(self, source: str, resolver: Resolver) -> None:
        self.source = source
        self.resolver = resolver
        self.names: list[str] = []

    def text(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.source, node) or ast.unparse(node)

    def visit(self, node: ast.expr) -> tuple[Node, Kind]:
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, ast.Name):
            slot, unit = self.resolver.resolve(node.id)
            if node.id not in self.names:
                self.names.append(node.id)
            return Slot(slot), unit
        if isinstance(node, ast.UnaryOp):
            return self._unary(node)
        if isinstance(node, ast.BinOp):
            return self._binary(node)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.BoolOp):
            # On 1.0/0.0/NaN: and is the product, or the maximum; either is unknown if a side is.
            fn = np.multiply if isinstance(node.op, ast.And) else np.maximum
            args = [self._condition(v) for v in node.values]
            return Fold(fn, tuple(args)), BOOL
        if isinstance(node, ast.IfExp):
            return self._where(node.test, node.body, node.orelse, node)
        if isinstance(node, ast.Call):
            return self._call(node)
        raise ExprError(f"{self.text(node)!r}: {_describe(node)} is not allowed in a maths expression")

    def _constant(self, node: ast.Constant) -> tuple[Node, Kind]:
        if node.value is None:
            return Const(float("nan")), None
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise ExprError(f"{self.text(node)!r}: only numbers are allowed here (strings only in convert)")
        return Const(float(node.value)), None

    def _quantity(self, node: ast.expr) -> tuple[Node, Unit | None]:
        value, kind = self.visit(node)
        if kind == BOOL:
            raise ExprError(f"{self.text(node)!r} is a condition, not a value")
        return value, kind if isinstance(kind, Unit) else None

    def _condition(self, node: ast.expr) -> Node:
        value, kind = self.visit(node)
        if kind != BOOL:
            raise ExprError(f"{self.text(node)!r} is a value, not a condition (compare it: x > 0)")
        return value

    def _same(self, parts: Sequence[tuple[ast.expr, Unit | None]], what: str) -> Unit | None:
        """The one unit ``parts`` share (bare numbers take it); ExprError naming the two that differ."""
        first: tuple[ast.expr, Unit] | None = None
        for node, unit in parts:
            if unit is None:
                continue
            if first is None:
                first = (node, unit)
            elif not first[1].same(unit):
                a, b = first
                scale = " (the same dimension at another scale: convert(x, \"unit\") one of them)"
                hint = scale if b.same_dimension(unit) else ""
                raise ExprError(
                    f"unit mismatch in {what}: {self.text(a)!r} is {b} but {self.text(node)!r} is {unit}{hint}"
                )
        return first[1] if first is not None else None

    def _unary(self, node: ast.UnaryOp) -> tuple[Node, Kind]:
        if isinstance(node.op, ast.Not):
            return Apply(np.subtract, (Const(1.0), self._condition(node.operand))), BOOL
        value, unit = self._quantity(node.operand)
        if isinstance(node.op, ast.USub):
            return Apply(np.negative, (value,)), unit
        if isinstance(node.op, ast.UAdd):
            return value, unit
        raise ExprError(f"{self.text(node)!r}: the operator {type(node.op).__name__} is not allowed")

    def _binary(self, node: ast.BinOp) -> tuple[Node, Kind]:
        op = type(node.op)
        if op is ast.Pow:
            return self._power(node)
        if op not in _ARITH:
            raise ExprError(f"{self.text(node)!r}: only + - * / and ** are allowed")
        left, lu = self._quantity(node.left)
        right, ru = self._quantity(node.right)
        result: Unit | None
        if op in (ast.Add, ast.Sub):
            result = self._same([(node.left, lu), (node.right, ru)], f"{self.text(node)!r}")
        elif op is ast.Mult:
            result = None if lu is None and ru is None else (lu or NUMBER) * (ru or NUMBER)
        else:
            result = None if lu is None and ru is None else (lu or NUMBER) / (ru or NUMBER)
        return Apply(_ARITH[op], (left, right)), result

    def _power(self, node: ast.BinOp) -> tuple[Node, Kind]:
        base, unit = self._quantity(node.left)
        exponent = _number(node.right)
        if exponent is None:
            raise ExprError(f"{self.text(node)!r}: the exponent must be a number")
        if exponent == 0:
            raise ExprError(f"{self.text(node)!r}: a power of 0 is 1, even where the channel is absent: write 1")
        if unit is None:
            return Power((base,), exponent), None
        if exponent == int(exponent):
            return Power((base,), exponent), unit ** int(exponent)
        if unit.same(NUMBER):
            return Power((base,), exponent), NUMBER
        raise ExprError(f"{self.text(node)!r}: {unit} to a fractional power has no unit (use sqrt)")

    def _compare(self, node: ast.Compare) -> tuple[Node, Kind]:
        if len(node.ops) != 1:
            raise ExprError(f"{self.text(node)!r}: one comparison at a time (join them with and)")
        op = type(node.ops[0])
        left, lu = self._quantity(node.left)
        right, ru = self._quantity(node.comparators[0])
        self._same([(node.left, lu), (node.comparators[0], ru)], f"the comparison {self.text(node)!r}")
        return Compare(_COMPARE[op], (left, right)), BOOL

    def _where(self, test: ast.expr, a: ast.expr, b: ast.expr, whole: ast.expr) -> tuple[Node, Kind]:
        cond = self._condition(test)
        va, ua = self._quantity(a)
        vb, ub = self._quantity(b)
        unit = self._same([(a, ua), (b, ub)], f"the two branches of {self.text(whole)!r}")
        needed = reads(cond)
        certain = all(_absent(v) or needed <= reads(v) for v in (va, vb))
        return Where((cond, va, vb), certain), unit

    def _call(self, node: ast.Call) -> tuple[Node, Kind]:
        known = ", ".join(FUNCTIONS)
        if not isinstance(node.func, ast.Name):
            raise ExprError(f"{self.text(node)!r}: only the maths functions can be called ({known})")
        if node.func.id not in FUNCTIONS:
            raise ExprError(f"{self.text(node)!r}: {node.func.id}() is not a maths function ({known})")
        name = node.func.id
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise ExprError(f"{self.text(node)!r}: {name}() takes plain positional arguments")
        fewest, most = FUNCTIONS[name]
        n = len(node.args)
        if n < fewest or (most is not None and n > most):
            want = str(fewest) if fewest == most else f"at least {fewest}" if most is None else f"{fewest}-{most}"
            raise ExprError(f"{self.text(node)!r}: {name}() takes {want} arguments, not {n}")
        if name == "where":
            return self._where(node.args[0], node.args[1], node.args[2], node)
        if name == "convert":
            return self._convert(node)
        parts = [(a, *self._quantity(a)) for a in node.args]
        values = tuple(v for _, v, _ in parts)
        units = [(a, u) for a, _, u in parts]
        if name == "abs":
            return Apply(np.abs, values), units[0][1]
        if name == "sqrt":
            unit = units[0][1]
            try:
                return Apply(np.sqrt, values), None if unit is None else unit.sqrt()
            except UnitError as err:
                raise ExprError(f"{self.text(node)!r}: {err}") from None
        same = self._same(units, f"{name}() of {self.text(node)!r}")
        if name in ("min", "max"):
            return Fold(np.minimum if name == "min" else np.maximum, values), same
        if name == "mean":
            return Fold(np.add, values, divide_by=float(n)), same
        if name == "hypot":
            return (Apply(np.hypot, values) if n == 2 else Hypot(values)), same
        return Apply(np.clip, values), same  # clip(x, lo, hi)

    def _convert(self, node: ast.Call) -> tuple[Node, Kind]:
        value, unit = self._quantity(node.args[0])
        target_node = node.args[1]
        if not (isinstance(target_node, ast.Constant) and isinstance(target_node.value, str)):
            raise ExprError(f"{self.text(node)!r}: convert(x, \"unit\") takes the unit as a quoted text")
        if unit is None:
            raise ExprError(f"{self.text(node)!r}: {self.text(node.args[0])!r} has no unit to convert from")
        try:
            target = parse_unit(target_node.value)
            factor = unit.factor_to(target)
        except UnitError as err:
            raise ExprError(f"{self.text(node)!r}: {err}") from None
        return Apply(np.multiply, (value, Const(factor))), target


def _number(node: ast.expr) -> float | None:
    """The value of a numeric literal, negated literals included; None for anything else."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _number(node.operand)
        return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return float(node.value)
    return None


def _describe(node: ast.AST) -> str:
    names = {
        ast.Attribute: "attribute access",
        ast.Subscript: "indexing",
        ast.Lambda: "a lambda",
        ast.List: "a list",
        ast.Tuple: "a tuple",
        ast.Dict: "a dict",
        ast.Set: "a set",
        ast.JoinedStr: "an f-string",
        ast.NamedExpr: "assignment",
        ast.Starred: "unpacking",
        ast.ListComp: "a comprehension",
        ast.GeneratorExp: "a generator",
        ast.Await: "await",
        ast.Yield: "yield",
    }
    return names.get(type(node), type(node).__name__)


def _fold(node: Node) -> Node:
    """Constant sub-trees evaluated once, here, instead of on every block."""
    args = getattr(node, "args", None)
    if args is None:
        return node
    children = tuple(_fold(a) for a in args)
    folded: Node = dataclasses.replace(node, args=children)  # type: ignore[type-var]
    if all(isinstance(a, Const) for a in children):
        with np.errstate(all="ignore"):
            return Const(float(folded.eval(())))
    return folded


Program = Callable[[Sequence[F64]], Value]


def program(node: Node) -> Program:
    """A checked tree as nested Python closures over numpy: the values ``node.eval`` gives, with less
    dispatch per block (operands that are slots or constants are read in place, slots through
    ``operator.itemgetter``). Built from the node classes above, never from text; closures do not
    pickle, so callers build them after loading (``MathsSet`` does, lazily)."""
    if isinstance(node, Const):
        value = node.value
        return lambda s: value
    if isinstance(node, Slot):
        return operator.itemgetter(node.index)
    if isinstance(node, Apply):
        return _apply(node.fn, node.args)
    if isinstance(node, Compare):
        fn, (fa, fb) = node.fn, (program(node.args[0]), program(node.args[1]))

        def compare(s: Sequence[F64]) -> Value:
            a, b = fa(s), fb(s)
            return fn(a, b) + 0.0 * (a + b)

        return compare
    if isinstance(node, Where):
        return _where(node)
    if isinstance(node, Fold):
        fn, divide_by = node.fn, node.divide_by
        first, *rest = (program(a) for a in node.args)

        def fold(s: Sequence[F64]) -> Value:
            acc = first(s)
            for f in rest:
                acc = fn(acc, f(s))
            return acc / divide_by if divide_by != 1.0 else acc

        return fold
    if isinstance(node, Power):
        base, exponent = program(node.args[0]), node.exponent
        return lambda s: np.power(base(s), exponent)
    return node.eval  # Hypot of three or more: rare enough to dispatch


def _apply(fn: Callable[..., Any], args: tuple[Node, ...]) -> Program:
    if len(args) == 1:
        f0 = program(args[0])
        return lambda s: fn(f0(s))
    if len(args) == 2:
        a, b = args
        if isinstance(a, Slot) and isinstance(b, Slot):
            i, j = a.index, b.index
            return lambda s: fn(s[i], s[j])
        if isinstance(a, Slot) and isinstance(b, Const):
            i, v = a.index, b.value
            return lambda s: fn(s[i], v)
        if isinstance(a, Const) and isinstance(b, Slot):
            u, j = a.value, b.index
            return lambda s: fn(u, s[j])
        if isinstance(b, Const):
            f0, v = program(a), b.value
            return lambda s: fn(f0(s), v)
        f0, f1 = program(a), program(b)
        return lambda s: fn(f0(s), f1(s))
    fs = [program(a) for a in args]
    return lambda s: fn(*[f(s) for f in fs])


def _where(node: Where) -> Program:
    test, yes, no = node.args
    fy, fn_ = program(yes), program(no)
    certain = node.certain
    if isinstance(test, Compare):
        cmp, fa, fb = test.fn, program(test.args[0]), program(test.args[1])

        def where_compare(s: Sequence[F64]) -> Value:
            a, b = fa(s), fb(s)
            picked = np.where(cmp(a, b), fy(s), fn_(s))
            return picked if certain else picked + 0.0 * (a + b)

        return where_compare
    ft = program(test)

    def where(s: Sequence[F64]) -> Value:
        cond = ft(s)
        picked = np.where(cond > 0.5, fy(s), fn_(s))
        return picked if certain else picked + 0.0 * cond

    return where


class NameTable(Resolver):
    """A resolver over a fixed name -> (slot, unit) table, e.g. for tests and single expressions."""

    def __init__(self, table: Mapping[str, tuple[int, Unit]]) -> None:
        self.table = dict(table)

    def resolve(self, name: str) -> tuple[int, Unit]:
        if name not in self.table:
            raise self.unknown(name)
        return self.table[name]

    def known(self) -> Sequence[str]:
        return list(self.table)
