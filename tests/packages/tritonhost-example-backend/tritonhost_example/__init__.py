"""An example third-party backend for tritonhost: see docs/writing-a-backend.md."""
