"""Part of check `names`: a module-level statement runs code that reads a name whose every
binding comes later in the module (NameError). The classic generated-code form:

    def main():
        ...
        helper()
    main()              # runs the game loop here...
    def helper(): ...   # ...so this def never ran when main() needs it

It follows a top-level statement into the module functions it calls by name, transitively.
Bodies of nested functions, lambdas and classes are not followed (they may run later), and a
name any function binds through `global` is left alone (when that runs is unknown), so what is
reported is a read that certainly finds nothing bound whenever it runs during that statement.
Uses the standard `ast` (the program has compiled already): positions are exact and cheap.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterator
from dataclasses import dataclass, field

from pipeline.codes import finding
from pipeline.findings import Finding

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_BUILTINS = frozenset(dir(builtins))


@dataclass
class _Body:
    """What one function body (or one top-level statement) reads and calls by global name."""

    reads: list[tuple[str, int]] = field(default_factory=list)
    calls: set[str] = field(default_factory=set)


def check_binding_order(code: str) -> list[Finding]:
    try:
        module = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []  # compile reports it
    if _binds_dynamically(module):
        return []
    first_binding = _first_top_level_binding(module)
    bound_in_functions = _globals_bound_in_functions(module)
    functions: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = {}
    for statement in module.body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            functions.setdefault(statement.name, []).append(statement)
    bodies = {name: _function_body(defs) for name, defs in functions.items()}

    findings: list[Finding] = []
    reported: set[tuple[str, int]] = set()
    for index, statement in enumerate(module.body):
        if isinstance(statement, (*_SCOPES, ast.Import, ast.ImportFrom)):
            continue
        runs = _statement_body(statement)
        pending, visited = list(runs.calls), set()
        reads = [(name, line, None) for name, line in runs.reads]
        while pending:  # every module function this statement can reach by name
            callee = pending.pop()
            if callee in visited or callee not in bodies:
                continue
            if first_binding.get(callee, index + 1) > index:
                continue  # calling a function not yet defined is itself the reported read
            visited.add(callee)
            reads += [(name, line, callee) for name, line in bodies[callee].reads]
            pending += bodies[callee].calls
        for name, line, via in reads:
            later = first_binding.get(name)
            if later is None or later <= index or name in bound_in_functions or name in _BUILTINS:
                continue
            if (name, line) in reported:
                continue
            reported.add((name, line))
            binding_line = module.body[later].lineno
            how = f"inside {via}(), " if via else ""
            findings.append(
                finding(
                    "names/used-before-binding",
                    f"`{name}` is read {how}while line {statement.lineno} runs, but it is first "
                    f"bound on line {binding_line}, later in the module: NameError",
                    line,
                    name=name,
                    run_line=statement.lineno,
                    binding_line=binding_line,
                )
            )
    return findings


def _binds_dynamically(module: ast.Module) -> bool:
    for node in ast.walk(module):
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in ("globals", "exec", "vars", "__import__", "setattr"):
                return True
    return False


def _first_top_level_binding(module: ast.Module) -> dict[str, int]:
    """name -> index of the first top-level statement that binds it at module level."""
    first: dict[str, int] = {}
    for index, statement in enumerate(module.body):
        for name in _bound_names(statement):
            first.setdefault(name, index)
    return first


def _globals_bound_in_functions(module: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(module):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            declared = {n for s in ast.walk(node) if isinstance(s, ast.Global) for n in s.names}
            names |= declared & set(_bound_names_in_body(node.body))
    return names


def _function_body(defs: list[ast.FunctionDef | ast.AsyncFunctionDef]) -> _Body:
    body = _Body()
    for definition in defs:
        declared = {
            n for s in _own_nodes(definition.body) if isinstance(s, ast.Global) for n in s.names
        }
        local = (
            set(_bound_names_in_body(definition.body)) | _parameters(definition.args)
        ) - declared
        local -= {
            n for s in _own_nodes(definition.body) if isinstance(s, ast.Nonlocal) for n in s.names
        }
        _collect(definition.body, local, body)
    return body


def _statement_body(statement: ast.stmt) -> _Body:
    body = _Body()
    _collect([statement], set(), body)
    return body


def _collect(statements: list[ast.stmt], local: set[str], body: _Body) -> None:
    comprehension_vars = {
        name
        for node in _own_nodes(statements)
        if isinstance(node, ast.comprehension)
        for name in _target_names(node.target)
    }
    for node in _own_nodes(statements):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            if node.id not in local and node.id not in comprehension_vars:
                body.reads.append((node.id, node.lineno))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id not in local:
                body.calls.add(node.func.id)


def _own_nodes(statements: list[ast.stmt]) -> Iterator[ast.AST]:
    """Nodes that run when these statements run: not inside nested functions, lambdas, classes."""
    stack: list[ast.AST] = list(statements)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, _SCOPES):
            continue
        stack.extend(ast.iter_child_nodes(node))


def _bound_names_in_body(statements: list[ast.stmt]) -> list[str]:
    return [name for statement in statements for name in _bound_names(statement)]


def _bound_names(statement: ast.stmt) -> Iterator[str]:
    """Names a statement binds in the scope it runs in (nested scopes' own bindings excluded)."""
    for node in _own_nodes([statement]):
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


def _target_names(target: ast.AST) -> Iterator[str]:
    for node in ast.walk(target):
        if isinstance(node, ast.Name):
            yield node.id


def _parameters(args: ast.arguments) -> set[str]:
    every = args.posonlyargs + args.args + args.kwonlyargs
    every += [a for a in (args.vararg, args.kwarg) if a is not None]
    return {a.arg for a in every}
