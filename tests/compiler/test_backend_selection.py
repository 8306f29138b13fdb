"""backend="tritonhost" reports a bad TRITONHOST_BACKEND when compiling, with the selection's message."""

from __future__ import annotations

import pytest
import torch

from programs import chain


def test_unknown_backend_fails_at_compile_with_the_selection_message(monkeypatch):
    monkeypatch.setenv("TRITONHOST_BACKEND", "no-such-backend")
    torch._dynamo.reset()
    with pytest.raises(Exception, match="no-such-backend") as raised:
        torch.compile(chain, backend="tritonhost", fullgraph=True)(torch.randn(16), torch.randn(16))
    # Dynamo wraps the error; its text is tritonhost's, naming the problem and the backends there are.
    assert "UnknownBackendError" in str(raised.value) and "names no installed backend" in str(raised.value)
    assert "interpreter" in str(raised.value)
