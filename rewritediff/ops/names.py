"""Ops the gradient drivers build by name (the gradient API in ``gradient.py``, ``ad/lift.py``,
``ad/vectorize.py``), each named once here beside the constants of ``ops/registry.py``
(``SUM_OP``, ``PRODUCT_OP``, ``CONST_OP``, ``LENGTH_OP``), so no driver spells an op.
"""

from __future__ import annotations

#: A dtype conversion (``cast{dtype}``): gradients are float whatever the argument's dtype.
CAST_OP = "cast"
#: Zeros shaped like a term (``zeros_like{dtype}``): the gradient of an argument no path reaches.
ZEROS_LIKE_OP = "zeros_like"
#: ``g`` summed over the axes along which ``x`` was broadcast (the adjoint of a broadcast).
SUM_TO_OP = "sum_to"
#: ``v`` broadcast to the shape of ``like`` (a tangent to the output's shape).
BROADCAST_LIKE_OP = "broadcast_like"
#: ``v`` declared to have the shape of ``like`` (checked at run time), and to a static shape.
SPECIFY_SHAPE_LIKE_OP = "specify_shape_like"
SPECIFY_SHAPE_OP = "specify_shape"
#: A scalar seed expanded to the shape of the cost.
EXPAND_LIKE_OP = "expand_like"
#: Shape ops a Jacobian is laid out with: new axes, reshapes, a stack of rows.
DIMSHUFFLE_OP = "dimshuffle"
RESHAPE_OP = "reshape"
STACK_OP = "stack"
#: The identity matrix (its rows: the batch of one-hot cotangents) and the element count sizing it.
EYE_OP = "eye"
COUNT_OP = "count"
#: The gradient-only ops of ``ops/gradops.py`` (identity forward), built by the gradient API's functions.
ZERO_GRAD_OP = "zero_grad"
DISCONNECTED_GRAD_OP = "disconnected_grad"
UNDEFINED_GRAD_OP = "undefined_grad"
GRAD_CLIP_OP = "grad_clip"
GRAD_SCALE_OP = "grad_scale"
