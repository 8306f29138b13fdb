"""Autotuning: choosing a config of an autotuned kernel per tuning key, on the selected backend."""
