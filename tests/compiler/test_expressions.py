"""Size expressions become FX arithmetic that computes what sympy says, for every input size."""

from __future__ import annotations

import operator

import pytest
import sympy
import torch.fx
from torch.utils._sympy.functions import CeilDiv, FloorDiv, Mod, ModularIndexing, PythonMod

from tritonhost.codegen.expressions import ExpressionBuilder
from tritonhost.errors import UnsupportedFeatureError

s0, s1 = sympy.symbols("s0 s1", integer=True, positive=True)


def _compiled(expr):
    """A GraphModule computing ``expr`` from inputs (s0, s1), and the FX calls it makes."""
    graph = torch.fx.Graph()
    a, b = graph.placeholder("a"), graph.placeholder("b")
    build = ExpressionBuilder(graph, {s0: lambda: a, s1: lambda: b})
    graph.output(build(expr))
    module = torch.fx.GraphModule(torch.nn.Module(), graph)
    return module, [node.target for node in graph.nodes if node.op == "call_function"]


@pytest.mark.parametrize(
    ("expr", "python"),
    [
        (CeilDiv(s0, 16), lambda a, b: -(-a // 16)),
        (FloorDiv(s0 + 15, s1), lambda a, b: (a + 15) // b),
        (Mod(s0, s1), lambda a, b: a % b),
        (PythonMod(s0 * 3, 7), lambda a, b: (a * 3) % 7),
        (ModularIndexing(s0, 4, s1), lambda a, b: (a // 4) % b),
        (sympy.Max(s0, s1, 9), lambda a, b: max(a, b, 9)),
        (sympy.Min(s0 - 1, 2 * s1), lambda a, b: min(a - 1, 2 * b)),
        (s0**2 * s1 - 3 * s0 + 5, lambda a, b: a**2 * b - 3 * a + 5),
        (-(s0 * s1), lambda a, b: -(a * b)),
    ],
    ids=["CeilDiv", "FloorDiv", "Mod", "PythonMod", "ModularIndexing", "Max", "Min", "Pow", "negation"],
)
def test_expressions_compute_what_sympy_says(expr, python):
    module, _ = _compiled(expr)
    for a, b in [(1, 1), (17, 3), (64, 5), (1000, 7), (33, 64)]:
        value = expr.subs({s0: a, s1: b})
        assert module(a, b) == python(a, b) == int(value), (expr, a, b)


def test_ceildiv_is_computed_in_integers():
    # PyTorch 2.13 writes CeilDiv(a, b) as FloorDiv(a + b - 1, b); a CeilDiv node left unevaluated
    # (as other releases keep it) is -(-a // b). Neither divides in floats.
    unevaluated = sympy.Function("CeilDiv")(s0, s1)
    module, calls = _compiled(unevaluated)
    assert calls == [operator.neg, operator.floordiv, operator.neg]
    assert [module(a, b) for a, b in [(17, 4), (16, 4), (1, 64)]] == [5, 4, 1]
    _, calls = _compiled(CeilDiv(s0, s1))
    assert operator.truediv not in calls


def test_a_repeated_subexpression_is_computed_once():
    _, calls = _compiled(sympy.Max(FloorDiv(s0, 4), 1) + FloorDiv(s0, 4))
    assert calls.count(operator.floordiv) == 1


@pytest.mark.parametrize("expr", [sympy.Symbol("u0", integer=True) + 1, s0 / 3, sympy.sqrt(s0)],
                         ids=["unknown symbol", "rational", "sqrt"])
def test_what_cannot_be_computed_is_refused(expr):
    with pytest.raises(UnsupportedFeatureError):
        _compiled(expr)
