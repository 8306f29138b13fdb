"""Kernel analysis: which tensor arguments a launch reads and writes, from its TTIR, without a GPU."""

from tritonhost.analysis.analyzer import (
    Analysis,
    AnalysisError,
    analyze,
    analyze_call,
    clear_cache,
    front_end_error,
)

__all__ = ["Analysis", "AnalysisError", "analyze", "analyze_call", "clear_cache", "front_end_error"]
