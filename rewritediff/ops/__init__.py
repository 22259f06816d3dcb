"""The op registry: every op's name, arity, attributes, type inference and numpy lowering.

An op is data (:class:`OpDef`), registered once by name. Nothing here knows calculus or
simplification: derivatives live in ``rewritediff/rules/*.rules``. The submodules fill the
registry table by table (elementwise, reductions, products, shape, indexing, special,
linalg, gradient-only ops).
"""

from __future__ import annotations

from rewritediff.ops import (  # noqa: F401 - each table registers its ops
    batching,
    constructors,
    dims,
    elementwise,
    gradhelpers,
    gradops,
    indexing,
    joining,
    leaves,
    linalg,
    products,
    reductions,
    shape,
    signs,
    special,
    structural,
)
from rewritediff.ops.registry import (  # noqa: F401 - the package's interface
    CONST_OP,
    COST_KINDS,
    INPUT_OP,
    LEAF_OPS,
    LENGTH_OP,
    LEVELS,
    LOOP_OP,
    PRINT_KINDS,
    PRODUCT_OP,
    REGISTRY,
    SHARED_OP,
    SIZES_ATTR,
    STAND_IN_OP,
    SUM_OP,
    VARIABLE_OPS,
    Form,
    OpDef,
    get_op,
    infix,
    prefix,
    register,
    unregister,
)

batching.install()  # last: it sets OpDef.batch of ops the tables above define


def _declare_facts() -> None:
    """Sign and zero facts of ops whose tables do not take these fields in their rows yet."""
    keeps_values = {"signs": signs.same_as_arg(0), "zero_out": (0,)}  # values rearranged or broadcast
    facts: dict[str, dict] = {
        "dot": {"zero_out": True},
        "matmul": {"zero_out": True},
        "sum_to": {"signs": signs.summed, "zero_out": (0,)},
        "broadcast_like": keeps_values,
        "broadcast_to": keeps_values,
        "dimshuffle": keeps_values,
        "reshape": keeps_values,
        "specify_shape": keeps_values,
        "fill": {"signs": signs.same_as_arg(1), "zero_out": (1,)},
        "ones_like": {"signs": signs.POS},
        # square, k=0: m is n (static and equal, or not given)
        "eye": {"identity": lambda x: x.attr("k", 0) == 0 and "m" not in x.attr("sym", ()) and x.attr("m") in (None, x.attr("n"))},
        "eye_like": {"identity": lambda x: x.attr("k", 0) == 0 and x.static_shape[0] is not None and x.static_shape[0] == x.static_shape[1]},
    }
    for name, more in facts.items():
        for key, value in more.items():
            setattr(REGISTRY[name], key, value)


_declare_facts()
