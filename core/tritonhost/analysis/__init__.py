"""Kernel analysis: which tensor arguments a launch reads and writes, from its TTIR, without a GPU."""

from tritonhost.analysis.analyzer import Analysis, AnalysisError, analyze, analyze_call, clear_cache

__all__ = ["Analysis", "AnalysisError", "analyze", "analyze_call", "clear_cache"]
