"""A small, safe evaluator for the CEL expressions Hatchet users write in concurrency keys, rate limits, event
filters and webhooks: `input.user_id`, `additional_metadata.tenant`, `headers['x-github-event']`, `'constant'`,
`input.a + '-' + input.b`, comparisons, `in`, `&&`, `||`, `!`, `null`, list literals, `size(x)`, `has(a.b)` and the
string methods `startsWith`, `endsWith`, `contains`. Anything else is refused with a clear error."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from typing import Any

from sfpserver.engine.exceptions import InvalidWorkflowError

_STRINGS = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_ALLOWED = (
    ast.Expression,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.Mod,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.Constant,
    ast.Name,
    ast.Attribute,
    ast.Subscript,
    ast.Load,
    ast.IfExp,
    ast.In,
    ast.NotIn,
    ast.List,
    ast.Call,
)
_METHODS = {
    "startsWith": lambda value, prefix: value.startswith(prefix),
    "endsWith": lambda value, suffix: value.endswith(suffix),
    "contains": lambda value, part: part in value,
}


def _to_python(expression: str) -> str:
    parts, last = [], 0
    for match in _STRINGS.finditer(expression):
        parts.append(_operators(expression[last : match.start()]))
        parts.append(match.group(0))
        last = match.end()
    parts.append(_operators(expression[last:]))
    return _ternary("".join(parts))


def _ternary(code: str) -> str:
    """CEL's `c ? a : b` -> Python's `((a) if (c) else (b))`, for a ternary at the top level."""
    outside = _STRINGS.sub(lambda m: "_" * len(m.group(0)), code)
    question = outside.find("?")
    colon = outside.find(":", question + 1)
    if question < 0 or colon < 0:
        return code
    cond, yes, no = code[:question], code[question + 1 : colon], code[colon + 1 :]
    return f"(({yes}) if ({cond}) else ({_ternary(no)}))"


def _operators(code: str) -> str:
    code = code.replace("&&", " and ").replace("||", " or ")
    code = re.sub(r"!(?!=)", " not ", code)
    code = re.sub(r"\bnull\b", "None", code)
    return re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", code))


def _parse(expression: str, field: str) -> ast.Expression:
    try:
        tree = ast.parse(_to_python(expression.strip()).strip(), mode="eval")
    except SyntaxError:
        raise InvalidWorkflowError(field, f"cannot parse expression {expression!r}") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise InvalidWorkflowError(field, f"unsupported construct in expression {expression!r}")
    return tree


def evaluate(expression: str, variables: Mapping[str, Any], *, field: str) -> Any:
    return _eval(_parse(expression, field).body, variables, expression, field)


def check(expression: str, variables: Iterable[str], *, field: str) -> None:
    """Refuse, before it is stored, an expression that cannot parse, uses what the subset lacks, or names a
    variable outside `variables` (function names `has` and `size` aside)."""
    tree = _parse(expression, field)
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    known = set(variables)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and id(node) not in called and node.id not in known:
            raise InvalidWorkflowError(
                field, f"unknown variable {node.id!r} in {expression!r} (known: {', '.join(sorted(known))})"
            )


def _eval(node: ast.AST, env: Mapping[str, Any], source: str, field: str) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in env:
            raise InvalidWorkflowError(field, f"unknown variable {node.id!r} in {source!r}")
        return env[node.id]
    if isinstance(node, ast.Attribute):
        return _get(_eval(node.value, env, source, field), node.attr, source, field)
    if isinstance(node, ast.Subscript):
        return _get(_eval(node.value, env, source, field), _eval(node.slice, env, source, field), source, field)
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, env, source, field), _eval(node.right, env, source, field)
        if isinstance(node.op, ast.Add) and (isinstance(left, str) or isinstance(right, str)):
            return f"{left}{right}"
        ops = {
            ast.Add: lambda a, b: a + b,
            ast.Sub: lambda a, b: a - b,
            ast.Mult: lambda a, b: a * b,
            ast.Div: lambda a, b: a / b,
            ast.Mod: lambda a, b: a % b,
        }
        return ops[type(node.op)](left, right)
    if isinstance(node, ast.Compare):
        left = _eval(node.left, env, source, field)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _eval(comparator, env, source, field)
            checks = {ast.Eq: left == right, ast.NotEq: left != right}
            if isinstance(op, ast.In | ast.NotIn):
                checks = {type(op): _contains(right, left, source, field) == isinstance(op, ast.In)}
            result = checks[type(op)] if type(op) in checks else _order(op, left, right)
            if not result:
                return False
            left = right
        return True
    if isinstance(node, ast.BoolOp):
        values = (_eval(v, env, source, field) for v in node.values)
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, env, source, field)
        return (not value) if isinstance(node.op, ast.Not) else -value
    if isinstance(node, ast.IfExp):
        test = _eval(node.test, env, source, field)
        return _eval(node.body if test else node.orelse, env, source, field)
    if isinstance(node, ast.List):
        return [_eval(item, env, source, field) for item in node.elts]
    if isinstance(node, ast.Call):
        return _call(node, env, source, field)
    raise InvalidWorkflowError(field, f"unsupported construct in expression {source!r}")


def _call(node: ast.Call, env: Mapping[str, Any], source: str, field: str) -> Any:
    """`size(x)`, `has(a.b)` and the string methods; any other call is refused."""
    if node.keywords:
        raise InvalidWorkflowError(field, f"unsupported construct in expression {source!r}")
    if isinstance(node.func, ast.Name) and node.func.id == "has" and len(node.args) == 1:
        try:
            _eval(node.args[0], env, source, field)
        except InvalidWorkflowError:
            return False
        return True
    args = [_eval(arg, env, source, field) for arg in node.args]
    if isinstance(node.func, ast.Name) and node.func.id == "size" and len(args) == 1:
        return len(args[0])
    if isinstance(node.func, ast.Attribute) and node.func.attr in _METHODS and len(args) == 1:
        target = _eval(node.func.value, env, source, field)
        if isinstance(target, str) and isinstance(args[0], str):
            return _METHODS[node.func.attr](target, args[0])
        raise InvalidWorkflowError(field, f"{source!r}: {node.func.attr}() wants strings")
    raise InvalidWorkflowError(field, f"unsupported function in expression {source!r}")


def _contains(container: Any, item: Any, source: str, field: str) -> bool:
    if isinstance(container, Mapping | list | str):
        return item in container
    raise InvalidWorkflowError(field, f"{source!r}: `in` wants a list, a map or a string")


def _order(op: ast.cmpop, left: Any, right: Any) -> bool:
    if isinstance(op, ast.Lt):
        return bool(left < right)
    if isinstance(op, ast.LtE):
        return bool(left <= right)
    if isinstance(op, ast.Gt):
        return bool(left > right)
    return bool(left >= right)


def _get(container: Any, key: Any, source: str, field: str) -> Any:
    if isinstance(container, Mapping) and key in container:
        return container[key]
    if isinstance(container, list) and isinstance(key, int) and -len(container) <= key < len(container):
        return container[key]
    raise InvalidWorkflowError(field, f"{source!r}: no value for {key!r}")
