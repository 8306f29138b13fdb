"""The pluggy markers of the ``tritonhost`` project, made once for everyone.

Backends decorate their hook implementations with :data:`hookimpl`; the host
declares its specifications in :mod:`tritonhost.hookspecs` with :data:`hookspec`.
"""

from __future__ import annotations

import pluggy

PROJECT = "tritonhost"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
