"""tritonhost's pytest plugin, registered through the ``pytest11`` entry point.

Adds ``--tritonhost-backend NAME`` and the fixture ``tritonhost_backend``. A test
that takes the fixture runs with its kernels on the chosen backend:

- ``--tritonhost-backend interpreter`` runs them on the CPU (for CI machines
  without a GPU);
- ``--tritonhost-backend all`` runs the test once per usable backend;
- without the option, the backend is the one ``TRITONHOST_BACKEND`` selects.

``--tritonhost-install`` routes every Triton launch of the session through
tritonhost (``tritonhost.install()``), so that a kernel library's own tests run
unchanged on the selected backend: ``TRITONHOST_BACKEND=interpreter pytest
--tritonhost-install tests/`` runs them on a CPU.

The fixture's value is the :class:`tritonhost.Backend`; ``backend.device`` is
the torch device type to put the test's tensors on.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tritonhost.errors import TritonhostError
from tritonhost.host import discovery, selection
from tritonhost.launch.install import Installation, install

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
    requested = config.getoption("tritonhost_backend")
    try:
        if requested is None:
            return [selection.select().name]
        if requested.strip().lower() == ALL:
            names = [s.name for s in selection.auto_order(discovery.registry().statuses) if s.usable]
            if not names:
                raise pytest.UsageError(f"{OPTION}=all: no usable tritonhost backend is installed")
            return names
        return [selection.select(requested).name]
    except TritonhostError as exc:
        raise pytest.UsageError(f"{OPTION}: {exc}") from None


_names_key = pytest.StashKey[list[str]]()


_installation_key = pytest.StashKey[Installation]()


def pytest_configure(config: pytest.Config) -> None:
    # A wrong name is a usage error, reported before collection; without the
    # option, nothing is loaded until a test asks for the fixture.
    if config.getoption("tritonhost_backend") is not None:
        config.stash[_names_key] = _backend_names(config)
    if config.getoption("tritonhost_install"):
        config.stash[_installation_key] = install()


def pytest_unconfigure(config: pytest.Config) -> None:
    installation = config.stash.get(_installation_key, None)
    if installation is not None:
        installation.uninstall()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "tritonhost_backend" in metafunc.fixturenames:
        names = metafunc.config.stash.get(_names_key, None)
        if names is None:
            names = metafunc.config.stash[_names_key] = _backend_names(metafunc.config)
        metafunc.parametrize("tritonhost_backend", names, indirect=True, ids=[f"backend={n}" for n in names])


@pytest.fixture
def tritonhost_backend(request: pytest.FixtureRequest) -> Iterator[selection.Backend]:
    """The backend this test's kernels run on; ``wrap(kernel)`` launches use it for the test's duration."""
    with selection.use_backend(request.param) as backend:
        yield backend
