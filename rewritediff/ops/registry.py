"""The op registry itself: :class:`OpDef` (every fact about an op), ``REGISTRY``, ``register`` and
``get_op``, and the named constants drivers use for the few ops they must name. The tables in the
sibling modules fill it; ``rewritediff.ops`` loads them all."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rewritediff import runtime, terms
from rewritediff.errors import ArityError, RewriteDiffTypeError, UnknownOpError
from rewritediff.ops import dims  # leaf modules: they import nothing from this package

Infer = Callable[[tuple, dict], Any]
_FRESH_GROUPS = ("reduction", "linalg", "special", "constructor")  # groups whose results are new arrays

#: How extraction prices an op (``OpDef.cost_kind``): ``free`` (leaves), ``elementwise`` (output
#: size times a per-element weight), ``reduction`` (its input), ``product`` (``2*m*n*k``),
#: ``cubic`` (a factorisation: the cube of the matrix side), ``layout`` (shape ops: the elements they touch),
#: ``constructor`` (its output), ``generic`` (a function call per output element).
COST_KINDS = ("free", "elementwise", "reduction", "product", "cubic", "layout", "constructor", "generic")
_COST_BY_GROUP = {"leaf": "free", "reduction": "reduction", "product": "product", "linalg": "cubic", "shape": "layout", "constructor": "constructor"}
_CALL = re.compile(r"([A-Za-z_][A-Za-z_0-9]*)\(")

#: The canonical AC forms: the n-ary ops the e-graph flattens and folds (its sums and products).
#: Code that must build one (a sum of tangents, a product of lengths) names it through these.
SUM_OP = "add"
PRODUCT_OP = "mul"
#: The leaf ops (terms.py makes them): a constant (``term.value``), a shared variable and an input.
CONST_OP = "const"
INPUT_OP = "input"
SHARED_OP = "shared"
LEAF_OPS = (INPUT_OP, SHARED_OP, CONST_OP)
VARIABLE_OPS = (INPUT_OP, SHARED_OP)  # the leaves that are variables (named, with no value of their own)
#: A loop (ops/scan.py): lowered as one block for all its sibling results.
LOOP_OP = "scan"
#: What the lowering puts for a term only read for its shape (``lower_numpy.stand_in_shapes``).
STAND_IN_OP = "stand_in"
#: The op reading one run-time length of an array (``x.shape[i]``): the e-graph builds it for a dim it proves to be an input's.
LENGTH_OP = "shape_i"
#: The attribute of ops sized by 0-d arguments (``eye(X.shape[1])``, ``specify_shape``): the names
#: of their attributes given as arguments (the printers show those arguments instead).
SIZES_ATTR = "sym"

#: Precedence levels of the printed notation, loosest first (Python's order; ``juxtaposed`` is the
#: LaTeX matrix product written by juxtaposition). A :class:`Form` binds at one and names one per slot.
LEVELS = ("top", "comparison", "or", "and", "additive", "multiplicative", "juxtaposed", "unary", "power", "atom")
#: Structured notations the printers write with code of their own (``OpDef.print_kind``):
#: ``negation`` (a term of a sum prints as a subtraction), ``inverse`` and ``power`` (a factor of a
#: product may print as a divisor), ``quotient`` (a factor needing no parentheses), ``matrix_product``
#: (LaTeX juxtaposition), ``axes`` (``x.T``, ``x[:, None]``), ``length`` (``x.shape[i]``), ``indexed``
#: (``x[1:3]``) and ``indexed_update`` (``set_subtensor(x[1:3], y)``), ``loop`` (a recurrence),
#: ``conversion`` (a dtype change, transparent to SymPy).
PRINT_KINDS = ("", "negation", "inverse", "power", "quotient", "matrix_product", "axes", "length", "indexed", "indexed_update", "loop", "conversion")
_KIND_BY_GROUP = {"loop": "loop"}


@dataclass(frozen=True)
class Form:
    """How one view (text or LaTeX) writes an op: a template of literal strings and argument slots, and the level it binds at.

    A part is a literal string, an argument index ``i`` (the argument as it is, e.g. inside LaTeX
    braces) or ``(i, level)`` (the argument, in parentheses when it binds more loosely than that
    level). A form applies to terms with exactly the arguments it refers to.
    """

    parts: tuple
    level: str = "atom"

    def __post_init__(self) -> None:
        levels = [self.level] + [p[1] for p in self.parts if isinstance(p, tuple)]
        bad = [v for v in levels if v not in LEVELS]
        if bad:
            raise ValueError(f"Form {self.parts!r}: unknown level(s) {bad}; the levels are {LEVELS}")

    @property
    def nargs(self) -> int:
        """How many arguments the form refers to (it applies to terms with that many)."""
        slots = [p if isinstance(p, int) else p[0] for p in self.parts if not isinstance(p, str)]
        return max(slots) + 1 if slots else 0


def infix(symbol: str, level: str, left: str | None = None, right: str | None = None) -> Form:
    """``x <symbol> y`` binding at ``level``: left-associative unless told (the left operand may bind at ``level``, the right must bind tighter)."""
    return Form(((0, left or level), symbol, (1, right or LEVELS[LEVELS.index(level) + 1])), level)


def prefix(symbol: str, level: str = "unary") -> Form:
    """``<symbol>x``, its operand binding at least as tightly as ``level``."""
    return Form((symbol, (0, level)), level)


def _transcendental(numexpr: Any) -> bool:
    """Whether an elementwise op's work is a function call (no numexpr form, or one calling a function or ``**``)."""
    if callable(numexpr):
        return False
    if not isinstance(numexpr, str):
        return True
    return bool([c for c in _CALL.findall(numexpr) if c != "where"] or "**" in numexpr)


@dataclass
class OpDef:
    """One op: how to type it, how to compute it with numpy, how to print it as Python."""

    name: str
    infer: Infer
    impl: Callable[..., Any]
    arity: int | tuple[int, int | None] = 1
    attrs: dict[str, Any] = field(default_factory=dict)
    emit: str | Callable[[list[str], dict], str] | None = None
    elementwise: bool = False
    numexpr: str | None = None
    sympy: str | Callable | None = None
    nary: bool = False
    doc: str = ""
    # the table the op comes from ("elementwise", "reduction", "product", "linalg", "shape",
    # "constructor", "leaf", "gradient", ...): read here only, to derive the defaults of memory,
    # dims, cost_kind, leaf, constructor, reduction and gradient_convention below; nothing else reads it
    group: str = ""
    differentiable: bool = True
    prepare: Callable[[tuple, dict], dict] | None = None
    shape_from: int | None = None  # the output always has the run-time shape of this argument
    shape_args: tuple = ()  # arguments used only for their shape (their values are never read)
    ufunc: str | None = None  # the numpy ufunc computing this elementwise op (lets the lowering write into a dead buffer)
    runtime_shape: Callable[[list, dict], tuple] | None = None  # the output's run-time shape from the arguments' run-time shapes
    expand: Callable[[tuple, dict], Any] | None = None  # composite ops (rule-language ``def``): args, attrs -> the expansion Term
    # "fresh": the result is always a new array; "view": it may share memory with an argument (the
    # default when unsaid, except for the groups below): the lowering copies such outputs and never
    # writes into such buffers
    memory: str = ""
    # symbolic dims (see ops/dims.py): the result's dim tokens from the arguments' (attrs, child dims)
    # -> tuple or None, by default from shape_from, elementwise broadcasting or a reduction's axes;
    # and the pairs of argument dims that must be equal for the op to run at all (never declare
    # them for an op that only checks them: the simplifier would then prove the check redundant)
    # an n-ary op's identity element (0 for add, 1 for mul): such a constant argument can be dropped
    unit: Any = None
    # returns argument 0 unchanged when that already has the result's shape (argument shape_from)
    same_shape_noop: bool = False
    dims: Callable[[dict, list], tuple | None] | None = None
    # constructors sized by 0-d arguments (``eye(n)``, ``alloc(v, n)``): (attrs, the dim token each
    # argument's value is or None, the arguments' dims) -> the result's dim tokens, so
    # eye(X.shape[1]) has X's dims
    sized_by: Callable[[dict, list, list], tuple | None] | None = None
    equal_dims: Callable[[dict, list], list] | None = None
    inplace: bool = False  # its numpy call takes ``inplace=True`` to write into its first argument
    # ops whose value is a product of their arguments' lengths (``shape_i``, ``count``): (attrs,
    # argument dims) -> the dims multiplied, or None; the engine rewrites such a value into
    # lengths of the graph's inputs (``X.shape[0]``), so it simplifies like a constant does
    dim_product: Callable[[dict, list], list | None] | None = None
    # ---- facts the engine and the rule helpers read instead of naming ops ----
    # sign facts of the result (ops/signs.py): a constant mask, or (argument masks, argument
    # constants, result dtype) -> mask; read by the e-graph analysis and by the guards on terms
    signs: int | Callable[[list, list, str], int] | None = None
    # a zero argument gives a zero result: True for any argument (``mul``, ``dot``), or the
    # positions that do (``neg`` (0,), ``fill`` (1,)); a JVP drops arithmetic on zero tangents so
    zero_out: bool | tuple = ()
    # how the value is rebuilt when the flagged arguments are known zeros (``add`` drops them,
    # ``0 - y`` is ``-y``): (arguments, is-zero flags) -> a Term, or None when it is zero
    without_zeros: Callable[[list, list], Any] | None = None
    cost_kind: str = ""  # one of COST_KINDS (default: from elementwise / group)
    transcendental: bool | None = None  # per-element work is a function call (default: from the numexpr form)
    leaf: bool = False  # an input, shared variable or constant (default: group "leaf")
    constructor: bool = False  # builds an array from lengths or fill values alone (default: group "constructor"); folded without arguments
    reduction: bool = False  # reduces over its ``axis`` attribute (default: group "reduction"); its dims follow from the axes and it batches by shifting them
    # its derivative rules change gradients on purpose (zero_grad, grad_clip): conventions, not
    # derivatives of its value, so the rule checker does not compare them with one (default: group "gradient")
    gradient_convention: bool = False
    # how the SymPy check turns its real sample symbols into the op's SymPy arguments (one entry
    # per argument, None: the symbol itself; switch's condition is ``c > 0``), and the condition
    # on the sample points (argument values in order) beyond being finite and real
    sympy_args: tuple = ()
    sample_domain: Callable[..., bool] | None = None
    # whether a term of this op is an identity matrix (the guard ``is_identity``), read from its attributes and type
    identity: Callable[[Any], bool] | None = None
    # ops whose derivative is built in Python rather than read from a rule (``scan``: its derivative
    # is another loop). pullback(sibling terms, their cotangents or None, which arguments' adjoints
    # are wanted) -> the shared arguments' adjoints; pushforward(term, argument tangents or None,
    # memo) -> the term's tangent
    pullback: Callable[[list, list, list], list] | None = None
    pushforward: Callable[[Any, list, dict], Any] | None = None
    # how a term of this op is rebuilt on a batch along a new leading axis (ad.vectorize reads
    # it for ops outside its own table): (term, argument terms, which are batched, batch size) -> the
    # batched term, or None when the op cannot be batched so
    batch: Callable[[Any, list, list, Any], Any] | None = None
    # one result of a computation that gives several (eigh: eigenvalues, eigenvectors): (key,
    # position, count, (argnames, attrs) -> source of the whole computation, a tuple). Terms of
    # ops with the same key, arguments and attributes are siblings: when more than one is used the
    # lowering computes them with one call, else each with its own emit
    joint: tuple | None = None
    # sparse matrices (terms.SparseType): whether the op takes them as arguments; a dense op that
    # does not gets ``on_sparse(args, attrs)`` called instead when given one (its sparse counterpart,
    # set by ops/sparse.py), and without it ``apply`` refuses the sparse argument naming the op
    takes_sparse: bool = False
    on_sparse: Callable[[tuple, dict], Any] | None = None
    # ---- how the printers (printing/) write it; without any of these: ``name(args, attr=value)`` ----
    # the infix text view (``x - y``) and the LaTeX view (``\frac{x}{y}``) of its terms: see Form
    text_form: Form | None = None
    latex_form: Form | None = None
    # a LaTeX function (``\exp``) written before the parenthesised arguments when no attribute is
    # shown; a reduction's operator (``\sum``), written ``\sum_{axis=0} x``
    latex_name: str = ""
    print_kind: str = ""  # one of PRINT_KINDS: a structure the printers write by code of their own (default: "loop" for group "loop")
    cheap: bool = False  # a wrapper cheap enough to repeat around a leaf rather than bind to a name when shared

    def __post_init__(self) -> None:
        self.leaf = self.leaf or self.group == "leaf"
        self.constructor = self.constructor or self.group == "constructor"
        self.reduction = self.reduction or self.group == "reduction"
        self.gradient_convention = self.gradient_convention or self.group == "gradient"
        if not self.cost_kind:
            self.cost_kind = "elementwise" if self.elementwise else _COST_BY_GROUP.get(self.group, "generic")
        if self.cost_kind not in COST_KINDS:
            raise ValueError(f"op {self.name}: cost_kind must be one of {COST_KINDS}, got {self.cost_kind!r}")
        if self.transcendental is None:
            self.transcendental = _transcendental(self.numexpr)
        if not self.memory:
            fresh = self.emit != "{0}" and (self.elementwise or self.group in _FRESH_GROUPS)
            self.memory = "fresh" if fresh else "view"
        if not self.print_kind:
            self.print_kind = _KIND_BY_GROUP.get(self.group, "")
        if self.print_kind not in PRINT_KINDS:
            raise ValueError(f"op {self.name}: print_kind must be one of {PRINT_KINDS}, got {self.print_kind!r}")
        if self.memory not in ("fresh", "view"):
            raise ValueError(f"op {self.name}: memory must be 'fresh' or 'view', got {self.memory!r}")
        if self.shape_from is None and self.elementwise and self.arity == 1:
            self.shape_from = 0
        if self.runtime_shape is None and self.shape_from is not None:
            src = self.shape_from
            self.runtime_shape = lambda shapes, attrs: None if attrs.get("batch") else tuple(shapes[src])
        if self.dims is None:
            if self.shape_from is not None:
                self.dims = dims.like_dims(self.shape_from)
            elif self.elementwise:
                self.dims = dims.elementwise_dims
            elif self.reduction:
                self.dims = dims.reduction_dims
        if self.equal_dims is None and self.elementwise:
            self.equal_dims = dims.elementwise_equal

    def arity_ok(self, n: int) -> bool:
        """Whether ``n`` arguments suit this op."""
        if isinstance(self.arity, int):
            return n == self.arity
        lo, hi = self.arity
        return n >= lo and (hi is None or n <= hi)

    def canonicalize(self, args: tuple, attrs: dict) -> Any:
        """Check arity and attribute names, fill defaults; flatten and sort n-ary ops."""
        unknown = set(attrs) - set(self.attrs)
        if unknown:
            raise RewriteDiffTypeError(f"{self.name}: unknown attribute(s) {sorted(unknown)}; it takes {sorted(self.attrs) or 'none'}")
        full = dict(self.attrs)
        full.update(attrs)
        if self.nary:
            # commutativity is a canonical order; nested sums are kept, so every term the
            # user built stays addressable (consider_constant, known_grads); the engine
            # flattens associativity in its own canonical form
            if len(args) == 1:
                return args[0]
            args = tuple(sorted(args, key=lambda t: t.uid))
        if not self.arity_ok(len(args)):
            raise ArityError(f"{self.name}: takes {self.arity_text()} argument(s), got {len(args)}")
        if self.prepare is not None:
            full = self.prepare(args, full)
        return args, full

    def arity_text(self) -> str:
        """Human-readable arity."""
        if isinstance(self.arity, int):
            return str(self.arity)
        lo, hi = self.arity
        return f"at least {lo}" if hi is None else f"{lo} to {hi}"

    def check(self, args: tuple, attrs: dict) -> Any:
        """Infer the output type (raising a clear error on bad input)."""
        return self.infer(args, attrs)

    def source(self, argnames: list[str], attrs: dict) -> str | None:
        """Python source computing this op on the named arrays, or None to call ``impl``."""
        if self.emit is None:
            return None
        if callable(self.emit):
            return self.emit(argnames, attrs)
        return self.emit.format(*argnames, **attrs)


REGISTRY: dict[str, OpDef] = {}


def register(opdef: OpDef) -> OpDef:
    """Add an op to the registry (a name may be registered once)."""
    if opdef.name in REGISTRY:
        raise ValueError(f"op {opdef.name!r} is already registered")
    REGISTRY[opdef.name] = opdef
    return opdef


def unregister(name: str) -> None:
    """Remove a user-defined op (tests and notebooks redefine ops)."""
    REGISTRY.pop(name, None)


def get_op(name: str) -> OpDef:
    """The OpDef for ``name``; unknown names raise UnknownOpError."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownOpError(f"unknown op {name!r}") from None


terms.op_lookup = runtime.op_lookup = get_op  # terms are typed, and stand-ins shaped, by this table
