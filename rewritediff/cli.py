"""The ``rewritediff`` command."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``rewritediff`` console script."""
    import numpy as np

    import rewritediff as rd

    argv = sys.argv[1:] if argv is None else argv
    x = rd.vector("x")
    W = rd.matrix("W")
    f = rd.function([W, x], rd.tanh(W @ x).sum())
    print(f.source)
    print(f(np.eye(3), np.ones(3)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
