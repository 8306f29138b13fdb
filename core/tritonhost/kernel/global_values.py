"""What a kernel's TTIR depends on beyond its source: the globals it and its helpers read now.

Triton hashes a kernel once (``JITFunction.cache_key``): its source, its helpers'
hashes, and the values of the global constexprs it reads at that moment. After a
global ``tl.constexpr`` or a global ``@triton.jit`` helper is rebound, that hash
is stale; Triton refuses a launch when a recorded global changed, but a rebound
helper it does not notice at all. An analysis cached under the stale hash would
answer for code that no longer runs.

:func:`globals_key` reads, on every analysis, the current value of every global
name the kernel and its helpers (transitively) read, and gives a key that changes
when any of them does: a rebound helper by its identity, a constant by its
value. The names each function reads are found once, from its source.
"""

from __future__ import annotations

import ast
import inspect
import sys
import textwrap
from collections.abc import Callable
from types import ModuleType
from typing import Any

import triton.language as tl
from triton.runtime.jit import JITFunction

from tritonhost.kernel.identity import IdentityCache

#: The global names each function reads, and module attributes read as ``module.name``.
_reads: IdentityCache[tuple[tuple[str, ...], tuple[tuple[str, str], ...]]] = IdentityCache()


def _read_names(fn: Any) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return (), ()
    names: set[str] = set()
    attributes: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            attributes.add((node.value.id, node.attr))
    return tuple(sorted(names)), tuple(sorted(attributes))


def _python_function(kernel: Any) -> Any:
    return getattr(kernel, "fn", kernel)


def _fingerprint(value: Any) -> Any:
    if isinstance(value, JITFunction):
        return ("jit", value.cache_key)  # by content: a freed helper's id may come back for another
    if callable(value) or isinstance(value, ModuleType):
        return ("object", id(value))  # rebinding to another function changes the key
    try:
        hash(value)
    except TypeError:
        return ("repr", repr(value))
    return ("value", type(value).__name__, value)


def _is_triton(module: ModuleType) -> bool:
    return module.__name__ == "triton" or module.__name__.startswith("triton.")


def globals_key(kernel: Any) -> tuple[Any, ...]:
    """A key of the current values of the globals ``kernel`` and its helpers read."""
    return _walk(kernel, id, _fingerprint)


class NotPortable(Exception):
    """A global whose value has no fingerprint that means the same in another process."""


def portable_globals_key(kernel: Any) -> tuple[Any, ...] | None:
    """:func:`globals_key` in terms another process can check, or None where a value has none.

    Namespaces go by module name; values by what they are: a constant by its value, a
    helper by Triton's hash, a module by its name. A global Python function, or an object,
    has no such fingerprint.
    """
    try:
        return _walk(kernel, _namespace_name, portable_value)
    except NotPortable:
        return None


def portable_value(value: Any) -> Any:
    """``value`` (a global's or a constexpr's) as JSON another process reads the same way; raises NotPortable."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return [type(value).__name__, value]
    if isinstance(value, JITFunction):
        return ["jit", value.cache_key]
    if isinstance(value, tl.dtype):
        return ["dtype", str(value)]
    if isinstance(value, tl.constexpr):
        return ["constexpr", portable_value(value.value)]
    if isinstance(value, ModuleType):
        if sys.modules.get(value.__name__) is value:
            return ["module", value.__name__]
    elif isinstance(value, tuple):
        return ["tuple", [portable_value(item) for item in value]]
    raise NotPortable(type(value).__name__)


def _namespace_name(namespace: Any) -> str:
    name = namespace.get("__name__") if isinstance(namespace, dict) else getattr(namespace, "__name__", None)
    if not isinstance(name, str) or sys.modules.get(name) is None:
        raise NotPortable("a namespace that is no importable module")
    return name


def _walk(kernel: Any, namespace_id: Callable[[Any], Any], fingerprint: Callable[[Any], Any]) -> tuple[Any, ...]:
    key: list[Any] = []
    seen: set[int] = set()
    pending = [kernel]
    while pending:
        current = pending.pop()
        fn = _python_function(current)
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        namespace: dict[str, Any] = getattr(fn, "__globals__", {})
        names, attributes = _reads.get_or_make(fn, _read_names)
        for name in names:
            if name in namespace:
                value = namespace[name]
                key.append((namespace_id(namespace), name, fingerprint(value)))
                if isinstance(value, JITFunction):
                    pending.append(value)
        for module_name, attribute in attributes:
            module = namespace.get(module_name)
            if isinstance(module, ModuleType) and not _is_triton(module):
                value = getattr(module, attribute, None)
                key.append((namespace_id(module), attribute, fingerprint(value)))
                if isinstance(value, JITFunction):
                    pending.append(value)
    return tuple(key)
