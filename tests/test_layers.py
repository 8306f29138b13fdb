"""Imports run one way: each layer of tritonhost uses only the layers below it.

Read from the source with ``ast``, so every import counts: at module level,
under ``TYPE_CHECKING`` and inside functions. The checks:

- every module of ``core/tritonhost`` belongs to a layer of :data:`LAYERS`;
- no module imports a module of a higher layer;
- no circle, even within a layer;
- an import inside a function is allowed only where :data:`LOCAL_IMPORTS`
  gives a reason (one that is not "it dodges a circle");
- the backend plugins import from tritonhost only :data:`PLUGIN_SURFACE`.

``python tests/test_layers.py`` prints the layers with their modules, and the
tritonhost imports of each module.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "core" / "tritonhost"
PLUGINS = {
    "cuda": ROOT / "plugins" / "cuda" / "tritonhost_cuda",
    "rocm": ROOT / "plugins" / "rocm" / "tritonhost_rocm",
    "interpreter": ROOT / "plugins" / "interpreter" / "tritonhost_interpreter",
    # The third-party packages the tests install stand for vendors' plugins.
    "example": ROOT / "tests" / "packages" / "tritonhost-example-backend" / "tritonhost_example",
    "broken": ROOT / "tests" / "packages" / "tritonhost-broken-backend" / "tritonhost_broken",
}

#: The layers, bottom first: each a name and the modules (or packages, by prefix) in it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("ground: the contract", ("tritonhost.errors", "tritonhost.markers", "tritonhost.contract", "tritonhost.hookspecs")),
    ("kernels and Triton compat", ("tritonhost.kernel", "tritonhost.compat")),
    ("plugin surface", ("tritonhost.plugin_base", "tritonhost.plugin_api")),
    ("host", ("tritonhost.host",)),
    ("analysis, tuning and targets", ("tritonhost.analysis", "tritonhost.tuning", "tritonhost.targets")),
    ("tracing", ("tritonhost.tracing",)),
    ("launch front door", ("tritonhost.launch",)),
    ("compiler IR", ("tritonhost.ir",)),
    ("code generation", ("tritonhost.codegen",)),
    ("faces", ("tritonhost", "tritonhost.__main__", "tritonhost.cli")),
]

#: The one module of tritonhost a backend plugin may import.
PLUGIN_SURFACE = "tritonhost.plugin_api"

#: Imports inside functions, by (module, imported module), and why each is not at the top.
LOCAL_IMPORTS: dict[tuple[str, str], str] = {
    ("tritonhost.launch.install", "torch._higher_order_ops.triton_kernel_wrap"): (
        "its module brings sympy and PyTorch's symbolic shapes (about 0.7 s of `import tritonhost` on a 2-core "
        "CPU); only install() patches it"
    ),
    ("tritonhost.launch.install", "tritonhost.tracing.dynamo"): (
        "it imports Dynamo (about 0.9 s on a 2-core CPU): install() routes Dynamo's modelled launches only "
        "where Dynamo is imported already or Triton has a GPU driver"
    ),
    ("tritonhost.launch.install", "torch._dynamo.backends.common"): (
        "it imports Dynamo (about 1.4 s on a 2-core CPU), needed only on a torch lacking AOTAutograd's "
        "backward-write fix (2.11, 2.12), whose AotAutograd install() patches"
    ),
    ("tritonhost.tracing.dynamo", "torch._inductor"): (
        "Inductor's config, read only when Dynamo traces a launch for Inductor, which has imported it"
    ),
    ("tritonhost", "tritonhost.codegen.backend"): (
        "the compiler brings sympy and PyTorch's symbolic shapes (about 1 s of `import tritonhost` on a "
        "2-core CPU), which eager launches never use; its names are imported when first asked for"
    ),
    ("tritonhost.launch.wrap", "tritonhost.tracing.dynamo"): (
        "importing Dynamo takes a second or more, and only a launch inside torch.compile needs it"
    ),
    ("tritonhost.codegen.backend", "torch._dynamo.backends.common"): (
        "importing Dynamo takes a second or more, and only torch.compile, which has imported it, calls the backend"
    ),
    ("tritonhost.codegen.cuda_graphs", "torch._inductor.utils"): (
        "it brings Inductor, which only a compile asking for CUDA graphs needs"
    ),
    ("tritonhost.codegen.cuda_graphs", "torch.fx.experimental.symbolic_shapes"): (
        "PyTorch's symbolic shapes load with Dynamo; only a compile asking for CUDA graphs checks them here"
    ),
    ("tritonhost.tracing.hops", "tritonhost.tracing.inductor"): (
        "it imports Inductor's lowering (about 0.9 s on a 2-core CPU): registered only once Inductor's compile "
        "has loaded it"
    ),
    ("tritonhost.compat.aot_autograd", "torch._functorch._aot_autograd"): (
        "AOTAutograd's modules load with Dynamo's; only backend=\"tritonhost\" compiling, or install() on a "
        "torch before 2.13, reads their source"
    ),
    ("tritonhost.compat.autograd_function", "torch._dynamo.variables"): (
        "importing Dynamo takes a second or so; only install() on a torch before 2.13 reads or patches it"
    ),
}


@attrs.frozen
class Import:
    source: str
    target: str
    line: int
    local: bool


def module_name(path: Path, package_root: Path) -> str:
    parts = list(path.relative_to(package_root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules_under(package_root: Path) -> dict[str, Path]:
    return {module_name(path, package_root): path for path in sorted(package_root.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> Iterator[Import]:
    """Every import in ``path``; ``from package import module`` counts as an import of the module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(), str(path))
    local_nodes = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for inner in ast.walk(node)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([base] if base else [])])
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            yield Import(name, target, node.lineno, id(node) in local_nodes)


def layer_of(module: str) -> int | None:
    """The index of ``module``'s layer; the longest matching prefix decides."""
    best: tuple[int, int] | None = None
    for index, (_, members) in enumerate(LAYERS):
        for member in members:
            matches = module == member or (module.startswith(member + ".") and member != "tritonhost")
            if matches and (best is None or len(member) > best[1]):
                best = (index, len(member))
    return None if best is None else best[0]


def _internal(target: str, known: set[str]) -> str | None:
    while target and target not in known:
        target = target.rpartition(".")[0]
    return target or None


def core_graph() -> dict[str, set[str]]:
    modules = modules_under(CORE)
    known = set(modules)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for imp in imports_of(name, path, known):
            target = _internal(imp.target, known)
            if target is not None and target != name:
                graph[name].add(target)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root, children_of_root in graph.items():
        if root in index:
            continue
        work = [(root, iter(sorted(children_of_root)))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_every_module_has_a_layer():
    missing = [name for name in modules_under(CORE) if layer_of(name) is None]
    assert not missing, f"modules with no layer in tests/test_layers.py LAYERS: {missing}"


def test_imports_run_downward():
    modules = modules_under(CORE)
    known = set(modules)
    upward = []
    for name, path in modules.items():
        for imp in imports_of(name, path, known):
            target = _internal(imp.target, known)
            if target is None or target == name:
                continue
            source_layer, target_layer = layer_of(name), layer_of(target)
            assert source_layer is not None and target_layer is not None
            if target_layer > source_layer:
                upward.append(
                    f"{path.relative_to(ROOT)}:{imp.line}: {name} ({LAYERS[source_layer][0]}) imports "
                    f"{target} ({LAYERS[target_layer][0]})"
                )
    assert not upward, "imports from a higher layer:\n" + "\n".join(upward)


def test_no_import_circle():
    assert circles(core_graph()) == []


def test_the_circle_check_finds_circles():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_imports_inside_functions_have_a_reason():
    unexplained = []
    for root in [CORE, *PLUGINS.values()]:
        modules = modules_under(root)
        for name, path in modules.items():
            for imp in imports_of(name, path, set(modules)):
                if imp.local and (name, imp.target) not in LOCAL_IMPORTS:
                    unexplained.append(f"{path.relative_to(ROOT)}:{imp.line}: {name} imports {imp.target}")
    assert not unexplained, (
        "imports inside functions: move them to the top, or add them to LOCAL_IMPORTS in tests/test_layers.py "
        "with the reason they must wait:\n" + "\n".join(unexplained)
    )


def test_every_allowed_local_import_still_exists():
    present = set()
    modules = modules_under(CORE)
    for name, path in modules.items():
        present.update((imp.source, imp.target) for imp in imports_of(name, path, set(modules)) if imp.local)
    assert set(LOCAL_IMPORTS) <= present, f"stale LOCAL_IMPORTS entries: {set(LOCAL_IMPORTS) - present}"


@pytest.mark.parametrize("plugin", sorted(PLUGINS))
def test_plugins_import_only_the_plugin_surface(plugin):
    root = PLUGINS[plugin]
    modules = modules_under(root)
    outside = [
        f"{path.relative_to(ROOT)}:{imp.line}: {imp.target}"
        for name, path in modules.items()
        for imp in imports_of(name, path, set(modules))
        if (imp.target == "tritonhost" or imp.target.startswith("tritonhost.")) and imp.target != PLUGIN_SURFACE
    ]
    assert not outside, f"the {plugin} plugin imports tritonhost beyond {PLUGIN_SURFACE}:\n" + "\n".join(outside)


def test_the_plugin_surface_loads_no_upper_layer():
    graph = core_graph()
    reached, todo = set(), [PLUGIN_SURFACE]
    while todo:
        module = todo.pop()
        if module not in reached:
            reached.add(module)
            todo.extend(graph[module])
    surface_layer = layer_of(PLUGIN_SURFACE)
    assert surface_layer is not None
    above = sorted(m for m in reached if (layer_of(m) or 0) > surface_layer)
    assert not above, f"{PLUGIN_SURFACE} reaches modules above its layer: {above}"


def test_hookspecs_import_only_the_ground():
    graph = core_graph()
    assert {layer_of(m) for m in graph["tritonhost.hookspecs"]} <= {0}


def main() -> None:
    graph = core_graph()
    by_layer: dict[int, list[str]] = {}
    for module in graph:
        by_layer.setdefault(layer_of(module) or 0, []).append(module)
    for index in reversed(range(len(LAYERS))):
        print(f"{index}. {LAYERS[index][0]}")
        for module in sorted(by_layer.get(index, [])):
            uses = ", ".join(sorted(graph[module])) or "-"
            print(f"     {module}  ->  {uses}")


if __name__ == "__main__":
    main()
