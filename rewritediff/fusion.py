"""Fuse elementwise work: blocked numpy kernels (the default) or numexpr programs.

A *kernel* evaluates a group of elementwise ops in one loop over cache-sized blocks of rows
(axis 0) of its arrays; arguments of lower ndim broadcast against each block whole. Each op is
a numpy ufunc that writes into a block-sized scratch buffer, so intermediate values stay in the
CPU cache, no full-size temporary is allocated, and numpy's own SIMD loops (exp, log, tan,
tanh, division ...) do the work. Small arrays skip the loop and run the same ops as plain numpy
calls.

Why not numexpr alone: single-threaded on the benchmark machine a blocked numpy kernel beat
the equivalent numexpr program at every size from 1e5 elements up (an arithmetic chain on
1e6: numexpr 3.5 ms, kernel 2.6 ms, unfused numpy 7.3 ms), and numexpr's transcendental
functions are 2-4x slower than numpy's (exp of 1e7: 51 ms vs 17 ms), so it could only fuse the
arithmetic between them. numexpr stays available (``fusion="numexpr"``): with many cores its
threads can win on very large arithmetic chains.

Grouping (:func:`kernel_groups`) is greedy in topological order, one open group per shape
class; a node never joins a group that one of its other arguments depends on (the kernel would
need its own output). Shapes that :func:`rewritediff.ops.infer.shape_keys` does not prove
equal are compared at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewritediff.ops import CONST_OP, SUM_OP, get_op
from rewritediff.terms import Term

BLOCK = 16384  # elements per block: 128 KB of float64, so a kernel's few scratch buffers fit in L2
PLAIN_PATH_MAX = 32  # kernels of at most this many ops also get a plain-numpy path for small arrays
MAX_MEMBERS = 256  # ops per kernel: longer chains are split (keeps each generated loop body short)
_KERNEL_DTYPES = ("float64", "bool")
# a ufunc's output is passed as its last positional argument (half the compile time of ``out=``
# for long kernels), except where numpy deprecates that
_KEYWORD_OUT = frozenset({"maximum", "minimum"})


@dataclass(eq=False)
class Kernel:
    """One fused loop: its ops in topological order, external arguments and the members used outside."""

    members: list[Term]
    inputs: list[Term] = field(default_factory=list)
    outputs: list[Term] = field(default_factory=list)
    same_shape: set[int] = field(default_factory=set)  # inputs proven to have the members' shape


def _kernelable(node: Term) -> bool:
    """An elementwise op with a source template on float64/bool arrays; same-ndim arguments must not be stretched (lower-ndim ones may)."""
    opdef = get_op(node.op)
    if node.dtype not in _KERNEL_DTYPES or "dtype" in opdef.attrs or not opdef.elementwise:  # a cast (dtype by attribute) stays a statement
        return False
    if opdef.emit is None:
        return False  # computed by calling its ``impl`` (a user's op): a statement of its own, never a kernel member
    shape = node.static_shape
    if not shape or (None not in shape and int(np.prod(shape)) <= BLOCK):
        return False  # 0-d, or known to be small: plain numpy calls are best
    for a in node.args:
        if a.dtype not in _KERNEL_DTYPES:
            return False
        s = a.static_shape
        if len(s) == len(shape) and 1 in s and any(d == 1 and e != 1 for d, e in zip(s, shape)):
            return False  # stretched along an axis of its own: not a block-for-block operand
    return True


def kernel_groups(order: list[Term], roots: list[Term], keys: dict[int, Any]) -> list[Kernel]:
    """Partition the fusable elementwise nodes of ``order`` into kernels of at least two numpy calls.

    Nodes whose shapes an elementwise op relates (same ndim, no static broadcast) form a shape
    class; each class has one open group that takes every new node of the class, unless one
    of the node's other arguments depends on that group, in which case a new group opens.
    Arguments of one kernel are not proven to have equal shapes: the kernel checks at run time
    and falls back to plain numpy (which broadcasts) when they differ.
    """
    parent: dict[Any, Any] = {}

    def find(k: Any) -> Any:
        while parent.get(k, k) != k:
            parent[k] = parent.get(parent[k], parent[k])
            k = parent[k]
        return k

    fusable = [n for n in order if n.args and _kernelable(n)]
    for n in fusable:
        nd = len(n.static_shape)
        for a in n.args:
            if len(a.static_shape) == nd:
                ra, rn = find(keys[a.uid]), find(keys[n.uid])
                if ra != rn:
                    parent[ra] = rn
    fusable_ids = {n.uid for n in fusable}
    group_of: dict[int, int] = {}
    sizes: list[int] = []  # ops per group
    calls: list[int] = []  # numpy calls per group
    open_group: dict[Any, int] = {}  # shape class -> the group taking its new nodes
    is_open: set[int] = set()
    depends: dict[int, frozenset[int]] = {}  # open groups a node's value depends on
    empty: frozenset[int] = frozenset()
    for node in order:
        dep: set[int] = set()
        for a in node.args:
            d = depends.get(a.uid)
            if d:
                dep |= d
        if dep:
            dep &= is_open
        if node.uid in fusable_ids:
            cls = find(keys[node.uid])
            g = open_group.get(cls)
            if g is None or sizes[g] >= MAX_MEMBERS or any(group_of.get(b.uid) != g and g in depends.get(b.uid, empty) for b in node.args):
                if g is not None:
                    is_open.discard(g)
                g = open_group[cls] = len(sizes)
                sizes.append(0)
                calls.append(0)
                is_open.add(g)
            group_of[node.uid] = g
            sizes[g] += 1
            calls[g] += max(1, len(node.args) - 1)
            dep.add(g)
        if dep:
            depends[node.uid] = frozenset(dep)
    kernels: dict[int, Kernel] = {}
    for node in order:
        g = group_of.get(node.uid)
        if g is not None and calls[g] >= 2:  # two numpy calls or more (an n-ary product of three counts)
            kernels.setdefault(g, Kernel([])).members.append(node)
    member_of = {m.uid: k for k in kernels.values() for m in k.members}
    used_outside: set[int] = {r.uid for r in roots}
    taken: set[tuple[int, int]] = set()  # (kernel, input uid)
    for node in order:
        k = member_of.get(node.uid)
        for a in node.args:
            ka = member_of.get(a.uid)
            if ka is not None and ka is not k:
                used_outside.add(a.uid)
            if k is not None and ka is not k and (id(k), a.uid) not in taken:
                taken.add((id(k), a.uid))
                k.inputs.append(a)
    for k in kernels.values():
        k.outputs = [m for m in k.members if m.uid in used_outside]
        k.same_shape = {a.uid for a in k.inputs if a.ndim and keys[a.uid] == keys[k.members[0].uid]}
    # a kernel that writes out most of its values keeps little in cache and only costs compile time
    return [kernels[g] for g in sorted(kernels) if 2 * len(kernels[g].outputs) <= len(kernels[g].members) + 1]


def schedule(order: list[Term], kernels: list[Kernel]) -> list[Term | Kernel]:
    """``order`` with each kernel's members replaced by the kernel, placed after all its inputs.

    A kernel runs where its first member would, unless an input computed later is needed
    first; depth-first with an explicit stack (graphs can be 10,000 deep).
    """
    unit_of: dict[int, Kernel] = {m.uid: k for k in kernels for m in k.members}
    done: set[int] = set()
    out: list[Term | Kernel] = []

    def unit(t: Term) -> Term | Kernel:
        return unit_of.get(t.uid, t)

    def deps(u: Term | Kernel) -> tuple:
        return tuple(u.inputs) if isinstance(u, Kernel) else u.args

    for node in order:
        start = unit(node)
        if id(start) in done:
            continue
        stack = [(start, iter(deps(start)))]
        while stack:
            cur, pending = stack[-1]
            for d in pending:
                du = unit(d)
                if id(du) not in done:
                    stack.append((du, iter(deps(du))))
                    break
            else:
                stack.pop()
                if id(cur) not in done:
                    done.add(id(cur))
                    out.append(cur)
    return out


def kernel_source(kernel: Kernel, fname: str, constants: dict[int, str], pools: str | None) -> str:
    """The source of ``def fname(v0, v1, ...)`` computing the kernel's outputs (a tuple if several).

    ``constants`` names the constant arguments already in the closure's namespace; they are
    read from there instead of being passed. ``pools`` names a list in that namespace whose
    item ``i`` may hold a recycled buffer for output ``i`` (see :func:`rewritediff.runtime.take`).
    """
    params = [a for a in kernel.inputs if a.uid not in constants]
    arg_name = {a.uid: f"v{i}" for i, a in enumerate(params)}
    arg_name.update({uid: name for uid, name in constants.items()})
    ndim = kernel.members[0].ndim
    full = [a for a in kernel.inputs if a.ndim == ndim]  # sliced block by block (constants too)
    lower = [a for a in kernel.inputs if 0 < a.ndim < ndim]  # passed whole: they broadcast along the trailing axes
    first = arg_name[full[0].uid]
    out_index = {m.uid: i for i, m in enumerate(kernel.outputs)}
    ops = sorted({m.op for m in kernel.members}, key=lambda s: (s != SUM_OP, s))
    lines = [f"def {fname}({', '.join(arg_name[a.uid] for a in params)}):"]
    lines.append(
        f'    """{len(kernel.members)} fused elementwise ops ({", ".join(ops)}) giving {len(kernel.outputs)} array(s); each ufunc writes into its last argument."""'
    )
    # small arrays, or shapes that broadcast at run time: the ops as plain numpy calls
    unproven = [a for a in full[1:] if a.uid not in kernel.same_shape or full[0].uid not in kernel.same_shape]
    differ = "".join(f" or {arg_name[a.uid]}.shape != {first}.shape" for a in unproven)
    if lower:
        differ += f" or np.broadcast_shapes({first}.shape, {', '.join(f'{arg_name[a.uid]}.shape' for a in lower)}) != {first}.shape"
    # (a long kernel skips it for small arrays: one pass of its loop does as well, in half the code)
    condition = f"{first}.size <= {BLOCK}{differ}" if len(kernel.members) <= PLAIN_PATH_MAX else differ[4:]
    if condition:
        lines.append(f"    if {condition}:")
        small: dict[int, str] = {}
        for k, m in enumerate(kernel.members):
            argnames = [small.get(a.uid) or arg_name[a.uid] for a in m.args]
            small[m.uid] = f"a{k}"
            lines.append(f"        a{k} = {get_op(m.op).source(argnames, m.attr_dict)}")
        lines.append(f"        return {_commas(small[m.uid] for m in kernel.outputs)}")
    # large arrays: one pass over blocks of rows (axis 0), every op writing into a block-sized buffer
    lines.append(f"    shape = {first}.shape")
    lines.append("    n = shape[0]")
    lines.append(f"    r = max(1, min(n, {BLOCK} * n // max(1, {first}.size)))  # rows per block")
    # (one statement per kind of buffer, names only: long kernels compile in half the time)
    k = len(kernel.outputs)
    outs = _commas(f"o{i}" for i in range(k)) + ("," if k == 1 else "")
    kinds = sorted({m.dtype for m in kernel.outputs})
    dtypes = f"(np.{kinds[0]},) * {k}" if len(kinds) == 1 else f"({', '.join(f'np.{m.dtype}' for m in kernel.outputs)})"
    if pools:
        lines.append(f"    {outs} = rt.take({pools}, shape, {dtypes})")
    elif k <= 3:
        lines.append(f"    {_commas(f'o{i}' for i in range(k))} = {_commas(f'np.empty(shape, dtype=np.{m.dtype})' for m in kernel.outputs)}")
    else:
        lines.append(f"    {outs} = [np.empty(shape, dtype=dt) for dt in {dtypes}]")
    block = {a.uid: f"b{i}" for i, a in enumerate(full)}
    before, body, scratch = _block_body(kernel, arg_name, block, out_index)
    lines.extend(f"    {line}" for line in before)
    scratch_by_dtype: dict[str, list[str]] = {}
    for name, dt in scratch:
        scratch_by_dtype.setdefault(dt, []).append(name)
    for d, (dt, names) in enumerate(sorted(scratch_by_dtype.items())):
        lines.append(f"    S{d} = np.empty(({len(names)}, r) + shape[1:], dtype=np.{dt})  # scratch rows")
        lines.append(f"    {_commas(names)}{',' if len(names) == 1 else ''} = S{d}")
    lines.append("    for i in range(0, n, r):")
    lines.append("        j = i + r")
    views = [(block[a.uid], f"{arg_name[a.uid]}[i:j]") for a in full]
    if k <= 3:
        views += [(f"p{i}", f"o{i}[i:j]") for i in range(k)]
    else:
        lines.append(f"        {_commas(f'p{i}' for i in range(k))} = [o[i:j] for o in ({outs})]")
    lines.append(f"        {_commas(v for v, _ in views)} = {_commas(s for _, s in views)}")
    if scratch:
        lines.append("        if j > n:")
        for d, (_, names) in enumerate(sorted(scratch_by_dtype.items())):
            lines.append(f"            {_commas(names)}{',' if len(names) == 1 else ''} = S{d}[:, : n - i]")
    lines.extend(f"        {line}" for line in body)
    lines.append(f"    return {_commas(f'o{i}' for i in range(len(kernel.outputs)))}")
    return "\n".join(lines) + "\n"


def _commas(items: Any) -> str:
    """``a, b, c`` (a tuple, or one name, as an assignment target or a return value)."""
    return ", ".join(items)


def _block_body(
    kernel: Kernel, arg_name: dict[int, str], block: dict[int, str], out_index: dict[int, int]
) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """Statements before the loop, statements of one block, and the scratch buffers (name, dtype) they use.

    A ufunc writes into its output's block, or into a free scratch buffer; a buffer is free
    again after its value's last use (for a one- or two-argument ufunc already at that use:
    writing in place over an argument is safe elementwise). An n-ary sum or product takes in
    the single-use sums (products) among its arguments, and the part of it that only involves
    arguments passed whole (0-d, or of lower ndim) is computed once, before the loop: a
    product of two vectors and a matrix block is one pass over the block, not two.
    """
    members = kernel.members
    inside = {m.uid for m in members}
    uses: dict[int, int] = {}
    for m in members:
        for a in m.args:
            if a.uid in inside:
                uses[a.uid] = uses.get(a.uid, 0) + 1
    operands: dict[int, list[Term]] = {}
    spliced: set[int] = set()
    for m in members:
        args = list(m.args)
        if get_op(m.op).nary:
            flat: list[Term] = []
            for a in args:
                if a.uid in operands and a.op == m.op and a.dtype == m.dtype and uses[a.uid] == 1 and a.uid not in out_index:
                    flat.extend(operands[a.uid])
                    spliced.add(a.uid)
                else:
                    flat.append(a)
            args = flat
        operands[m.uid] = args
    emitted = [m for m in members if m.uid not in spliced]
    last: dict[int, int] = {}
    for k, m in enumerate(emitted):
        for a in operands[m.uid]:
            if a.uid in inside:
                last[a.uid] = k
    value: dict[int, str] = {}
    scratch: list[tuple[str, str]] = []
    scratch_dtype: dict[str, str] = {}
    free: dict[str, list[str]] = {}
    holder: dict[int, str] = {}  # member uid -> scratch it occupies
    before: list[str] = []
    body: list[str] = []

    def release(k: int, args: list[Term]) -> None:
        for a in args:
            s = holder.get(a.uid)
            if s is not None and last.get(a.uid) == k:
                del holder[a.uid]
                free.setdefault(scratch_dtype[s], []).append(s)
                free[scratch_dtype[s]].sort(key=lambda n: int(n[1:]))

    for k, m in enumerate(emitted):
        opdef = get_op(m.op)
        args = operands[m.uid]
        argnames = [value.get(a.uid) or block.get(a.uid) or arg_name[a.uid] for a in args]
        whole = [i for i, a in enumerate(args) if a.uid not in inside and a.uid not in block]
        if opdef.nary and len(whole) >= 2:
            before.append(f"q{k} = {opdef.source([argnames[i] for i in whole], m.attr_dict)}")
            argnames = [f"q{k}"] + [n for i, n in enumerate(argnames) if i not in whole]
        simple = opdef.ufunc is not None and len(argnames) <= 2
        if simple:
            release(k, args)
        if m.uid in out_index:
            target = f"p{out_index[m.uid]}"
        elif opdef.ufunc is not None:
            pool = free.get(m.dtype)
            if pool:
                target = pool.pop(0)
            else:
                target = f"s{len(scratch)}"
                scratch.append((target, m.dtype))
                scratch_dtype[target] = m.dtype
            holder[m.uid] = target
        else:
            target = None
        if opdef.ufunc is not None:
            out = f"out={target}" if opdef.ufunc in _KEYWORD_OUT else target
            body.append(f"np.{opdef.ufunc}({', '.join(argnames[:2])}, {out})")
            for extra in argnames[2:]:  # n-ary add / mul: a chain into the same buffer
                body.append(f"np.{opdef.ufunc}({target}, {extra}, {out})")
            value[m.uid] = target
        else:
            src = opdef.source(argnames, m.attr_dict)
            if target is None:
                value[m.uid] = f"e{k}"
                body.append(f"e{k} = {src}")
            else:
                body.append(f"{target}[...] = {src}")
                value[m.uid] = target
        if not simple:
            release(k, args)
    return before, body, scratch


# ---- numexpr (fusion="numexpr") ----------------------------------------------------------------
_FUSABLE_DTYPES = ("float64", "bool")
_NE_MAX_INPUTS = 24
_NE_MAX_OPS = 64  # numexpr parses its expression recursively: keep each one shallow
_NE_CACHE: dict[tuple, Any] = {}  # precompiled numexpr programs by (expression, signature); they hold no state  # numexpr takes at most 32 operands


def _ne_logical(numexpr: Any) -> bool:
    """A numexpr form of ``&``, ``|`` or ``~``: booleans in, a boolean out."""
    return isinstance(numexpr, str) and any(c in numexpr for c in "&|~")


def _fusable(node: Term) -> bool:
    """An op numexpr computes with numpy's result dtype: float64 arithmetic and comparisons, logic on booleans, where.

    numexpr's own rules differ on booleans (``abs`` of a boolean is float32 there, ``~`` of a
    float fails), so booleans go in only where they are conditions or logical operands.
    """
    opdef = get_op(node.op)
    if not opdef.elementwise or opdef.numexpr is None:
        return False
    dts = [a.dtype for a in node.args]
    if _ne_logical(opdef.numexpr):
        return all(d == "bool" for d in dts)
    if isinstance(opdef.numexpr, str) and opdef.numexpr.startswith("where({0},"):  # a condition as argument 0 (switch)
        return dts[0] == "bool" and dts[1] == dts[2] == node.dtype == "float64"
    return node.dtype in _FUSABLE_DTYPES and all(d == "float64" for d in dts)


def numexpr_groups(order: list[Term], roots: list[Term]) -> dict[int, list[Term]]:
    """Maximal elementwise trees (members used once, inside the tree) worth one numexpr call; keyed by root uid."""
    consumers: dict[int, int] = {}
    for node in order:
        for a in node.args:
            consumers[a.uid] = consumers.get(a.uid, 0) + 1
    for r in roots:
        consumers[r.uid] = consumers.get(r.uid, 0) + 2
    members: dict[int, list[Term]] = {}
    params: dict[int, set[int]] = {}
    for node in order:
        if not node.args or len(node.args) > _NE_MAX_INPUTS or not _fusable(node):
            continue
        group: list[Term] = []
        inputs: set[int] = set()
        for a in node.args:
            if (
                a.uid in members
                and consumers.get(a.uid, 0) == 1
                and len(inputs | params[a.uid]) <= _NE_MAX_INPUTS
                and len(group) + len(members[a.uid]) < _NE_MAX_OPS
            ):
                group.extend(members.pop(a.uid))
                inputs |= params.pop(a.uid)
            else:
                inputs.add(a.uid)
        group.append(node)
        members[node.uid] = group
        params[node.uid] = inputs
    return {uid: g for uid, g in members.items() if len(g) >= 2}


def _ne_literal(t: Term) -> str | None:
    """A numexpr literal for a finite 0-d float constant (None if it must be passed in)."""
    if t.op == CONST_OP and t.ndim == 0 and t.dtype == "float64":
        v = float(t.value)
        if np.isfinite(v) and v != 0.0:
            return repr(v)
    return None


def numexpr_call(group: list[Term], names: dict[int, str], namespace: dict, tname: str) -> tuple[str, list[int]]:
    """Compile a fused elementwise tree into one precompiled numexpr call; returns (source, argument uids)."""
    import numexpr

    inside = {m.uid for m in group}
    text: dict[int, str] = {}
    params: list[Term] = []
    for m in group:
        parts = []
        for a in m.args:
            if a.uid in inside:
                parts.append(text[a.uid])
                continue
            lit = _ne_literal(a)
            if lit is not None:
                parts.append(lit)
                continue
            if all(p is not a for p in params):
                params.append(a)
            parts.append(f"v{next(i for i, p in enumerate(params) if p is a)}")
        tmpl = get_op(m.op).numexpr
        text[m.uid] = tmpl(parts) if callable(tmpl) else tmpl.format(*parts)
    expr = text[group[-1].uid]
    signature = [(f"v{i}", bool if p.dtype == "bool" else np.dtype(p.dtype).type) for i, p in enumerate(params)]
    fname = f"_ne_{tname}"
    key = (expr, tuple((n, t.__name__) for n, t in signature))
    compiled = _NE_CACHE.get(key)
    if compiled is None:
        if len(_NE_CACHE) >= 4096:
            _NE_CACHE.clear()
        compiled = _NE_CACHE[key] = numexpr.NumExpr(expr, signature=signature)
    namespace[fname] = compiled
    namespace.setdefault("_ne_text", {})[fname] = expr
    args = ", ".join(names[p.uid] for p in params)
    return f"{fname}({args})  # {expr}", [p.uid for p in params]
