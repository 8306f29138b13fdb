"""Tracing and functionalization: kernel launches as higher-order operators in PyTorch graphs."""
