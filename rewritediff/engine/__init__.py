"""Equality saturation: e-graph, e-matching, analyses, scheduler and extraction (entry point: engine/simplify.py)."""
