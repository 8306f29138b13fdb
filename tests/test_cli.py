"""The ``tritonhost`` console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import tritonhost


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("tritonhost")
    full_env = {key: value for key, value in os.environ.items() if key != "TRITONHOST_BACKEND"}
    full_env.update(env)
    return subprocess.run([str(script), *args], capture_output=True, text=True, env=full_env, check=False)


def test_backends_table():
    result = _run("backends")
    assert result.returncode == 0, result.stderr
    header, rule, *rows = result.stdout.splitlines()
    assert header.split() == ["NAME", "DISTRIBUTION", "VERSION", "DEVICES", "USABLE", "WHY", "NOT"]
    assert set(rule) <= {"-", " "}
    names = [row.split()[1] if row.startswith("*") else row.split()[0] for row in rows if row.strip()][:3]
    assert names == ["cuda", "rocm", "interpreter"]
    selected = next(row for row in rows if row.startswith("*"))
    assert tritonhost.current_backend() in selected
    assert f"selected: {tritonhost.current_backend()} (TRITONHOST_BACKEND=auto)" in result.stdout


def test_backends_with_an_unknown_selection_still_lists():
    result = _run("backends", TRITONHOST_BACKEND="nonsense")
    assert result.returncode == 1  # nothing selectable: a script can tell
    assert "interpreter" in result.stdout
    assert "selected: none. TRITONHOST_BACKEND='nonsense' names no installed backend" in result.stdout


def test_backends_with_no_plugin():
    result = _run("backends", TRITONHOST_DISABLE_PLUGINS="*")
    assert result.returncode == 1
    assert "no tritonhost backend is installed" in result.stdout


def test_version_and_usage():
    assert _run("--version").stdout.strip() == f"tritonhost {tritonhost.__version__}"
    result = _run()  # bare: the help, not an error
    assert result.returncode == 0 and "usage: tritonhost" in result.stdout and "analyze" in result.stdout


def test_backends_as_json():
    result = _run("backends", "--json")
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    assert listing["selected"] == tritonhost.current_backend() and listing["problem"] is None
    assert [b["name"] for b in listing["backends"]][:3] == ["cuda", "rocm", "interpreter"]
    interpreter = next(b for b in listing["backends"] if b["name"] == "interpreter")
    assert interpreter["usable"] and interpreter["distribution"] == "tritonhost-interpreter"
    broken = json.loads(_run("backends", "--json", TRITONHOST_BACKEND="nonsense").stdout)
    assert broken["selected"] is None and "names no installed backend" in broken["problem"]


_INEXACT_ARGS = ("--arg", "x_ptr=f32[8]", "--arg", "out_ptr=f32[8]", "--const", "BLOCK=8")


def test_analyze_as_json_and_strict():
    result = _run(
        "analyze", f"{CORPUS}:runtime_flag", "--arg", "a_ptr=f32[8]", "--arg", "b_ptr=f32[8]",
        "--arg", "x_ptr=f32[8]", "--arg", "flag=3", "--const", "BLOCK=8", "--json", "--strict",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "kernel": "runtime_flag", "target": "cuda:90", "written": ["a_ptr", "b_ptr"], "read": ["x_ptr"],
        "exact": True, "reason": None,
    }
    inexact = _run("analyze", f"{CORPUS}:impure_inline_asm", *_INEXACT_ARGS, "--json", "--strict")
    assert inexact.returncode == 1, inexact.stderr
    assert json.loads(inexact.stdout)["exact"] is False
    assert _run("analyze", f"{CORPUS}:impure_inline_asm", *_INEXACT_ARGS).returncode == 0


CORPUS = str(Path(__file__).resolve().parent / "analysis" / "corpus.py")


def test_analyze_prints_written_and_read():
    result = _run(
        "analyze", f"{CORPUS}:runtime_flag", "--arg", "a_ptr=f32[8]", "--arg", "b_ptr=f32[8]",
        "--arg", "x_ptr=f32[8]", "--arg", "flag=3", "--const", "BLOCK=8",
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = lines[1]
    written_at, read_at = header.index("WRITTEN"), header.index("READ")

    def columns(line):  # (argument kind, WRITTEN cell, READ cell), read by column position
        return line.split()[1], line[written_at:read_at].strip(), line[read_at:].strip()

    rows = {line.split()[0]: columns(line) for line in lines[3:] if line.strip() and not line.startswith("exact")}
    # runtime_flag stores to a or b as a runtime flag says, and reads x.
    assert rows["a_ptr"] == ("tensor", "yes", "") and rows["b_ptr"] == ("tensor", "yes", "")
    assert rows["x_ptr"] == ("tensor", "", "yes") and rows["flag"] == ("scalar", "", "")
    assert "kernel runtime_flag, target cuda:90" in result.stdout and "exact: yes" in result.stdout


def test_analyze_descriptors_target_and_ttir():
    result = _run(
        "analyze", f"{CORPUS}:host_descriptor_copy", "--arg", "in_desc=f32[64,64]@[32,64]",
        "--arg", "out_desc=f32[64,64]@[32,64]", "--const", "BLOCK_M=32", "--const", "BLOCK_N=64",
        "--target", "hip:gfx942", "--ttir",
    )
    assert result.returncode == 0, result.stderr
    assert "target hip:gfx942" in result.stdout
    assert "out_desc   TMA descriptor  yes" in result.stdout
    assert "tt.descriptor_store %out_desc" in result.stdout


def test_analyze_reports_bad_input():
    result = _run("analyze", f"{CORPUS}:copy", "--arg", "src=f33[8]")
    assert result.returncode != 0 and "unknown dtype 'f33'" in result.stderr
    result = _run("analyze", f"{CORPUS}:copy", "--arg", "src=f32[8]")
    assert result.returncode == 2 and "missing 'dst', 'n'" in result.stderr
    result = _run("analyze", f"{CORPUS}:nothing_here")
    assert result.returncode != 0 and "defines no 'nothing_here'" in result.stderr


TARGET_KERNELS = str(Path(__file__).resolve().parent / "targets" / "target_kernels.py")
_ROW_SUM = (f"{TARGET_KERNELS}:row_sum", "--arg", "x_ptr=bf16[64,4096]", "--arg", "out_ptr=f32[64]",
            "--arg", "cols=4096", "--arg", "stride=4096")


def test_compile_writes_an_hsaco_and_prints_what_it_takes(tmp_path):
    output = tmp_path / "row_sum.hsaco"
    result = _run("compile", f"{TARGET_KERNELS}:row_sum.fn", *_ROW_SUM[1:], "--const", "BLOCK=512",
                  "--option", "num_warps=4", "--target", "hip:gfx942", "--output", str(output))
    assert result.returncode == 2 and "defines no 'row_sum.fn'" in result.stderr  # an attribute path is no name
    result = _run("compile", *_ROW_SUM, "--target", "hip:gfx942", "--output", str(tmp_path / "objects"))
    assert result.returncode == 0, result.stderr
    header, rule, *rows = result.stdout.splitlines()
    assert header.split()[:4] == ["KERNEL", "CONFIG", "TARGET", "REGISTERS"] and set(rule) == {"-", " "}
    assert rows[0].startswith("row_sum") and "hip:gfx942" in rows[0] and "4 x 64" in rows[0]
    assert "waves per SIMD" in rows[0] and "8 x 64" in rows[1]
    written = sorted((tmp_path / "objects").iterdir())
    assert [p.name for p in written] == ["row_sum.config0.hsaco", "row_sum.config1.hsaco"]
    assert all(p.read_bytes()[:4] == b"\x7fELF" for p in written)
    assert f"wrote {written[0]} (hsaco," in result.stdout
    single = _run("compile", f"{CORPUS}:copy", "--arg", "src=f32[64]", "--arg", "dst=f32[64]", "--arg", "n=64",
                  "--const", "BLOCK=64", "--target", "cuda:80", "--output", str(output))
    assert single.returncode == 0, single.stderr
    assert output.read_bytes()[:4] == b"\x7fELF"
    clash = _run("compile", *_ROW_SUM, "--target", "hip:gfx942", "--output", str(output))
    assert clash.returncode == 2 and "has 2 autotune configs: give a directory" in clash.stderr


def test_compile_as_json_and_emitting_a_stage():
    result = _run("compile", *_ROW_SUM, "--target", "cuda:90", "--json", "--emit", "ttgir")
    assert result.returncode == 0, result.stderr
    reports = json.loads(result.stdout)
    assert [r["config"].split(",")[0] for r in reports] == ["BLOCK=256", "BLOCK=1024"]
    first = reports[0]
    assert (first["kernel"], first["target"], first["binary_kind"]) == ("row_sum", "cuda:90", "cubin")
    assert (first["num_warps"], first["warp_size"], first["occupancy_unit"]) == (4, 32, "warps per SM")
    assert first["registers"] > 0 and first["shared_bytes"] > 0 and first["spills"] is None
    assert "waves_per_eu" not in first["options"] and "ttg.num-warps" in first["ttgir"]
    gfx1100 = json.loads(_run("compile", *_ROW_SUM, "--target", "hip:gfx1100", "--json").stdout)
    assert [(r["warp_size"], r["options"]["waves_per_eu"]) for r in gfx1100] == [(32, 2), (32, 0)]
    assert gfx1100[0]["spills"] == 0 and "sgprs" in gfx1100[0]["details"]
    asm = _run("compile", *_ROW_SUM, "--target", "hip:gfx1100", "--emit", "asm")
    assert asm.returncode == 0 and asm.stdout.count(".amdgcn_target") == 2


def test_compile_reports_a_bad_target():
    result = _run("compile", *_ROW_SUM, "--target", "gfx942")
    assert result.returncode == 2 and "--target: unknown target 'gfx942'" in result.stderr


def test_compile_says_when_the_kernel_does_not_compile_for_the_target(tmp_path):
    source = tmp_path / "too_big.py"
    source.write_text(
        "import triton\nimport triton.language as tl\n\n\n@triton.jit\ndef too_big(x_ptr, BLOCK: tl.constexpr):\n"
        "    tl.static_assert(BLOCK <= 1024, 'BLOCK is at most 1024')\n"
        "    tl.store(x_ptr + tl.arange(0, BLOCK), 1.0)\n"
    )
    result = _run("compile", f"{source}:too_big", "--arg", "x_ptr=f32[4096]", "--const", "BLOCK=4096",
                  "--target", "hip:gfx942")
    assert result.returncode == 1
    assert f"tritonhost: error: {source}:too_big does not compile for hip:gfx942: " in result.stderr
    assert "BLOCK is at most 1024" in result.stderr


def test_cache_info_and_clear_cover_the_analysis_cache(tmp_path):
    env = {"TRITONHOST_CACHE_DIR": str(tmp_path)}
    analyzed = _run("analyze", f"{CORPUS}:copy", "--arg", "src=f32[8]", "--arg", "dst=f32[8]", "--arg", "n=8",
                    "--const", "BLOCK=8", **env)
    assert analyzed.returncode == 0, analyzed.stderr
    info = json.loads(_run("cache", "info", "--json", **env).stdout)
    assert info["entries"] == 0 and info["analysis"]["entries"] == 1 and info["analysis"]["kernels"] == {"copy": 1}
    assert "copy: 1 entry" in _run("cache", "info", **env).stdout
    cleared = json.loads(_run("cache", "clear", "--json", **env).stdout)
    assert cleared["removed"] == 0 and cleared["analysis"]["removed"] == 1
    assert json.loads(_run("cache", "info", "--json", **env).stdout)["analysis"]["entries"] == 0
