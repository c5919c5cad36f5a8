"""AST helpers shared by the flow-aware parts of check `names` (names_order, names_flow): what
a statement binds, which names an expression certainly reads, which nodes run when a statement
runs. Standard `ast`: the program compiled already, so positions are exact and cheap.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterator, Sequence

BUILTINS = frozenset(dir(builtins))  # names every scope can read without binding them

SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def own_nodes(statements: Sequence[ast.AST]) -> Iterator[ast.AST]:
    """Nodes that run when these statements run: not inside nested functions, lambdas, classes,
    nor annotations (under `from __future__ import annotations` they never run)."""
    stack: list[ast.AST] = list(statements)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, SCOPES):
            continue
        if isinstance(node, ast.AnnAssign):
            stack += [n for n in (node.target, node.value) if n is not None]
            continue
        stack.extend(ast.iter_child_nodes(node))


def bound_names(statement: ast.stmt) -> Iterator[str]:
    """Names a statement binds in the scope it runs in (nested scopes' own bindings excluded)."""
    for node in own_nodes([statement]):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield node.name
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            yield node.id
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                yield (alias.asname or alias.name).split(".")[0]
        elif isinstance(node, ast.ExceptHandler) and node.name:
            yield node.name
        elif isinstance(node, ast.MatchAs | ast.MatchStar) and node.name:
            yield node.name
        elif isinstance(node, ast.MatchMapping) and node.rest:
            yield node.rest


def bound_names_in_body(statements: list[ast.stmt]) -> list[str]:
    return [name for statement in statements for name in bound_names(statement)]


def target_names(target: ast.AST) -> Iterator[str]:
    for node in ast.walk(target):
        if isinstance(node, ast.Name):
            yield node.id


def declared_names(
    scope: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, kind: type
) -> set[str]:
    """The names a scope's own `global` (or `nonlocal`) statements declare."""
    return {n for s in own_nodes(scope.body) if isinstance(s, kind) for n in s.names}


def parameters(args: ast.arguments) -> set[str]:
    every = args.posonlyargs + args.args + args.kwonlyargs
    every += [a for a in (args.vararg, args.kwarg) if a is not None]
    return {a.arg for a in every}


def certain_reads(expression: ast.expr) -> Iterator[tuple[str, int]]:
    """Names an expression certainly reads when evaluated: not behind a lambda, either side
    of a conditional expression, the right of and/or, a later link of a chained comparison,
    or inside a comprehension."""
    match expression:
        case ast.Name(id=name, ctx=ast.Load()):
            yield name, expression.lineno
            return
        case ast.BoolOp(values=[first, *_]):
            yield from certain_reads(first)
            return
        case ast.IfExp(test=test):
            yield from certain_reads(test)
            return
        case ast.Compare(left=left, comparators=[right, *_]):
            yield from certain_reads(left)
            yield from certain_reads(right)
            return
        case ast.Lambda():
            return
    if isinstance(expression, COMPREHENSIONS):
        return
    for child in ast.iter_child_nodes(expression):
        if isinstance(child, ast.expr):
            yield from certain_reads(child)


def entry_expressions(statement: ast.stmt) -> list[ast.expr]:
    """The expressions a statement evaluates first, whenever it runs, before its own body."""
    match statement:
        case ast.If(test=test) | ast.While(test=test) | ast.Assert(test=test):
            return [test]
        case ast.For(iter=value) | ast.AsyncFor(iter=value) | ast.Match(subject=value):
            return [value]
        case ast.Expr(value=value) | ast.Assign(value=value) | ast.AugAssign(value=value):
            return [value]
        case ast.Return(value=value) | ast.AnnAssign(value=value) if value is not None:
            return [value]
        case ast.With(items=items) | ast.AsyncWith(items=items):
            return [items[0].context_expr]
    return []


def is_dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


def binds_dynamically(module: ast.Module) -> bool:
    """A star import or a call that can bind names no statement shows."""
    for node in ast.walk(module):
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in ("globals", "exec", "vars", "__import__", "setattr"):
                return True
    return False


# A handler that catches these catches a NameError (or UnboundLocalError, its subclass).
NAME_ERROR_CATCHERS = frozenset({"NameError", "UnboundLocalError", "Exception", "BaseException"})


def name_error_guards(module: ast.Module) -> list[tuple[int, int]]:
    """Line spans of `try` bodies with a handler that may catch a NameError: a bare `except`,
    NameError, Exception or BaseException (alone or in a tuple), or a name the program assigns
    (`errors = (NameError, KeyError)`). A read there may fail, but the program goes on."""
    aliases = {
        target.id
        for node in ast.walk(module)
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    spans: list[tuple[int, int]] = []
    for node in ast.walk(module):
        if isinstance(node, ast.Try | ast.TryStar) and any(
            _may_catch_name_error(h.type, aliases) for h in node.handlers
        ):
            # From the `try` line: a module-level statement that runs code is named by it.
            spans.append((node.lineno, node.body[-1].end_lineno or node.body[-1].lineno))
    return spans


def _may_catch_name_error(caught: ast.expr | None, aliases: set[str]) -> bool:
    match caught:
        case None:
            return True
        case ast.Name(id=name):
            return name in NAME_ERROR_CATCHERS or name in aliases
        case ast.Tuple(elts=elements):
            return any(_may_catch_name_error(e, aliases) for e in elements)
    return False
