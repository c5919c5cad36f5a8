"""Part of check `names`: a module-level statement runs code that reads a name whose every
binding comes later in the module (NameError). The classic generated-code form:

    def main():
        ...
        helper()
    main()              # runs the game loop here...
    def helper(): ...   # ...so this def never ran when main() needs it

It follows a top-level statement into the module functions it calls by name, transitively
(calling a class runs its own `__init__`, `Game().run()` its own `run`). A `def` runs only its
decorators and defaults when defined, a `class` its decorators, bases and body. Bodies of nested functions, lambdas and
methods are not followed (they may run later), annotations neither (they may never run), and
a name any function binds through `global` is left alone (when that runs is unknown), so what is
reported is a read that certainly finds nothing bound whenever it runs during that statement.

Inside a function, one order is certain too: a module name that only this function binds
(through `global`) and that its body reads, on entry, before any statement that binds it
(`global best` then `if score > best: best = score`): the first call reads it unbound.

Uses the standard `ast` (the program has compiled already): positions are exact and cheap.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass, field

from pipeline.codes import finding
from pipeline.findings import Finding
from validators.static.names_ast import (
    BUILTINS,
    binds_dynamically,
    bound_names,
    bound_names_in_body,
    certain_reads,
    declared_names,
    entry_expressions,
    is_dunder,
    own_nodes,
    parameters,
    target_names,
)


@dataclass
class _Body:
    """What one function body (or one top-level statement) reads and calls by global name."""

    reads: list[tuple[str, int]] = field(default_factory=list)
    calls: set[str] = field(default_factory=set)


def check_binding_order(module: ast.Module) -> list[Finding]:
    if binds_dynamically(module):
        return []
    first_binding = _first_top_level_binding(module)
    binders = _module_binders(module, first_binding)
    return _module_order(module, first_binding, binders) + _global_read_before_binding(
        module, binders
    )


def _module_order(
    module: ast.Module, first_binding: dict[str, int], binders: dict[str, set[ast.AST]]
) -> list[Finding]:
    """Top-level statements that run a read of a name the module binds only further down."""
    bound_in_functions = {n for n, scopes in binders.items() if scopes - {module}}
    # What a call by plain name runs: a function's body, or the `__init__` of a class.
    callables: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = {}
    labels: dict[str, str] = {}  # how a message names what the call ran
    for statement in module.body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            callables.setdefault(statement.name, []).append(statement)
            labels.setdefault(statement.name, f"{statement.name}()")
        elif isinstance(statement, ast.ClassDef):
            for method_name, method in _certain_methods(statement).items():
                # `Game()` runs __init__; `Game().run()` is followed as the call `Game.run`.
                key = (
                    statement.name
                    if method_name == "__init__"
                    else f"{statement.name}.{method_name}"
                )
                callables.setdefault(key, []).append(method)
                labels.setdefault(key, f"{statement.name}.{method_name}()")
    bodies = {name: _function_body(defs) for name, defs in callables.items()}

    findings: list[Finding] = []
    reported: set[tuple[str, int]] = set()
    for index, statement in enumerate(module.body):
        if isinstance(statement, ast.Import | ast.ImportFrom):
            continue
        runs = _statement_body(statement)
        pending, visited = list(runs.calls), set()
        reads = [(name, line, None) for name, line in runs.reads]
        while pending:  # every module function this statement can reach by name
            callee = pending.pop()
            if callee in visited or callee not in bodies:
                continue
            if first_binding.get(callee.split(".")[0], index + 1) > index:
                continue  # calling a function not yet defined is itself the reported read
            visited.add(callee)
            reads += [(name, line, callee) for name, line in bodies[callee].reads]
            pending += bodies[callee].calls
        for name, line, via in reads:
            later = first_binding.get(name)
            if later is None or later <= index or name in bound_in_functions or name in BUILTINS:
                continue
            if (name, line) in reported:
                continue
            reported.add((name, line))
            binding_line = module.body[later].lineno
            how = f"inside {labels[via]}, " if via else ""
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


def _first_top_level_binding(module: ast.Module) -> dict[str, int]:
    """name -> index of the first top-level statement that binds it at module level."""
    first: dict[str, int] = {}
    for index, statement in enumerate(module.body):
        for name in bound_names(statement):
            first.setdefault(name, index)
    return first


def _module_binders(module: ast.Module, first_binding: dict[str, int]) -> dict[str, set[ast.AST]]:
    """name -> the scopes whose statements bind it as a module name: the module itself, and
    each function or class body that declares it `global` and binds it."""
    binders: dict[str, set[ast.AST]] = {name: {module} for name in first_binding}
    for node in ast.walk(module):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            declared = declared_names(node, ast.Global)
            for name in declared and declared & set(bound_names_in_body(node.body)):
                binders.setdefault(name, set()).add(node)
    return binders


def _global_read_before_binding(
    module: ast.Module, binders: dict[str, set[ast.AST]]
) -> list[Finding]:
    """`global best` then `if score > best: best = score`, and nothing else ever binds `best`.

    When a function is the only scope that binds a module name, and on entry it certainly
    reads the name before any of its own statements can bind it, the first call that gets
    there finds the name unbound: no earlier call can have bound it without passing the
    read first. Only the function's top-level statements are followed, each up to the
    first one that binds the name anywhere inside it, so no loop or branch can reorder them.
    """
    findings: list[Finding] = []
    for node in ast.walk(module):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for name in sorted(declared_names(node, ast.Global)):
            if binders.get(name) != {node} or name in BUILTINS or is_dunder(name):
                continue  # bound elsewhere (maybe first), or never (names.py reports that)
            line = _first_certain_read(node.body, name)
            if line is not None:
                findings.append(
                    finding(
                        "names/undefined-name",
                        f"`{name}` is declared `global` in {node.name}() and only bound there, "
                        f"after this read: the first call reads it unbound (NameError); "
                        f"bind it at module level",
                        line,
                        name=name,
                    )
                )
    return findings


def _first_certain_read(statements: list[ast.stmt], name: str) -> int | None:
    """The line of a read of `name` certain to run before any binding of it in these
    statements (a function's body, run from its start), else None."""
    for statement in statements:
        match statement:
            case ast.AugAssign(target=ast.Name(id=target)) if target == name:
                return statement.lineno  # `best += 1` reads `best` first
        for head in entry_expressions(statement):
            if any(
                isinstance(n, ast.NamedExpr) and name in target_names(n.target)
                for n in ast.walk(head)
            ):
                return None  # a walrus in the head may bind it first
            line = next((ln for read, ln in certain_reads(head) if read == name), None)
            if line is not None:
                return line
        if name in bound_names(statement):
            return None
    return None


def _function_body(defs: list[ast.FunctionDef | ast.AsyncFunctionDef]) -> _Body:
    body = _Body()
    for definition in defs:
        local = set(bound_names_in_body(definition.body)) | parameters(definition.args)
        local -= declared_names(definition, ast.Global) | declared_names(definition, ast.Nonlocal)
        _collect(definition.body, local, body)
    return body


def _certain_methods(cls: ast.ClassDef) -> dict[str, ast.FunctionDef]:
    """The methods a call of the class (`__init__`) or of a method on a fresh instance
    certainly runs: defined in the class itself and undecorated, with no `__new__` or
    metaclass that could return something else instead."""
    if cls.keywords:
        return {}
    methods = {s.name: s for s in cls.body if isinstance(s, ast.FunctionDef)}
    if "__new__" in methods:
        return {}
    return {name: method for name, method in methods.items() if not method.decorator_list}


def _statement_body(statement: ast.stmt) -> _Body:
    """What a top-level statement runs now. A `def` runs only its decorators and defaults; a
    `class` runs its decorators, bases and body (names the body binds are its own)."""
    body = _Body()
    match statement:
        case ast.FunctionDef(args=args) | ast.AsyncFunctionDef(args=args):
            defaults = [d for d in args.defaults + args.kw_defaults if d is not None]
            _collect([*statement.decorator_list, *defaults], set(), body)
        case ast.ClassDef():
            runs_now = [*statement.decorator_list, *statement.bases, *statement.body]
            _collect(runs_now, set(bound_names_in_body(statement.body)), body)
        case _:
            _collect([statement], set(), body)
    return body


def _collect(statements: Sequence[ast.AST], local: set[str], body: _Body) -> None:
    comprehension_vars = {
        name
        for node in own_nodes(statements)
        if isinstance(node, ast.comprehension)
        for name in target_names(node.target)
    }
    for node in own_nodes(statements):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            if node.id not in local and node.id not in comprehension_vars:
                body.reads.append((node.id, node.lineno))
        elif isinstance(node, ast.Call):
            match node.func:
                case ast.Name(id=callee) if callee not in local:
                    body.calls.add(callee)
                case ast.Attribute(value=ast.Call(func=ast.Name(id=cls)), attr=method):
                    if cls not in local:
                        body.calls.add(f"{cls}.{method}")  # `Game().run()`
