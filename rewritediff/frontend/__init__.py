"""The frontend's op functions by concern; :mod:`rewritediff.tensor` gathers them as ``rd.*``."""
