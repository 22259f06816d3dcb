"""rewritediff: differentiate tensor expressions by term rewriting.

``import rewritediff as rd``; build expressions with ``rd.vector('x')`` and friends,
differentiate with ``rd.grad``, compile with ``rd.function``.
"""

from __future__ import annotations

from rewritediff import (
    backends,  # noqa: F401  (rd.function(..., backend=...))
    linalg,  # noqa: F401  (rd.linalg)
    methods,  # noqa: F401  (Term's operators and methods, numpy's protocols)
    ops,  # noqa: F401  (fills the registry)
    rules,  # noqa: F401
    scan_derivatives,  # noqa: F401  (the batching rule of scan)
    sparse,  # noqa: F401  (rd.sparse)
)
from rewritediff.compiled import Function, In, function  # noqa: F401
from rewritediff.engine.simplify import Explanation, count_ops, explain, simplify  # noqa: F401
from rewritediff.errors import (  # noqa: F401
    ArityError,
    AxisError,
    BroadcastError,
    CallError,
    DisconnectedInputError,
    GradientError,
    IndexOutOfBounds,
    NullTypeGradError,
    PushforwardError,
    RewriteDiffError,
    RewriteDiffTypeError,
    RuleError,
    ShapeError,
    UnknownOpError,
)
from rewritediff.gradient import *  # noqa: F401,F403
from rewritediff.gradient import Lop, Rop  # noqa: F401
from rewritediff.printing import dot_graph, from_sympy, latex, pprint, to_sympy  # noqa: F401
from rewritediff.scan import foldl, foldr, map, reduce, scan, scan_checkpoints, until  # noqa: F401,A004
from rewritediff.structural import *  # noqa: F401,F403
from rewritediff.tensor import *  # noqa: F401,F403
from rewritediff.terms import (  # noqa: F401
    DisconnectedType,
    NullType,
    TensorType,
    Term,
    apply,
    constant,
    disconnected_type,
    floatX,
)
from rewritediff.verify import numeric_grad, verify_grad  # noqa: F401

__version__ = "0.1.0"
