"""Compile a term DAG into one generated Python closure over numpy; the source stays readable.

The function body is the DAG in topological order, one assignment per distinct non-leaf
term (so shared subterms are computed once), constants hoisted into the closure, dead
temporaries deleted after their last use. ``f.source`` shows the code.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from rewritediff import runtime as rt
from rewritediff.errors import CallError, RewriteDiffTypeError
from rewritediff.fusion import Kernel, kernel_groups, kernel_source, numexpr_call, numexpr_groups, schedule
from rewritediff.ops import CONST_OP, INPUT_OP, LOOP_OP, SHARED_OP, STAND_IN_OP, get_op
from rewritediff.ops.infer import shape_keys
from rewritediff.ops.scan import loop_source
from rewritediff.ops.sparse import check_sparse_arg
from rewritediff.shapecheck import broadcast_error, dim_checks
from rewritediff.terms import SparseType, TensorType, Term, apply, floatX, inputs_of, is_sparse, toposort


def _check_arg(value: Any, var: Term, pos: int, allow_downcast: bool | None = None) -> np.ndarray:
    """Convert and validate one call argument against its variable's type (PyTensor's casting rules).

    An ndarray of another dtype is taken only when the input's dtype holds every value of the
    data's (``np.can_cast(..., "safe")``: int8 or float32 data into float64, not float64 into
    float32 nor int64 into float32), whatever its values. Anything else (Python scalars, lists,
    numpy scalars) is converted and taken when the conversion gives back the same values (NaN
    for NaN): ``0.5`` or ``[1, 2]`` into float32, not ``0.1`` nor ``1e300``. With
    ``allow_downcast`` every numeric value is cast; with None (the default) a Python float
    into a floatX input is cast too, as PyTensor does.
    """

    ttype = var.type
    if isinstance(ttype, SparseType):
        return check_sparse_arg(value, var, pos, allow_downcast)
    if type(value).__module__.startswith("scipy.sparse"):
        raise CallError(
            f"argument {pos} ({var!r}): got a scipy.sparse matrix for a dense input (type {ttype}); declare the input with "
            "rd.sparse.csr_matrix / csc_matrix, or pass its .toarray()"
        )
    try:
        arr = np.asarray(value)
    except Exception as exc:  # pragma: no cover - numpy raises many kinds
        raise CallError(f"argument {pos} ({var!r}): cannot convert {type(value).__name__} to an array: {exc}") from None
    if arr.dtype.name != ttype.dtype:
        if arr.dtype.kind not in "biuf":
            raise CallError(f"argument {pos} ({var!r}): expected {ttype.dtype}, got {arr.dtype.name} data")
        if isinstance(value, np.ndarray) and not allow_downcast:
            if not np.can_cast(arr.dtype, ttype.dtype, casting="safe"):
                raise CallError(
                    f"argument {pos} ({var!r}): expected {ttype.dtype}, got {arr.dtype.name} data, which {ttype.dtype} cannot "
                    f"hold without risking a loss of precision; cast it (.astype({ttype.dtype!r})) or compile with "
                    "rd.function(..., allow_input_downcast=True)"
                )
            arr = arr.astype(ttype.dtype)
        else:
            try:
                with np.errstate(all="ignore"):
                    converted = arr.astype(ttype.dtype)
                    same = allow_downcast or (allow_downcast is None and isinstance(value, float | np.floating) and ttype.dtype == floatX)
                    if not same:
                        back = converted.astype(arr.dtype)
                        equal = (converted == arr) & (back == arr)
                        if arr.dtype.kind == "f" and converted.dtype.kind == "f":
                            equal |= np.isnan(arr) & np.isnan(converted)
                        same = bool(np.all(equal))
            except OverflowError as exc:
                raise CallError(f"argument {pos} ({var!r}): expected {ttype.dtype}, got {value!r}: {exc}") from None
            if not same:
                text = repr(value)
                text = text if len(text) <= 80 else text[:75] + "(...)"
                raise CallError(
                    f"argument {pos} ({var!r}): expected {ttype.dtype}, got {arr.dtype.name} data {text} that {ttype.dtype} "
                    f"cannot hold exactly (it would become {np.array2string(converted.astype(arr.dtype), threshold=8, floatmode='unique')}); cast it "
                    f"(np.asarray(..., dtype={ttype.dtype!r})) or compile with rd.function(..., allow_input_downcast=True)"
                )
            arr = converted
    if arr.ndim != ttype.ndim:
        raise CallError(f"argument {pos} ({var!r}): expected ndim {ttype.ndim} (type {ttype}), got ndim {arr.ndim} (shape {arr.shape})")
    for d_static, d in zip(ttype.shape, arr.shape):
        if d_static is not None and d_static != d:
            raise CallError(f"argument {pos} ({var!r}): expected shape {ttype}, got {arr.shape}")
    return arr


_GENERATED = re.compile(r"(t|c|s|in)\d+")
_TEMP = re.compile(r"t\d+")


def _ident(name: str | None) -> str | None:
    """The variable's own name as a parameter, unless it clashes with Python or the generated names."""
    if (
        name
        and name.isidentifier()
        and not keyword.iskeyword(name)
        and name not in ("np", "rt", "compiled")
        and not name.startswith("_")
        and not _GENERATED.fullmatch(name)
    ):
        return name
    return None


def lower(
    inputs: list[Term],
    outputs: list[Term],
    updates: list[tuple[Term, Term]],
    fusion: str = "kernels",
    contract: Sequence[Term] = (),
    allow_input_downcast: bool | None = None,
    finite_math: bool = True,
) -> tuple[str, dict]:
    """Generate the closure's source and namespace for outputs (and update values); see :mod:`rewritediff.fusion`.

    ``contract``: the graph whose dim equalities the function checks on entry (the unsimplified
    outputs; see :mod:`rewritediff.shapecheck`). ``allow_input_downcast``: see :func:`function`.
    ``finite_math``: how the bodies of loops are compiled (as the function itself).
    """
    roots = list(outputs) + [v for _, v in updates]
    order = toposort(roots)
    names: dict[int, str] = {}
    namespace: dict[str, Any] = {"np": np, "rt": rt, "_check": _check_arg, "_ndarray": np.ndarray, "_downcast": allow_input_downcast}
    used: set[str] = set()
    params = []
    for i, var in enumerate(inputs):
        name = _ident(var.name)
        if name is None or name in used:
            name = f"in{i}"
        used.add(name)
        names[var.uid] = name
        params.append(name)
    body: list[str] = []
    for i, (var, name) in enumerate(zip(inputs, params)):
        namespace[f"_in{i}"] = var
        namespace[f"_dt{i}"] = np.dtype(var.dtype)
        static = "".join(f" or {name}.shape[{k}] != {d}" for k, d in enumerate(var.static_shape) if d is not None)
        if isinstance(var.type, SparseType):  # a scipy matrix: checked on every call
            body.append(f"{name} = _check({name}, _in{i}, {i}, _downcast)")
            continue
        # fast path: an ndarray of the right dtype, ndim and static dims is taken as it is
        body.append(f"if type({name}) is not _ndarray or {name}.dtype != _dt{i} or {name}.ndim != {var.ndim}{static}:")
        body.append(f"    {name} = _check({name}, _in{i}, {i}, _downcast)")
    body.extend(_contract_checks(list(contract), names, namespace))
    namespace["_n_entry"] = len(body)  # the argument checks f.trust_input skips
    n_tmp = n_const = n_shared = n_loops = 0
    keys = shape_keys(order)
    kernels = kernel_groups(order, roots, keys) if fusion == "kernels" else []
    groups = numexpr_groups(order, roots) if fusion == "numexpr" else {}
    absorbed = {m.uid for members in groups.values() for m in members[:-1]}
    kernel_defs: list[tuple[Kernel, str, dict[int, str]]] = []
    stmts: list[tuple[Term, str, list[int], list[Term], bool]] = []  # (node, line, argument uids, results, fused)
    joint = _joint_siblings(order)
    for item in schedule(order, kernels):
        if isinstance(item, Kernel):
            fname = f"_k{len(kernel_defs)}"
            consts = {a.uid: names[a.uid] for a in item.inputs if a.op == CONST_OP}
            kernel_defs.append((item, fname, consts))
            outnames = []
            for o in item.outputs:
                names[o.uid] = f"t{n_tmp}"
                outnames.append(f"t{n_tmp}")
                n_tmp += 1
            passed = [a for a in item.inputs if a.uid not in consts]
            call = f"{', '.join(outnames)} = {fname}({', '.join(names[a.uid] for a in passed)})"
            stmts.append((item.outputs[0], call, [a.uid for a in passed], item.outputs, True))
            continue
        node = item
        if node.uid in names or node.uid in absorbed:
            continue
        if node.op == CONST_OP:
            cname = f"c{n_const}"
            n_const += 1
            namespace[cname] = node.value
            names[node.uid] = cname
            continue
        if node.op == SHARED_OP:
            sname = f"s{n_shared}"
            namespace[f"_{sname}"] = node
            body.append(f"{sname} = _{sname}.value")
            n_shared += 1
            names[node.uid] = sname
            continue
        if node.op == INPUT_OP:
            raise RewriteDiffTypeError(f"function: the outputs depend on {node!r}, which is not among the inputs {inputs}")
        if node.op == LOOP_OP:  # a loop: all its results at once (ops/scan.py)
            sibs = [m for m in order if m.op == LOOP_OP and m.args == node.args and m.attr("body") is node.attr("body")]
            outnames: list[str | None] = [None] * len(node.attr("body").outputs)
            for m in sibs:
                names[m.uid] = outnames[m.attr("out")] = f"t{n_tmp}"
                n_tmp += 1
            lines = loop_source(node.attr("body"), [names[a.uid] for a in node.args], outnames, f"l{n_loops}", namespace, fusion, finite_math)
            n_loops += 1
            stmts.append((node, "\n".join(lines), [a.uid for a in node.args], sibs, False))
            continue
        if node.uid in joint:  # several results of one computation (OpDef.joint): one call, unpacked
            sibs = joint[node.uid]
            _, _, count, emit = get_op(node.op).joint
            outnames = ["_"] * count
            for m in sibs:
                names[m.uid] = outnames[get_op(m.op).joint[1]] = f"t{n_tmp}"
                n_tmp += 1
            line = f"{', '.join(outnames)} = {emit([names[a.uid] for a in node.args], node.attr_dict)}" + ("\ndel _" if "_" in outnames else "")
            stmts.append((node, line, [a.uid for a in node.args], sibs, False))
            continue
        tname = f"t{n_tmp}"
        n_tmp += 1
        if node.uid in groups:
            src, argids = numexpr_call(groups[node.uid], names, namespace, tname)
        else:
            src, argids = _numpy_call(node, names, namespace), [a.uid for a in node.args]
        names[node.uid] = tname
        stmts.append((node, f"{tname} = {src}", argids, [node], node.uid in groups))
    # free temporaries after their last use
    keep = {o.uid for o in roots}
    last: dict[int, int] = {}
    for i, (_, _, argids, _, _) in enumerate(stmts):
        for a in argids:
            last[a] = i
    dies: dict[int, set[str]] = {}
    for a, j in last.items():
        if a not in keep and _TEMP.fullmatch(names[a]):
            dies.setdefault(j, set()).add(names[a])
    stmts, unaliased = _reuse_buffers(stmts, names, last, keep, keys)
    # a kernel's large result that nothing else aliases goes back to a pool of its own when it
    # dies, and the next call's kernel writes into it: no fresh pages to fault in on each call
    pools: dict[int, str] = {}  # result uid -> its recycling slot, `_kpK[i]` for output i of kernel K
    for k, (kernel, fname, _) in enumerate(kernel_defs):
        namespace[f"_kp{k}"] = [[] for _ in kernel.outputs]
        for i, o in enumerate(kernel.outputs):
            if o.uid in unaliased and o.uid not in keep:
                pools[o.uid] = f"_kp{k}[{i}]"
    pool_of_name = {names[u]: p for u, p in pools.items()}
    for i, (_, line, _, _, _) in enumerate(stmts):
        body.append(line)
        dead = sorted(dies.get(i, ()), key=lambda n: int(n[1:]))
        body.extend(f"rt.give({pool_of_name[n]}, {n})" for n in dead if n in pool_of_name)
        if dead:
            body.append(f"del {', '.join(dead)}")
    outs = ", ".join((f"{names[o.uid]}.copy()" if is_sparse(o) else f"np.array({names[o.uid]})") if _may_alias(o) else names[o.uid] for o in outputs)
    if updates:
        for k, (var, val) in enumerate(updates):
            namespace[f"_upd{k}"] = var
            body.append(f"_upd{k}.tag['value'] = np.asarray({names[val.uid]}, dtype=np.{var.dtype})")
    body.append(f"return ({outs},)")
    kernels_src = "".join(
        kernel_source(k, fname, consts, f"_kp{i}" if any(o.uid in pools for o in k.outputs) else None) + "\n\n"
        for i, (k, fname, consts) in enumerate(kernel_defs)
    )
    source = kernels_src + f"def compiled({', '.join(params)}):\n" + "".join(f"    {part}\n" for line in body for part in line.split("\n"))
    return source, namespace


def _joint_siblings(order: list[Term]) -> dict[int, list[Term]]:
    """Terms that are results of one computation (``OpDef.joint``: same key, arguments and attributes), by uid, when more than one is used."""
    by_key: dict[tuple, list[Term]] = {}
    for m in order:
        j = get_op(m.op).joint
        if j is not None:
            by_key.setdefault((j[0], tuple(a.uid for a in m.args), m.attrs), []).append(m)
    return {m.uid: sibs for sibs in by_key.values() if len({get_op(m.op).joint[1] for m in sibs}) > 1 for m in sibs}


def _contract_checks(roots: list[Term], names: dict[int, str], namespace: dict) -> list[str]:
    """Entry statements comparing the input lengths the graph requires equal (the broadcasting contract)."""
    if not roots:
        return []
    sources = dict(names)
    for k, leaf in enumerate(t for t in inputs_of(roots) if t.op == SHARED_OP):
        namespace[f"_sh{k}"] = leaf
        sources[leaf.uid] = f"_sh{k}.tag['value']"
    lines = []
    for k, (sa, sb, msg) in enumerate(dim_checks(roots, sources)):
        namespace["_bcast_error"] = broadcast_error
        namespace[f"_msg{k}"] = msg
        lines.append(f"if {sa} != {sb}:")
        lines.append(f"    raise _bcast_error(_msg{k}, {sa}, {sb})")
    return lines


def _may_alias(term: Term) -> bool:
    """Whether an output may share memory with an argument, a shared value or a constant (then it is copied)."""
    return term.is_leaf or get_op(term.op).memory != "fresh"


def _can_stand_in(node: Term) -> bool:
    opdef = get_op(node.op)
    return bool(node.args) and opdef.runtime_shape is not None and not node.attr("batch", 0) and isinstance(node.type, TensorType)


def stand_in_shapes(outputs: list[Term]) -> list[Term]:
    """Replace every term whose value is never read, only its shape, by a ``stand_in`` computed from shapes alone.

    A term is used for its shape when it sits in an op's ``shape_args``; if nothing reads its
    value and its op can give its run-time shape from its arguments' shapes, its arguments are
    in turn needed for their shapes only, and so on down.
    """
    order = toposort(outputs)
    need_value = {o.uid for o in outputs}
    need_shape: set[int] = set()
    for node in reversed(order):
        if not node.args:
            continue
        if node.uid in need_value or (node.uid in need_shape and not _can_stand_in(node)):
            need_value.add(node.uid)
            shape_args = get_op(node.op).shape_args
            for i, a in enumerate(node.args):
                (need_shape if i in shape_args else need_value).add(a.uid)
        elif node.uid in need_shape:
            need_shape.update(a.uid for a in node.args)
    new: dict[int, Term] = {}
    for node in order:
        if not node.args:
            new[node.uid] = node
            continue
        args = [new[a.uid] for a in node.args]
        if node.uid not in need_value:
            src = get_op(node.op).shape_from
            if src is not None and not node.attr("batch", 0) and args[src].dtype == node.dtype:
                new[node.uid] = args[src]  # same shape (and dtype): the argument itself stands in
            else:
                new[node.uid] = apply(STAND_IN_OP, *args, of=node.op, of_attrs=node.attrs, dtype=node.dtype)
        elif all(a is b for a, b in zip(args, node.args)):
            new[node.uid] = node
        else:
            new[node.uid] = apply(node.op, *args, **node.attr_dict)
    return [new[o.uid] for o in outputs]


def expand_defined(outputs: list[Term]) -> list[Term]:
    """Replace every ``def`` op by its expansion, so the lowering computes (and fuses) it like any other ops.

    A ``def`` op's ``impl`` rebuilds and evaluates its expansion term by term on every call,
    and has no source template a kernel could inline; its expansion is ordinary ops. A
    derivative rule's ``out`` is the op's term, so it becomes the expansion too and is computed
    once. Expansions may name other ``def`` ops: passes repeat until none is left (bounded by
    the nesting of the definitions, not by the graph's depth).
    """
    for _ in range(64):
        order = toposort(outputs)
        if not any(get_op(n.op).expand is not None for n in order if n.args):
            return outputs
        new: dict[int, Term] = {}
        for node in order:
            if not node.args:
                new[node.uid] = node
                continue
            args = [new[a.uid] for a in node.args]
            opdef = get_op(node.op)
            if opdef.expand is not None:
                new[node.uid] = opdef.expand(tuple(args), node.attr_dict)
            elif all(a is b for a, b in zip(args, node.args)):
                new[node.uid] = node
            else:
                new[node.uid] = apply(node.op, *args, **node.attr_dict)
        outputs = [new[o.uid] for o in outputs]
    raise RewriteDiffTypeError("function: def ops still unexpanded after 64 passes (a definition that names itself?)")


def _reuse_buffers(stmts: list, names: dict[int, str], last: dict[int, int], keep: set[int], keys: dict[int, Any]) -> tuple[list, set[int]]:
    """Let an elementwise ufunc write into an argument's buffer when that buffer is dead afterwards.

    Also returns the buffers of ours that no other value ever shares (no view, no in-place
    result): those may be recycled once dead.

    Only buffers this closure allocated itself (fresh results of elementwise ops, reductions,
    dot/matmul, kernels and numexpr calls; never inputs, constants or views) of the same shape (by
    :func:`shape_keys`) and dtype are reused, and only when nothing that may share its
    memory (a view made from it by any other op: dimshuffle, subtensor, a broadcast ...) is
    used later or returned.
    """
    parent: dict[int, int] = {}

    def root(u: int) -> int:
        while parent.get(u, u) != u:
            parent[u] = parent.get(parent[u], parent[u])  # path halving
            u = parent[u]
        return u

    fresh_ids: set[int] = set()
    for node, _, _, results, fused in stmts:
        opdef = get_op(node.op)
        if fused or opdef.memory == "fresh":
            fresh_ids.update(r.uid for r in results)
        else:  # may return (a view of) any of its arguments
            for a in node.args:
                parent[root(a.uid)] = root(node.uid)
    end = len(stmts)
    group_last: dict[int, int] = {}
    for u, j in last.items():
        r = root(u)
        group_last[r] = max(group_last.get(r, -1), end if u in keep else j)
    for u in keep:
        group_last[root(u)] = end

    def merge(result: int, buffer: int) -> None:
        """The result now lives in the buffer: one group, alive until either's last use."""
        a, b = root(result), root(buffer)
        if a != b:
            parent[a] = b
            group_last[b] = max(group_last.get(a, -1), group_last.get(b, -1))

    owned: set[int] = set()
    out = []
    for i, (node, line, argids, results, fused) in enumerate(stmts):
        if fused:
            owned.update(r.uid for r in results if r.ndim >= 1)
            out.append((node, line, argids, results, fused))
            continue
        opdef = get_op(node.op)
        x = node.args[0] if node.args else None
        if opdef.inplace and x is not None and x.uid in owned and group_last.get(root(x.uid)) == i and x.uid not in keep and x.dtype == node.dtype:
            # writing into a dead buffer of ours: no copy
            line = line[: line.rindex(")")] + ", inplace=True)"
            merge(node.uid, x.uid)
        if opdef.ufunc and node.ndim >= 1 and len(node.args) <= 2:
            for a in node.args:
                if (
                    a.uid in owned
                    and group_last.get(root(a.uid)) == i
                    and a.uid not in keep
                    and a.dtype == node.dtype
                    and keys.get(a.uid) == keys.get(node.uid)
                ):
                    tname = line.split(" = ", 1)[0]
                    argnames = ", ".join(names[b.uid] for b in node.args)
                    line = f"{tname} = np.{opdef.ufunc}({argnames}, out={names[a.uid]})"
                    merge(node.uid, a.uid)
                    break
        if node.uid in fresh_ids and node.ndim >= 1:
            owned.add(node.uid)
        out.append((node, line, argids, results, fused))
    members: dict[int, int] = {}
    for u in set(parent) | set(parent.values()):
        members[root(u)] = members.get(root(u), 0) + 1
    unaliased = {u for u in owned if members.get(root(u), 1) == 1}
    return out, unaliased


def _numpy_call(node: Term, names: dict[int, str], namespace: dict) -> str:
    """Source of one op applied with numpy (its template, or a call of its impl)."""
    opdef = get_op(node.op)
    argnames = [names[a.uid] for a in node.args]
    src = opdef.source(argnames, node.attr_dict)
    if src is None:
        fname = f"_op_{node.op}"
        namespace[fname] = opdef.impl
        kw = "".join(f", {k}={v!r}" for k, v in node.attrs)
        src = f"{fname}({', '.join(argnames)}{kw})"
    return src
