"""rewritediff's exception hierarchy: every user mistake gets one of these, never a numpy traceback."""

from __future__ import annotations


class RewriteDiffError(Exception):
    """Base class of every error rewritediff raises on purpose."""


class RewriteDiffTypeError(RewriteDiffError, TypeError):
    """A wrong type: unknown dtype, a non-term argument, an op applied to the wrong kind of value."""


class ShapeError(RewriteDiffError, ValueError):
    """Incompatible shapes, found statically at construction or at call time."""


class AxisError(RewriteDiffError, IndexError, ValueError):
    """An axis out of range for the argument's ndim."""


class IndexOutOfBounds(RewriteDiffError, IndexError):
    """A static index outside a static shape."""


class UnknownOpError(RewriteDiffError, KeyError):
    """An op name that the registry does not know."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown op"


class ArityError(RewriteDiffError, TypeError):
    """An op given the wrong number of arguments."""


class CallError(RewriteDiffError, TypeError):
    """A compiled function called with the wrong number, dtype or shape of arguments."""


class RuleError(RewriteDiffError, ValueError):
    """A rule file that does not parse or does not validate; the message carries file:line:col."""


class DisconnectedInputError(ValueError):
    """A gradient asked of an input the cost does not depend on (PyTensor's semantics)."""


class NullTypeGradError(TypeError):
    """A requested gradient is undefined or not implemented (a NullType)."""


class BroadcastError(ShapeError, ValueError):
    """Two dims the graph requires equal differ at run time (an undeclared broadcast, or mismatched inputs)."""


class PushforwardError(NullTypeGradError, ValueError):
    """A pushforward (R-op) met an op with no forward derivative; the message names the op.

    A ValueError, as PyTensor raises for an R-op through a non-differentiable op, and a
    NullTypeGradError, so code written for an undefined derivative still catches it.
    """


class GradientError(Exception):
    """Raised by verify_grad when the analytic and numeric gradients disagree."""

    def __init__(
        self,
        arg: int,
        err_pos: int,
        shape: tuple,
        val1: float,
        val2: float,
        abs_err: float,
        rel_err: float,
        abs_tol: float,
        rel_tol: float,
    ) -> None:
        super().__init__()
        self.arg, self.err_pos, self.shape = arg, err_pos, shape
        self.val1, self.val2 = val1, val2
        self.abs_err, self.rel_err = abs_err, rel_err
        self.abs_tol, self.rel_tol = abs_tol, rel_tol

    def __str__(self) -> str:
        return (
            "GradientError: numeric gradient and analytic gradient exceed tolerance:\n"
            f"        At position {self.err_pos} of argument {self.arg} with shape {self.shape},\n"
            f"            val1 = {self.val1:f}      ,  val2 = {self.val2:f}\n"
            f"            abs. error = {self.abs_err:f},  abs. tolerance = {self.abs_tol:f}\n"
            f"            rel. error = {self.rel_err:f},  rel. tolerance = {self.rel_tol:f}"
        )


# What building a term or evaluating an op may raise on input it does not fit (shapes, dtypes,
# axes, values: numpy's LinAlgError and AxisError are ValueErrors). The fallbacks of the engine and
# of the stabilizing sweep (a constant not folded, a guard undecided, a right-hand side not built
# for one match) catch these and nothing else, so a bug (AttributeError, NameError, KeyError, ...)
# surfaces.
BUILD_ERRORS: tuple[type[BaseException], ...] = (RewriteDiffError, TypeError, ValueError, IndexError, ArithmeticError)
