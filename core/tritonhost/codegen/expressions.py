"""Size expressions as wrapper code: sympy in, FX nodes out, with no ``eval``.

Each distinct expression is computed once per wrapper call. A symbol comes
from the program's inputs: a SymInt input, or a size or stride of an input
tensor (``x.size(0)``).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import sympy
import torch.fx

from tritonhost.errors import UnsupportedFeatureError

Value = torch.fx.Node | int


class ExpressionBuilder:
    """Builds FX nodes that compute sympy expressions from the wrapper's inputs."""

    def __init__(self, graph: torch.fx.Graph, symbols: dict[sympy.Symbol, Callable[[], torch.fx.Node]]) -> None:
        self.graph = graph
        #: How to compute each symbol: called once, on first use.
        self._symbol_sources = symbols
        self._cache: dict[sympy.Expr, Value] = {}

    def __call__(self, expr: Any) -> Any:
        """The wrapper value of ``expr``: an int literal, or a node computing it."""
        if not isinstance(expr, sympy.Basic):
            return expr
        expr = sympy.sympify(expr)
        if expr.is_Integer:
            return int(expr)
        cached = self._cache.get(expr)
        if cached is None:
            cached = self._cache[expr] = self._build(expr)
        return cached

    def _op(self, function: Callable[..., Any], *args: Any) -> torch.fx.Node:
        return self.graph.call_function(function, tuple(args))

    def _build(self, expr: sympy.Expr) -> Value:
        if isinstance(expr, sympy.Symbol):
            source = self._symbol_sources.get(expr)
            if source is None:
                raise UnsupportedFeatureError(
                    f"the size symbol {expr} is neither a SymInt input nor a size or stride of an input tensor, "
                    "so the wrapper cannot compute it"
                )
            return source()
        if isinstance(expr, sympy.Add):
            return self._sum(expr)
        if isinstance(expr, sympy.Mul):
            return self._product(expr)
        name = type(expr).__name__
        args = [self(arg) for arg in expr.args]
        if name in ("FloorDiv", "CleanDiv", "IntTrueDiv") and len(args) == 2:
            return self._op(operator.floordiv, *args)
        if name == "CeilDiv":
            return self._op(operator.neg, self._op(operator.floordiv, self._op(operator.neg, args[0]), args[1]))
        if name in ("Mod", "PythonMod") and len(args) == 2:
            return self._op(operator.mod, *args)
        if name == "ModularIndexing":  # (x // divisor) % modulus
            return self._op(operator.mod, self._op(operator.floordiv, args[0], args[1]), args[2])
        if name in ("Max", "Min"):
            result = args[0]
            for arg in args[1:]:
                result = self._op(max if name == "Max" else min, result, arg)
            return result
        if isinstance(expr, sympy.Pow) and expr.exp.is_Integer and int(expr.exp) > 0:
            return self._op(operator.pow, args[0], int(expr.exp))
        raise UnsupportedFeatureError(f"tritonhost's wrapper cannot compute the size expression {expr} ({name})")

    def _sum(self, expr: sympy.Add) -> Value:
        # Positive terms first, constant last, subtractions for negative terms: `s0 + 15`, `s0 - s1`.
        terms = sorted(expr.args, key=lambda t: (t.is_Number, t.could_extract_minus_sign(), str(t)))
        result: Any = None
        for term in terms:
            negative = term.could_extract_minus_sign()
            value = self(-term if negative else term)
            if result is None:
                result = self._op(operator.neg, value) if negative else value
            else:
                result = self._op(operator.sub if negative else operator.add, result, value)
        return result  # type: ignore[no-any-return]

    def _product(self, expr: sympy.Mul) -> Value:
        coefficient, rest = expr.as_coeff_Mul()
        factors = [self(f) for f in sympy.Mul.make_args(rest)]
        result = factors[0]
        for factor in factors[1:]:
            result = self._op(operator.mul, result, factor)
        if coefficient == -1:
            return self._op(operator.neg, result)
        if coefficient != 1:
            if not coefficient.is_Integer:
                raise UnsupportedFeatureError(f"tritonhost's wrapper computes integer sizes only, got {expr}")
            result = self._op(operator.mul, result, int(coefficient))
        return result
