"""A user's kernel as the host sees it: decorators, binding, grids, devices, identity, the Triton launcher."""
