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
import textwrap
from types import ModuleType
from typing import Any

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
                key.append((id(namespace), name, _fingerprint(value)))
                if isinstance(value, JITFunction):
                    pending.append(value)
        for module_name, attribute in attributes:
            module = namespace.get(module_name)
            if isinstance(module, ModuleType) and not _is_triton(module):
                value = getattr(module, attribute, None)
                key.append((id(module), attribute, _fingerprint(value)))
                if isinstance(value, JITFunction):
                    pending.append(value)
    return tuple(key)
