"""tritonhost's pytest plugin, registered through the ``pytest11`` entry point.

Adds ``--tritonhost-backend NAME``, ``--tritonhost-install`` and the fixture
``tritonhost_backend``. A test that takes the fixture runs with its kernels on the
chosen backend:

- ``--tritonhost-backend interpreter`` runs them on the CPU (for CI machines
  without a GPU);
- ``--tritonhost-backend all`` runs the test once per usable backend, and says
  which installed backends it leaves out and why;
- without the option, the backend is the one ``TRITONHOST_BACKEND`` selects.

``--tritonhost-install`` routes every Triton launch of the session through
tritonhost (``tritonhost.install()``), so that a kernel library's own tests run
unchanged on the selected backend: ``TRITONHOST_BACKEND=interpreter pytest
--tritonhost-install tests/`` runs them on a CPU.

The fixture's value is the :class:`tritonhost.Backend`; ``backend.device`` is
the torch device type to put the test's tensors on.

It lives outside the ``tritonhost`` package, and imports it (with PyTorch and
Triton) only when a session gives one of its options or a test asks for the
fixture: pytest loads the plugins of every installed distribution in every run,
of every project, and importing PyTorch costs seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

OPTION = "--tritonhost-backend"
INSTALL_OPTION = "--tritonhost-install"
ALL = "all"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tritonhost")
    group.addoption(
        OPTION,
        dest="tritonhost_backend",
        default=None,
        metavar="NAME",
        help="run tests that use the tritonhost_backend fixture on backend NAME; 'all' runs them on every "
        "usable backend (default: as TRITONHOST_BACKEND selects)",
    )
    group.addoption(
        INSTALL_OPTION,
        dest="tritonhost_install",
        action="store_true",
        help="route every Triton kernel launch of the session through tritonhost (tritonhost.install()): a kernel "
        "library's own tests then run on the backend TRITONHOST_BACKEND selects, the CPU interpreter included",
    )


def _backend_names(config: pytest.Config) -> list[str]:
    # Imported here, not at the top: see the module's docstring.
    from tritonhost.errors import TritonhostError
    from tritonhost.host import discovery, selection

    requested = config.getoption("tritonhost_backend")
    try:
        if requested is None:
            return [selection.select().name]
        if requested.strip().lower() == ALL:
            statuses = selection.auto_order(discovery.registry().statuses)
            names = [s.name for s in statuses if s.usable]
            left_out = [f"{s.name} ({s.reason})" for s in statuses if not s.usable]
            if left_out:
                config.stash[_left_out_key] = left_out
            if not names:
                raise pytest.UsageError(f"{OPTION} all: no installed tritonhost backend is usable here: " + "; ".join(left_out))
            return names
        return [selection.select(requested).name]
    except TritonhostError as exc:
        source = f"{OPTION} {requested}" if requested is not None else "TRITONHOST_BACKEND (no --tritonhost-backend given)"
        raise pytest.UsageError(f"{source}: {exc}") from None


_names_key = pytest.StashKey[list[str]]()
_left_out_key = pytest.StashKey[list[str]]()
_installation_key = pytest.StashKey[Any]()


def pytest_configure(config: pytest.Config) -> None:
    # A wrong name is a usage error, reported before collection; without the
    # options, nothing is loaded until a test asks for the fixture.
    if config.getoption("tritonhost_backend") is not None:
        config.stash[_names_key] = _backend_names(config)
    if config.getoption("tritonhost_install"):
        from tritonhost.launch.install import install  # see the module's docstring

        config.stash[_installation_key] = install()


def pytest_unconfigure(config: pytest.Config) -> None:
    installation = config.stash.get(_installation_key, None)
    if installation is not None:
        installation.uninstall()


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    left_out = config.stash.get(_left_out_key, None)
    if not left_out:
        return None
    return [f"tritonhost: {OPTION} all leaves out " + "; ".join(left_out)]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "tritonhost_backend" in metafunc.fixturenames:
        names = metafunc.config.stash.get(_names_key, None)
        if names is None:
            names = metafunc.config.stash[_names_key] = _backend_names(metafunc.config)
        metafunc.parametrize("tritonhost_backend", names, indirect=True, ids=[f"backend={n}" for n in names])


@pytest.fixture
def tritonhost_backend(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The backend this test's kernels run on; ``wrap(kernel)`` launches use it for the test's duration."""
    from tritonhost.host import selection  # see the module's docstring

    with selection.use_backend(request.param) as backend:
        yield backend
