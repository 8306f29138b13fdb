"""Broken tritonhost backends, for testing how the host reports them."""
