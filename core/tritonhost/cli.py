"""The ``tritonhost`` command line.

``tritonhost backends`` prints the discovered backends as a table: which is
selected, whether each can run here, and why not. ``tritonhost analyze`` prints
which tensor arguments a kernel writes and reads. ``tritonhost compile``
writes a kernel's code object for any target (hsaco, cubin) on a machine
without that GPU, and prints what it takes of the device. ``tritonhost run
script.py`` runs a program with its Triton launches going through tritonhost.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import runpy
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from triton.compiler.errors import CompilationError

from tritonhost import __version__
from tritonhost.analysis import analyze_call, persistent
from tritonhost.analysis.cli_args import parse_assignment
from tritonhost.analysis.specialization import is_tensor_argument
from tritonhost.compat.frontend import parse_target
from tritonhost.contract import CodeObject
from tritonhost.errors import TritonhostError
from tritonhost.host import discovery, selection
from tritonhost.host.cache_files import CacheFile
from tritonhost.kernel.decorators import read_decorators
from tritonhost.launch.install import install
from tritonhost.targets import compile_for
from tritonhost.tuning import cache as tuning_cache


class UsageError(Exception):
    """A command given something it cannot use: printed as one line, exit status 2."""


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def cmd_backends(args: argparse.Namespace) -> int:
    statuses = discovery.registry().statuses
    try:
        selected: str | None = selection.select().name
        problem = ""
    except TritonhostError as exc:
        selected, problem = None, str(exc)
    if args.json:
        print(json.dumps({
            "requested": selection.requested_backend(),
            "selected": selected,
            "problem": problem or None,
            "backends": [
                {
                    "name": status.name,
                    "distribution": status.distribution,
                    "version": status.version,
                    "entry_point": status.entry_point,
                    "devices": list(status.device_types),
                    "usable": status.usable,
                    "broken": status.error is not None,
                    "reason": status.reason,
                }
                for status in selection.auto_order(statuses)
            ],
        }, indent=2))
        return 0 if selected else 1
    if not statuses:
        print(
            f"no tritonhost backend is installed (no plugin was loaded from the entry-point group {discovery.ENTRY_POINT_GROUP!r}).\n"
            "Install one: from a clone of tritonhost, pip install . plugins/interpreter"
        )
        if os.environ.get(discovery.DISABLE_ENV):
            print(f"{discovery.DISABLE_ENV}={os.environ[discovery.DISABLE_ENV]!r} keeps plugins from loading.")
        return 1
    rows = [["", "NAME", "DISTRIBUTION", "VERSION", "DEVICES", "USABLE", "WHY NOT"]]
    for status in selection.auto_order(statuses):
        rows.append(
            [
                "*" if status.name == selected else "",
                status.name,
                status.distribution,
                status.version,
                ",".join(status.device_types) or "-",
                "yes" if status.usable else ("broken" if status.error else "no"),
                "" if status.usable else status.reason,
            ]
        )
    print(_table(rows))
    print()
    if selected is None:
        print(f"selected: none. {problem}")
        return 1  # a script can tell that kernels cannot run here
    print(f"selected: {selected} ({selection.ENV_VAR}={selection.requested_backend()})")
    return 0


def _load_kernel(spec: str) -> Any:
    path_text, sep, name = spec.rpartition(":")
    if not sep or not name:
        raise UsageError(f"expected path/to/file.py:kernel_name, got {spec!r}")
    path = Path(path_text)
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    module_name = f"_tritonhost_cli_{path.stem}"
    spec_ = importlib.util.spec_from_file_location(module_name, path)
    assert spec_ is not None and spec_.loader is not None
    module = importlib.util.module_from_spec(spec_)
    sys.modules[module_name] = module  # Triton reads the kernel's globals through its module
    try:
        spec_.loader.exec_module(module)
    except SystemExit as exc:
        raise UsageError(
            f"importing {path} called sys.exit({exc.code!r}); put the file's script code under "
            "`if __name__ == '__main__':` so that its kernels can be imported"
        ) from None
    except Exception as exc:  # noqa: BLE001 - any failure of the user's file is reported as such
        raise UsageError(f"importing {path} raised {type(exc).__name__}: {exc}") from None
    kernel = getattr(module, name, None)
    if kernel is None:
        raise UsageError(f"{path} defines no {name!r}")
    return kernel


def cmd_analyze(args: argparse.Namespace) -> int:
    kernel = _load_kernel(args.kernel)
    kwargs = _kernel_arguments(args)
    try:
        target = parse_target(args.target) if args.target is not None else None
    except ValueError as exc:
        raise UsageError(f"--target: {exc}") from None
    if args.ttir:  # the disk cache keeps no TTIR: analyse afresh (this process's environment only)
        os.environ[persistent.CACHE_ENV] = "0"
    result = analyze_call(kernel, (), kwargs, target=target)
    decorated = read_decorators(kernel)
    status = 1 if args.strict and not result.exact else 0
    if args.json:
        print(json.dumps({
            "kernel": result.kernel,
            "target": result.target,
            "written": list(result.written),
            "read": list(result.read),
            "exact": result.exact,
            "reason": result.reason or None,
            **({"ttir": list(result.ttir)} if args.ttir else {}),
        }, indent=2))
        return status
    rows = [["PARAMETER", "ARGUMENT", "WRITTEN", "READ"]]
    for name in decorated.arg_names:
        value = kwargs.get(name, decorated.defaults.get(name))
        if name in decorated.constexprs or (name not in kwargs and name in decorated.supplied):
            kind = "constexpr" if name in kwargs or name in decorated.defaults else "constexpr (decorators)"
        else:
            kind = "scalar"
            if is_tensor_argument(value):
                kind = "tensor" if isinstance(value, torch.Tensor) else "TMA descriptor"
        rows.append([name, kind, "yes" if name in result.written else "", "yes" if name in result.read else ""])
    print(f"kernel {result.kernel}, target {result.target}")
    print(_table(rows))
    print()
    print("exact: yes" if result.exact else f"exact: no ({result.reason}); every tensor is taken as written and read")
    if args.ttir:
        for ttir in result.ttir:
            print()
            print(ttir)
    return status


#: The stages ``tritonhost compile --emit`` prints, by the names CodeObject.stages uses.
EMIT_STAGES = ("ttir", "ttgir", "llir", "asm")


def _kernel_arguments(args: argparse.Namespace) -> dict[str, Any]:
    try:
        return dict(parse_assignment(text) for text in [*args.arg, *args.const, *getattr(args, "option", [])])
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _resources_json(code: CodeObject) -> dict[str, Any]:
    usage = code.resources
    return {
        "kernel": code.name,
        "target": code.target,
        "config": code.config or None,
        "binary_kind": code.binary_kind,
        "binary_bytes": len(code.binary),
        "registers": usage.registers,
        "spills": usage.spills,
        "scratch_bytes": usage.scratch_bytes,
        "shared_bytes": usage.shared_bytes,
        "num_warps": usage.num_warps,
        "warp_size": usage.warp_size,
        "occupancy": usage.occupancy,
        "occupancy_unit": usage.occupancy_unit or None,
        "details": dict(usage.details),
        "options": dict(code.options),
    }


def _known(value: int | None, unit: str = "") -> str:
    return "n/a" if value is None else f"{value}{unit}"


def _output_paths(output: Path, codes: list[CodeObject]) -> list[Path]:
    """One object to a file (or into a directory); several into a directory, numbered by config."""
    if len(codes) == 1 and not output.is_dir():
        return [output]
    if output.exists() and not output.is_dir():
        raise UsageError(
            f"--output {output} is a file, but the kernel has {len(codes)} autotune configs: give a directory"
        )
    output.mkdir(parents=True, exist_ok=True)
    if len(codes) == 1:
        return [output / f"{codes[0].name}.{codes[0].binary_kind}"]
    return [output / f"{code.name}.config{i}.{code.binary_kind}" for i, code in enumerate(codes)]


def _write_atomically(path: Path, data: bytes) -> None:
    # A reader (a loader, a build step) never sees half a code object.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def cmd_compile(args: argparse.Namespace) -> int:
    kernel = _load_kernel(args.kernel)
    kwargs = _kernel_arguments(args)
    try:
        target = parse_target(args.target)
    except ValueError as exc:
        raise UsageError(f"--target: {exc}") from None
    try:
        codes = compile_for(kernel, target=target, **kwargs)
    except (CompilationError, RuntimeError) as exc:
        # The kernel itself does not compile for the target: a finding, not a usage error.
        lines = [line for line in str(exc).splitlines() if line.strip()]
        print(f"tritonhost: error: {args.kernel} does not compile for {args.target}: {type(exc).__name__}: "
              f"{lines[-1] if lines else ''}", file=sys.stderr)
        print("\n".join(lines), file=sys.stderr)
        return 1
    written: list[Path] = []
    if args.output is not None:
        written = _output_paths(Path(args.output), codes)
        for path, code in zip(written, codes):
            _write_atomically(path, code.binary)
    if args.json:
        reports = []
        for i, code in enumerate(codes):
            report = _resources_json(code)
            if written:
                report["output"] = str(written[i])
            if args.emit:
                report[args.emit] = code.stage(args.emit)
            reports.append(report)
        print(json.dumps(reports, indent=2))
        return 0
    if args.emit:
        for code in codes:
            if len(codes) > 1:
                print(f"// {code.name} for {code.target}, config {code.config}")
            print(code.stage(args.emit))
        return 0
    rows = [["KERNEL", "CONFIG", "TARGET", "REGISTERS", "SPILLS", "SCRATCH", "SHARED/LDS", "WARPS", "OCCUPANCY"]]
    for code in codes:
        usage = code.resources
        occupancy = "n/a" if usage.occupancy is None else f"{usage.occupancy} {usage.occupancy_unit}"
        rows.append([
            code.name, code.config or "-", code.target, _known(usage.registers), _known(usage.spills),
            _known(usage.scratch_bytes, " B"), f"{usage.shared_bytes} B", f"{usage.num_warps} x {usage.warp_size}",
            occupancy,
        ])
    print(_table(rows))
    for path, code in zip(written, codes):
        print(f"wrote {path} ({code.binary_kind}, {len(code.binary)} bytes)")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Run a Python program with every Triton launch in it going through tritonhost."""
    path = Path(args.script)
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    sys.argv = [str(path), *args.args]
    sys.path.insert(0, str(path.resolve().parent))  # as `python script.py` puts the script's folder first
    with install():
        try:
            runpy.run_path(str(path), run_name="__main__")
        except SystemExit as exit_:
            code = exit_.code
            if code is None or isinstance(code, int):
                return code or 0
            print(code, file=sys.stderr)  # sys.exit("message"), as Python itself reports it
            return 1
    return 0


def cmd_cache(args: argparse.Namespace) -> int:
    """``tritonhost cache info`` and ``tritonhost cache clear``: the persistent tuning and analysis caches."""
    folder = tuning_cache.cache_dir()
    cache = tuning_cache.TuningCache(folder)
    analyses = persistent.AnalysisCache(folder)
    if args.action == "clear":
        removed = cache.clear(args.kernel)
        analyses_removed = analyses.clear(args.kernel)
        if args.json:
            print(json.dumps({"path": str(cache.path), "removed": removed,
                              "analysis": {"path": str(analyses.path), "removed": analyses_removed}}))
        else:
            print(f"removed {removed} entr{'y' if removed == 1 else 'ies'} from {cache.path}")
            print(f"removed {analyses_removed} entr{'y' if analyses_removed == 1 else 'ies'} from {analyses.path}")
        return 0
    tuning = _cache_summary(cache, tuning_cache.enabled())
    analysis = _cache_summary(analyses, persistent.enabled())
    if args.json:
        print(json.dumps({**tuning, "analysis": analysis}, indent=2))
        return 0
    state = "on" if tuning_cache.enabled() else (
        f"off ({tuning_cache.CACHE_ENV}=0) but for kernels with cache_results=True, or all of them under "
        f"{tuning_cache.TRITON_CACHE_ENV}=1"
    )
    analysis_state = "on" if persistent.enabled() else f"off ({persistent.CACHE_ENV}=0)"
    for summary, what, kept in ((tuning, "autotune", state), (analysis, "analysis", analysis_state)):
        print(f"{summary['path']}: {summary['entries']} {what} entries, {summary['bytes']} bytes; the cache is {kept}")
        for kernel, count in sorted(summary["kernels"].items()):
            print(f"  {kernel}: {count} entr{'y' if count == 1 else 'ies'}")
    return 0


def _cache_summary(cache: CacheFile, enabled: bool) -> dict[str, Any]:
    entries = cache.entries()
    per_kernel: dict[str, int] = {}
    for entry in entries.values():
        per_kernel[str(entry.get("kernel"))] = per_kernel.get(str(entry.get("kernel")), 0) + 1
    size = cache.path.stat().st_size if cache.path.exists() else 0
    return {"path": str(cache.path), "enabled": enabled, "entries": len(entries), "bytes": size, "kernels": per_kernel}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tritonhost", description="Run Triton kernels on pluggable backends.")
    parser.add_argument("--version", action="version", version=f"tritonhost {__version__}")
    commands = parser.add_subparsers(dest="command")
    backends = commands.add_parser("backends", help="list the installed backends and whether they run here")
    backends.add_argument("--json", action="store_true", help="print the list as JSON")
    backends.set_defaults(run=cmd_backends)
    run = commands.add_parser(
        "run",
        help="run a Python program with its Triton launches going through tritonhost",
        description="Run SCRIPT as `python SCRIPT ARGS...` would, with tritonhost.install() in force: every "
        "kernel[grid](...), wrap_triton(kernel)[grid](...) and triton_op launch runs on the backend "
        "TRITONHOST_BACKEND selects.",
    )
    run.add_argument("script", metavar="SCRIPT", help="the Python file to run")
    run.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    run.set_defaults(run=cmd_run)
    cache = commands.add_parser("cache", help="show or clear the persistent autotune cache")
    cache.add_argument("action", choices=["info", "clear"], help="info: where it is and what it holds; clear: empty it")
    cache.add_argument("--kernel", default=None, metavar="NAME", help="with clear: only this kernel's entries")
    cache.add_argument("--json", action="store_true", help="print the result as JSON")
    cache.set_defaults(run=cmd_cache)
    analyze = commands.add_parser(
        "analyze",
        help="print which tensor arguments a kernel writes and reads",
        description="Analyse a kernel's TTIR (no GPU needed) and print its written and read tensor arguments.",
    )
    analyze.add_argument("kernel", metavar="FILE.py:KERNEL", help="the file defining the kernel, and its name")
    analyze.add_argument(
        "--arg", action="append", default=[], metavar="NAME=VALUE",
        help="an argument: a tensor DTYPE[SHAPE] (f32[1024]), a descriptor DTYPE[SHAPE]@[BLOCK], or a scalar",
    )
    analyze.add_argument("--const", action="append", default=[], metavar="NAME=VALUE", help="a constexpr value")
    analyze.add_argument("--target", default=None, help="cuda:<capability> or hip:<arch> (default: the backend's)")
    analyze.add_argument("--ttir", action="store_true", help="also print the TTIR")
    analyze.add_argument("--json", action="store_true", help="print the result as JSON")
    analyze.add_argument("--strict", action="store_true", help="exit with status 1 when the analysis is not exact")
    analyze.set_defaults(run=cmd_analyze)
    compile_ = commands.add_parser(
        "compile",
        help="compile a kernel for a target (hsaco, cubin) without its GPU, and print what it takes of the device",
        description="Compile a kernel as a launch with these arguments would, once per autotune config, for "
        "TARGET (cuda:80, cuda:90, hip:gfx942, hip:gfx90a, hip:gfx1100...) on any machine, through the "
        "installed backend plugins. Prints the registers, spills, scratch, shared memory or LDS, warps and "
        "occupancy of each code object; --output writes them, --emit prints a stage instead.",
    )
    compile_.add_argument("kernel", metavar="FILE.py:KERNEL", help="the file defining the kernel, and its name")
    compile_.add_argument(
        "--arg", action="append", default=[], metavar="NAME=VALUE",
        help="an argument: a tensor DTYPE[SHAPE] (f32[1024]), a descriptor DTYPE[SHAPE]@[BLOCK], or a scalar",
    )
    compile_.add_argument("--const", action="append", default=[], metavar="NAME=VALUE", help="a constexpr value")
    compile_.add_argument(
        "--option", action="append", default=[], metavar="NAME=VALUE",
        help="a launch option (num_warps=8, waves_per_eu=2); one the target does not take is dropped",
    )
    compile_.add_argument("--target", required=True, help="cuda:<capability> (cuda:90) or hip:<arch> (hip:gfx942)")
    compile_.add_argument(
        "--output", default=None, metavar="PATH",
        help="write the code object here; a directory for a kernel with several autotune configs",
    )
    compile_.add_argument("--emit", choices=EMIT_STAGES, default=None, help="print this stage instead of the summary")
    compile_.add_argument("--json", action="store_true", help="print the summary (and --emit's stage) as JSON")
    compile_.set_defaults(run=cmd_compile)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # bare `tritonhost`: say what it does
        parser.print_help()
        return 0
    try:
        return int(args.run(args))
    except (TritonhostError, UsageError) as exc:
        print(f"tritonhost: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
