"""Symbolic dims: tokens naming run-time lengths, and how ops map their arguments' dims to their result's.

The engine (``engine/analysis.py``) proves shapes equal through these tokens; each op says how
its result's dims follow from its arguments' in ``OpDef.dims`` (defaults: elementwise ops
broadcast, reductions drop or keep axes, ops with ``shape_from`` take that argument's dims) and
which of its arguments' dims must be equal for it to run at all in ``OpDef.equal_dims``.
"""

from __future__ import annotations

from typing import Any

# A dim token is an int (known statically), ("d", leaf_uid, axis) (the run-time length of that
# axis of that leaf), ("off", token, k) with k > 0 (max(0, n - k) where n is the length the inner
# token names), ("min", token, k) with k >= 0 (min(n, k)) or None (unknown). Two equal non-None
# tokens are equal at run time.
#
# Slices. numpy clips a slice's bounds, so the length of x[a:b] (step 1) on a dim of length n is
# max(0, stop' - start') with start' and stop' the clipped bounds. For a start a >= 0 (or None, 0)
# and a stop -b with b > 0 (or None, b = 0): start' = min(a, n), stop' = max(n - b, 0), and the
# length is max(0, n - a - b) for every n >= 0 (if n >= a + b it is n - a - b; otherwise either
# n < a, and stop' <= n = start', or a <= n < a + b, and stop' = max(n - b, 0) < a = start' when
# a > 0, or stop' = 0 = start' when a = 0). So x[1:] and x[:-1] both have length max(0, n - 1):
# the token ("off", n, 1), whatever n is, with no assumption that the forward computation is
# valid. Offsets compose: max(0, max(0, n - a) - b) = max(0, n - a - b). A start -k (k > 0) with
# no stop, or no start and a stop k >= 0, gives min(n, k) for every n. Any other slice (a step
# other than 1, mixed-sign bounds) gets no token.


def leaf_dims(uid: int, shape: tuple) -> tuple:
    """Dim tokens of a leaf: its static dims, or a token naming the leaf's axis."""
    return tuple(d if d is not None else ("d", uid, i) for i, d in enumerate(shape))


def offset_dim(tok: Any, k: int) -> Any:
    """The token of max(0, n - k) for the length n that ``tok`` names (k >= 0)."""
    if tok is None or k == 0:
        return tok
    if isinstance(tok, int):
        return max(0, tok - k)
    if tok[0] == "off":
        return ("off", tok[1], tok[2] + k)
    return ("off", tok, k)


def slice_dim(tok: Any, start: Any, stop: Any, step: Any) -> Any:
    """The token of the length of a basic slice ``[start:stop:step]`` of a dim named ``tok`` (None if unknown)."""
    if tok is None or step not in (None, 1) or isinstance(start, tuple) or isinstance(stop, tuple):
        return None  # a bound read at run time: no token
    if isinstance(tok, int):
        return len(range(*slice(start, stop, step).indices(tok)))
    a = 0 if start is None else start
    if a >= 0 and (stop is None or stop < 0):
        return offset_dim(tok, a + (0 if stop is None else -stop))
    if stop is None and a < 0:
        return ("min", tok, -a)
    if start is None and stop >= 0:
        return ("min", tok, stop)
    return None


def subtensor_dims(idx: tuple, src: tuple) -> tuple | None:
    """Dim tokens of ``x[idx]`` for basic indexing (ints, slices, None); None with index arrays."""
    out: list = []
    dim = 0
    for e in idx:
        kind = e[0]
        if kind == "none":
            out.append(1)
        elif kind == "int":
            dim += 1
        elif kind == "slice":
            if dim >= len(src):
                return None
            out.append(slice_dim(src[dim], *e[1:]))
            dim += 1
        else:
            return None
    return (*out, *src[dim:])


def broadcast_dims(shapes: list[tuple]) -> tuple | None:
    """Dim tokens after numpy broadcasting (None where the result cannot be named)."""
    first = None
    for s in shapes:
        if s:
            if first is None:
                first = s
            elif s != first:
                break
    else:
        # every argument of the same dims (0-d ones aside): broadcasting keeps them as they are
        return () if first is None else tuple(first)
    nd = max((len(s) for s in shapes), default=0)
    out: list = []
    for i in range(nd):
        seen: list = []
        for s in shapes:
            j = i - (nd - len(s))
            if j < 0:
                continue
            d = s[j]
            if d == 1:
                continue
            if d not in seen:
                seen.append(d)
        if not seen:
            out.append(1)
        elif len(seen) == 1:
            out.append(seen[0])
        else:
            ints = [d for d in seen if isinstance(d, int)]
            if len(set(ints)) == 1:
                out.append(ints[0])
            elif ints or any(d is None for d in seen):
                out.append(None)
            else:
                # lengths named by different tokens broadcast to one length (or fail at run time):
                # name it by the set of tokens, so every broadcast of the same dims shares the name
                members: set = set()
                for d in seen:
                    members.update(d[1:] if isinstance(d, tuple) and d and d[0] == "bcast" else (d,))
                out.append(next(iter(members)) if len(members) == 1 else ("bcast", *sorted(members, key=repr)))
    return tuple(out)


def product_dims(a: tuple, b: tuple) -> tuple | None:
    """Dim tokens of ``dot(a, b)`` / ``matmul(a, b)`` for operands of at most two dims (None otherwise)."""
    if len(a) > 2 or len(b) > 2 or not a or not b:
        return None
    return (*a[:-1], *b[:-2], *b[-1:]) if len(b) == 2 else tuple(a[:-1])


def merge_dims(a: tuple, b: tuple) -> tuple:
    """Combine two true descriptions of the same shape, keeping the more informative token per dim."""
    out = []
    for x, y in zip(a, b):
        if isinstance(x, int):
            out.append(x)
        elif isinstance(y, int):
            out.append(y)
        elif x is None:
            out.append(y)
        elif y is None:
            out.append(x)
        else:
            out.append(min(x, y, key=repr))
    return tuple(out)


# ---- per-op rules (OpDef.dims: attrs, argument dims -> result dims or None) ---------------------
def like_dims(src: int) -> Any:
    """The dims of argument ``src``; batched (attr ``batch`` = b), argument 0's first b dims before them."""

    def dims(attrs: dict, child: list) -> tuple | None:
        b = attrs.get("batch", 0)
        if not b:
            return child[src] if src < len(child) else None
        if len(child) != 2 or child[0] is None or child[1] is None:
            return None
        return tuple(child[0][:b]) + tuple(child[1])

    return dims


def elementwise_dims(attrs: dict, child: list) -> tuple | None:
    """numpy broadcasting of all the arguments."""
    return broadcast_dims(child) if child and all(c is not None for c in child) else None


def elementwise_equal(attrs: dict, child: list) -> list[tuple]:
    """Broadcasting never stretches a dim of unknown length (PyTensor's contract): aligned dims other than 1 are equal.

    Only a dim declared of length 1 broadcasts; the compiled function checks these equalities on
    its inputs (``lower_numpy``), so a run-time length 1 in an undeclared dim is an error, never
    a silently broadcast value.
    """
    shapes = [c for c in child if c]
    if len(shapes) < 2:
        return []
    nd = max(len(s) for s in shapes)
    pairs: list[tuple] = []
    for i in range(nd):
        first = None
        for s in shapes:
            j = i - (nd - len(s))
            if j < 0 or s[j] == 1 or s[j] is None:
                continue
            if first is None:
                first = s[j]
            elif s[j] != first:
                pairs.append((first, s[j]))
    return pairs


def reduction_dims(attrs: dict, child: list) -> tuple | None:
    """Argument 0's dims without the reduced axes (kept as 1 with keepdims)."""
    if not child or child[0] is None:
        return None
    axis, keep, src = attrs.get("axis"), attrs.get("keepdims", False), child[0]
    axes = tuple(range(len(src))) if axis is None else ((axis,) if isinstance(axis, int) else tuple(axis))
    return tuple(1 if i in axes else d for i, d in enumerate(src)) if keep else tuple(d for i, d in enumerate(src) if i not in axes)


def contraction_dims(attrs: dict, child: list) -> tuple | None:
    """``dot`` / ``matmul`` of operands of at most two dims."""
    return product_dims(child[0], child[1]) if len(child) == 2 and all(c is not None for c in child) else None


def contraction_equal(attrs: dict, child: list) -> list[tuple]:
    """A contraction never broadcasts: the last dim of a equals the contracted dim of b."""
    if len(child) == 2 and child[0] and child[1]:
        a, b = child
        return [(a[-1], b[0] if len(b) == 1 else b[-2])]
    return []


def all_equal(attrs: dict, child: list) -> list[tuple]:
    """Arguments 0 and 1 have the same shape, dim for dim (an assertion such as ``specify_shape_like``)."""
    if len(child) == 2 and child[0] and child[1] and len(child[0]) == len(child[1]):
        return list(zip(child[0], child[1]))
    return []


def first_dims(attrs: dict, child: list) -> tuple | None:
    """Argument 0's dims (a scatter into it)."""
    return child[0] if child else None


def index_dims(attrs: dict, child: list) -> tuple | None:
    """Indexing of argument 0 by attr ``idx``: basic, or with integer index arrays (numpy's placement of their broadcast dims)."""
    idx = attrs.get("idx", ())
    if not child or child[0] is None:
        return None
    if not any(e[0] == "adv" for e in idx):
        return subtensor_dims(idx, child[0])
    if any(e[0] == "mask" for e in idx):
        return None
    arrays = [child[1 + e[1]] if 1 + e[1] < len(child) else None for e in idx if e[0] == "adv"]
    if any(a is None for a in arrays):
        return None
    index = broadcast_dims(arrays)
    if index is None:
        return None
    where = [i for i, e in enumerate(idx) if e[0] in ("adv", "int")]
    adjacent = where == list(range(where[0], where[-1] + 1))
    src, out, dim, placed = child[0], [], 0, False
    for e in idx:
        if e[0] in ("adv", "int"):
            if adjacent and not placed:
                out.extend(index)
                placed = True
            dim += 1
        elif e[0] == "none":
            out.append(1)
        else:  # slice
            if dim >= len(src):
                return None
            out.append(slice_dim(src[dim], *e[1:]))
            dim += 1
    out.extend(src[dim:])
    return tuple(out) if adjacent else (*index, *out)


def index_equal(attrs: dict, child: list) -> list[tuple]:
    """The index arrays of one indexing broadcast together: their aligned dims other than 1 are equal."""
    idx = attrs.get("idx", ())
    arrays = [child[1 + e[1]] for e in idx if e[0] == "adv" and 1 + e[1] < len(child)]
    return elementwise_equal(attrs, arrays) if len(arrays) > 1 else []


def pattern_dims(attrs: dict, child: list) -> tuple | None:
    """A dimshuffle by attr ``pattern`` ("x" inserts a broadcastable dim)."""
    if not child or child[0] is None:
        return None
    src, pattern = child[0], attrs.get("pattern", ())
    if all(p == "x" or isinstance(p, int) and p < len(src) for p in pattern):
        return tuple(1 if p == "x" else src[p] for p in pattern)
    return None


def eye_sized(attrs: dict, lengths: list, child: list) -> tuple:
    """eye's dims: n and m static or the lengths its arguments are (m is n when not given)."""
    it = iter(lengths)
    sym = attrs.get("sym", ())
    n = next(it, None) if "n" in sym else attrs.get("n")
    m = next(it, None) if "m" in sym else attrs.get("m")
    return (n, n if m is None and "m" not in sym else m)


def arange_sized(attrs: dict, lengths: list, child: list) -> tuple | None:
    """arange(n) has length n (start 0, step 1)."""
    if attrs.get("sym") == ("stop",) and attrs.get("start") == 0 and attrs.get("step") == 1:
        return (lengths[0],)
    return None


def shape_sized(attrs: dict, lengths: list, child: list) -> tuple:
    """alloc(v, *n) / reshape(x, *n){shape}: the None entries of shape are the lengths of the arguments after the first.

    A -1 entry of a reshape is x's size over the other lengths: a token naming exactly that
    (x's dims and the other lengths), so two reshapes of one x to one shape have equal dims.
    """
    it = iter(lengths[1:])
    out = [next(it, None) if d is None else d for d in attrs.get("shape", ())]
    if -1 in out:
        src = child[0] if child else None
        known = src is not None and None not in src and None not in out
        rest = ("rest", tuple(src), tuple(d for d in out if d != -1)) if known else None
        out = [rest if d == -1 else d for d in out]
    return tuple(out)
