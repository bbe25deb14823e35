"""Differential tests: the same scenario on the real Linux kernel and on cowfast."""
