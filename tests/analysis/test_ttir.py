"""The TTIR reader and the dataflow on hand-written TTIR: the constructs Triton prints."""

from __future__ import annotations

import pytest

from tritonhost.analysis.dataflow import analyze_module
from tritonhost.analysis.ttir import TTIRParseError, parse

RECURSIVE = """
module {
  tt.func public @k(%a: !tt.ptr<f32> loc("a"(#loc)), %b: !tt.ptr<f32> loc("b"(#loc)), %n: i32) {
    tt.call @f(%a, %b, %n) : (!tt.ptr<f32>, !tt.ptr<f32>, i32) -> () loc(#loc1)
    tt.return
  }
  tt.func private @f(%p: !tt.ptr<f32>, %q: !tt.ptr<f32>, %n: i32) attributes {noinline = true} {
    %c0 = arith.constant 0 : i32
    %0 = arith.cmpi sgt, %n, %c0 : i32
    scf.if %0 {
      %v = tt.load %q : !tt.ptr<f32>
      tt.store %p, %v : !tt.ptr<f32>
      tt.call @f(%q, %p, %n) : (!tt.ptr<f32>, !tt.ptr<f32>, i32) -> ()
    }
    tt.return
  }
}
"""

STRINGS_AND_GENERIC = """
module {
  tt.func public @k(%x: !tt.ptr<f32>, %out: !tt.ptr<f32>) {
    %v = tt.load %x : !tt.ptr<f32>
    %r = tt.elementwise_inline_asm "{ .reg .pred %p; mov.b32 $0, $1; }" {constraints = "=r,r", packed_element = 1 : i32, pure = true} %v : f32 -> f32
    %s:2 = "tt.split_like"(%v, %v) : (f32, f32) -> (f32, f32)
    tt.store %out, %s#1 : !tt.ptr<f32>
    tt.return
  }
}
"""


def _effects(text: str):
    module = parse(text)
    kernel = module.kernel
    names = {value: name for value, name in zip(kernel.params, kernel.param_names) if name in ("a", "b", "x", "out")}
    return analyze_module(module, names, kernel.param_names)


def test_recursive_calls_terminate_and_are_followed():
    effects = _effects(RECURSIVE)
    assert effects.written == ("a", "b") and effects.read == ("a", "b") and not effects.unknown


def test_braces_and_percent_signs_inside_strings_are_not_structure():
    effects = _effects(STRINGS_AND_GENERIC)
    assert effects.written == ("out",) and effects.read == ("x",)


def test_unknown_operation_on_a_pointer_is_reported():
    text = STRINGS_AND_GENERIC.replace('"tt.split_like"(%v, %v)', '"tt.split_like"(%x, %v)')
    effects = _effects(text)
    assert any("unknown operation tt.split_like" in reason for reason in effects.unknown)


def test_undefined_value_is_a_parse_error():
    with pytest.raises(TTIRParseError, match="%nope is used but never defined"):
        parse("module {\n  tt.func public @k(%a: i32) {\n    tt.store %nope, %a : i32\n  }\n}\n")
