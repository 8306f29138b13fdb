"""A reader for TTIR text: functions, operations, values and regions.

TTIR is printed one operation per line; a line that ends in ``{`` opens a region
of the operation on it, and a line that starts with ``}`` closes one (and may
open the next: ``} else {``, ``} do {``, ``}, {``). SSA names are scoped by
region (sibling regions reuse ``%1``), so names resolve innermost-first and
each definition gets a module-wide integer id.

Only what the read/write analysis needs is kept: each operation's name, result
and operand ids, its regions, the block arguments that region headers define
(``scf.for %i = ...``, ``iter_args(%acc = %init)``, ``scf.while (%a = %x)``),
the callee of ``tt.call``, and the text of its attributes with string contents
blanked.
"""

from __future__ import annotations

import re

import attrs

from tritonhost.errors import TritonhostError


class TTIRParseError(TritonhostError, ValueError):
    """TTIR text that this reader does not understand."""


@attrs.define(eq=False)
class Region:
    """A region of an operation: its entry block's arguments and its operations in order."""

    args: list[int] = attrs.Factory(list)
    ops: list[Op] = attrs.Factory(list)


@attrs.define(eq=False)
class Op:
    """One TTIR operation."""

    name: str
    results: list[int]
    operands: list[int]
    line: int
    text: str
    callee: str | None = None
    #: ``(block argument, initial value)`` pairs defined in the header of a loop.
    header_args: list[tuple[int, int]] = attrs.Factory(list)
    regions: list[Region] = attrs.Factory(list)


@attrs.define(eq=False)
class Function:
    """A ``tt.func``: its parameters (ids and printed names) and body."""

    name: str
    params: list[int]
    param_names: list[str]
    body: Region
    line: int
    #: Each parameter's name location (``loc("x_ptr"(...))``), which Triton sets to the
    #: Python parameter it comes from, also for the parts an argument expands into.
    param_locations: list[str | None] = attrs.Factory(list)
    #: Each parameter's type as printed (``!tt.ptr<f32>``, ``i32``, ``!tt.tensordesc<...>``).
    param_types: list[str] = attrs.Factory(list)


@attrs.define(eq=False)
class Module:
    """Every function of a TTIR module, by symbol name, in printed order."""

    functions: dict[str, Function]
    value_count: int

    @property
    def kernel(self) -> Function:
        """The public function: the kernel itself."""
        return next(iter(self.functions.values()))


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_VALUE = re.compile(r"%[\w$.\-]+(?:#\d+)?")
_RESULTS = re.compile(r"^((?:%[\w$.\-]+(?::\d+)?\s*,\s*)*%[\w$.\-]+(?::\d+)?)\s*=\s*")
_HEADER_DEF = re.compile(r"(%[\w$.\-]+)\s*=\s*(%[\w$.\-]+(?:#\d+)?)")
_SYMBOL = re.compile(r'@("(?:[^"\\]|\\.)*"|[\w$.\-]+)')
_BLOCK = re.compile(r"^\^[\w$.\-]+\s*(?:\((.*)\))?\s*:")
_PARAM = re.compile(r"(%[\w$.\-]+)\s*:")


def _blank_strings(line: str) -> tuple[str, list[str]]:
    """Replace each string literal by ``""`` (its contents kept apart), so braces in asm never count."""
    strings: list[str] = []

    def keep(match: re.Match[str]) -> str:
        strings.append(match.group(0))
        return '""'

    return _STRING.sub(keep, line), strings


# A location: loc(#loc3), loc(""(#loc)), loc(callsite(#loc1 at #loc2)), loc(fused[#a, #b]):
# parentheses nest at most three deep once strings are blanked.
_LOCATION = re.compile(r"\bloc\((?:[^()]|\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\))*\)")


def _strip_locations(line: str) -> str:
    """Remove every ``loc(...)`` and a trailing ``// comment`` (strings are already blanked)."""
    comment = line.find("//")
    if comment >= 0:
        line = line[:comment]
    return _LOCATION.sub("", line).strip() if "loc(" in line else line.strip()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.next_id = 0
        self.functions: dict[str, Function] = {}
        self.scopes: list[dict[str, list[int]]] = []
        # Open regions, innermost last: the region and the operation (or function) it belongs to.
        self.open: list[tuple[Region, Op | Function]] = []
        self.last_closed: Op | Function | None = None

    def new_value(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def define(self, name: str, count: int = 1) -> list[int]:
        ids = [self.new_value() for _ in range(count)]
        self.scopes[-1][name] = ids
        return ids

    def lookup(self, token: str, line: int) -> int:
        name, _, index = token.partition("#")
        for scope in reversed(self.scopes):
            ids = scope.get(name)
            if ids is not None:
                position = int(index) if index else 0
                if position >= len(ids):
                    raise TTIRParseError(f"line {line}: {token} names result {position} of {len(ids)}")
                return ids[position]
        raise TTIRParseError(f"line {line}: {token} is used but never defined")

    def open_region(self, owner: Op | Function, args: list[int] | None = None) -> Region:
        region = Region(args=list(args or []))
        if isinstance(owner, Op):
            owner.regions.append(region)
        self.open.append((region, owner))
        self.scopes.append({})
        return region

    def parse(self) -> Module:
        for number, raw in enumerate(self.text.splitlines(), start=1):
            blanked, strings = _blank_strings(raw)
            line = _strip_locations(blanked)
            if not line or line.startswith("#"):
                continue
            if line.startswith("tt.func"):
                self.parse_function(line, number, strings, raw)
                continue
            self.parse_line(line, number, strings)
        if not self.functions:
            raise TTIRParseError("no tt.func in the TTIR module")
        return Module(functions=self.functions, value_count=self.next_id)

    def parse_line(self, line: str, number: int, strings: list[str]) -> None:
        if line.startswith("module"):
            return
        while line.startswith("}"):
            if not self.open:
                return  # the module's closing brace
            _, owner = self.open.pop()
            self.scopes.pop()
            self.last_closed = owner
            line = line[1:].lstrip(" )")
            for word in (",", "else", "do"):
                if line.startswith(word):
                    line = line[len(word):].strip()
            if line.startswith("{") and line.endswith("{"):
                if not isinstance(owner, Op):
                    raise TTIRParseError(f"line {number}: a second region opened after a function body")
                self.open_region(owner)
                return
            if isinstance(owner, Function):
                self.scopes = []
            return
        if line.startswith("^"):
            self.parse_block(line, number)
            return
        if not self.open:
            raise TTIRParseError(f"line {number}: an operation outside any function: {line!r}")
        self.parse_op(line, number, strings)

    def parse_block(self, line: str, number: int) -> None:
        match = _BLOCK.match(line)
        if match is None:
            raise TTIRParseError(f"line {number}: unreadable block label {line!r}")
        region = self.open[-1][0]
        args = [self.define(name)[0] for name in _PARAM.findall(match.group(1) or "")]
        if not region.args and not region.ops:
            region.args = args

    def parse_function(self, line: str, number: int, strings: list[str], raw: str) -> None:
        symbol = _SYMBOL.search(line)
        if symbol is None:
            raise TTIRParseError(f"line {number}: tt.func without a name")
        name = _symbol_name(symbol.group(1), strings)
        start = line.index("(", symbol.end())
        depth, end = 0, start
        for end in range(start, len(line)):
            depth += {"(": 1, ")": -1}.get(line[end], 0)
            if depth == 0:
                break
        header = line[start + 1 : end]
        self.scopes = [{}]
        param_names = _PARAM.findall(header)
        params = [self.define(param)[0] for param in param_names]
        function = Function(
            name=name,
            params=params,
            param_names=[p[1:] for p in param_names],
            body=Region(args=params),
            line=number,
            param_locations=_param_locations(raw, len(params)),
            param_types=_param_types(raw, len(params)),
        )
        self.functions[name] = function
        if line.endswith("{"):
            self.open.append((function.body, function))
            # The body shares the scope of the parameters.

    def parse_op(self, line: str, number: int, strings: list[str]) -> None:
        result_names: list[tuple[str, int]] = []
        match = _RESULTS.match(line)
        rest = line
        if match is not None:
            for part in match.group(1).split(","):
                name, _, count = part.strip().partition(":")
                result_names.append((name, int(count) if count else 1))
            rest = line[match.end():]
        if rest.startswith('""') and strings:
            # The generic form names the operation in a string: "tt.reduce"(%x) ...
            op_name = strings[0].strip('"')
            rest = rest[2:]
        else:
            name_match = re.match(r"[\w.$\-]+", rest)
            if name_match is None:
                raise TTIRParseError(f"line {number}: no operation name in {line!r}")
            op_name = name_match.group(0)
            rest = rest[name_match.end():]
        opens_region = rest.endswith("{")
        header_defs = _HEADER_DEF.findall(rest) if opens_region else []
        defined = {lhs for lhs, _ in header_defs}
        operands = [
            self.lookup(token, number) for token in _VALUE.findall(rest) if token not in defined
        ]
        callee = None
        if op_name == "tt.call":
            symbol = _SYMBOL.search(rest)
            callee = _symbol_name(symbol.group(1), strings) if symbol else None
        op = Op(name=op_name, results=[], operands=operands, line=number, text=rest, callee=callee)
        for result, count in result_names:
            op.results.extend(self.define(result, count))
        self.open[-1][0].ops.append(op)
        if opens_region:
            self.open_region(op)
            for lhs, rhs in header_defs:
                arg = self.define(lhs)[0]
                op.header_args.append((arg, self.lookup(rhs, number)))
            op.regions[0].args = [arg for arg, _ in op.header_args]


def _symbol_name(text: str, strings: list[str]) -> str:
    # A quoted symbol (@"name with (parens)") was blanked with the other strings; it is
    # the first string of its line.
    if text == '""' and strings:
        return strings[0][1:-1]
    return text.strip('"')


def _param_locations(raw: str, count: int) -> list[str | None]:
    """The name location of each parameter in a raw ``tt.func`` line, or None where it has none."""
    header = raw[raw.index("(") :] if "(" in raw else ""
    starts = [m.start() for m in re.finditer(r"%[\w$.\-]+\s*:", header)][:count]
    locations: list[str | None] = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(header)
        match = re.search(r'loc\("((?:[^"\\]|\\.)*)"', header[start:end])
        locations.append(match.group(1) if match else None)
    locations.extend([None] * (count - len(locations)))
    return locations


def _param_types(raw: str, count: int) -> list[str]:
    """The type of each parameter in a raw ``tt.func`` line, as printed (its location cut off)."""
    header = raw[raw.index("(") :] if "(" in raw else ""
    matches = list(re.finditer(r"%[\w$.\-]+\s*:", header))[:count]
    types = []
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(header)
        text = header[match.end() : end]
        cut = text.find(" loc(")
        if cut >= 0:
            text = text[:cut]
        types.append(text.strip().rstrip(",)").strip())
    types.extend([""] * (count - len(types)))
    return types


def parse(text: str) -> Module:
    """Read a TTIR module printed by Triton (``str(module)``)."""
    return _Parser(text).parse()
