"""Binding a launch's arguments to a kernel's parameters, with errors that name both sides."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from tritonhost.errors import KernelArgumentError
from tritonhost.kernel.decorators import DecoratedKernel


class Binder:
    """Splits ``(*args, **kwargs)`` of a launch into kernel parameters and launch options."""

    __slots__ = ("arg_names", "decorated", "defaults", "options", "params", "required")

    def __init__(self, decorated: DecoratedKernel, options: frozenset[str]) -> None:
        self.decorated = decorated
        self.arg_names = decorated.arg_names
        self.params = frozenset(decorated.arg_names)
        self.options = options - self.params
        # Defaults of parameters the decorators supply are applied after them, at launch.
        self.defaults = {k: v for k, v in decorated.defaults.items() if k not in decorated.supplied}
        self.required = tuple(
            name for name in decorated.arg_names if name not in decorated.defaults and name not in decorated.supplied
        )

    def bind(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Return ``(params, options)``: the parameters by name, and the launch options."""
        if len(args) > len(self.arg_names):
            raise self._error(f"takes {len(self.arg_names)} arguments but {len(args)} were given", args, kwargs)
        params = dict(zip(self.arg_names, args))
        options: dict[str, Any] = {}
        for name, value in kwargs.items():
            if name in self.params:
                if name in params:
                    raise self._error(f"got two values for {name!r}", args, kwargs)
                params[name] = value
            elif name in self.options:
                options[name] = value
            else:
                raise self._unknown(name, args, kwargs)
        if len(params) != len(self.arg_names):
            for name in self.required:
                if name not in params:
                    missing = [n for n in self.required if n not in params]
                    hint = ""
                    if any(n in self.decorated.constexprs for n in missing):
                        hint = " Pass constexpr parameters by keyword: kernel[grid](..., NAME=value)."
                    raise self._error(f"is missing {', '.join(map(repr, missing))}.{hint}", args, kwargs)
            for name, value in self.defaults.items():
                params.setdefault(name, value)
        return params, options

    def _unknown(self, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> KernelArgumentError:
        close = difflib.get_close_matches(name, [*self.arg_names, *self.options], n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return self._error(
            f"got an unexpected keyword argument {name!r}: it is neither a parameter of the kernel nor a "
            f"launch option.{hint}",
            args,
            kwargs,
        )

    def _error(self, problem: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> KernelArgumentError:
        expected = ", ".join(
            name + (" (constexpr)" if name in self.decorated.constexprs else "")
            + (" (set by the kernel's decorators)" if name in self.decorated.supplied else "")
            + (" (optional)" if name in self.decorated.defaults and name not in self.decorated.supplied else "")
            for name in self.arg_names
        )
        given = [*self.arg_names[: len(args)], *kwargs]
        if len(args) > len(self.arg_names):
            given += [f"<extra positional #{i + 1}>" for i in range(len(self.arg_names), len(args))]
        return KernelArgumentError(
            f"kernel {self.decorated.name}() {problem}\n  expected: {expected}\n  given:    {', '.join(given) or 'nothing'}"
        )
