"""Equality saturation: e-graph, e-matching, analyses, scheduler and extraction (see simplify.py)."""
