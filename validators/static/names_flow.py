"""Part of check `names`: reads that find their name unbound because of the order in which one
scope's statements run (a function call, the module, a class body):

- a read before any binding of the name can have run: `for i in range(i)`, `x = x + 1` as the
  first binding, `print(score)` above `score = 0` in one function, a class body inside a
  function that reads a local the function binds only further down;
- a read after `del x` with no binding between;
- a read of `e` after its `except ... as e` handler ended (Python deletes `e` there, even when
  the handler left by `return`, `break` or `continue`).

Each scope is walked in the order its statements run, keeping the names that MAY be bound there:
every branch, loop iteration and exception path adds what it can bind; only a `del` and the end
of an `except ... as` handler remove a name, and only where that is certain. A read of a name
the scope owns, outside that set, finds it unbound whenever its line runs: no path to the line
binds it. In a loop, a statement at the top of the body is reached only through the statements
above it, but a statement in a branch (or a `try`, a `with`) may first run after earlier
iterations ran the whole body, so it sees everything the loop binds.

Not followed: calls (another function's body runs in its own scope), lambdas, comprehensions,
annotations; `global`/`nonlocal` names (another scope may bind them at any time); a module with
a star import or globals()/exec/vars/setattr.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from pipeline.codes import finding
from pipeline.findings import Finding
from validators.static.names_ast import (
    BUILTINS,
    binds_dynamically,
    certain_reads,
    entry_expressions,
    is_dunder,
    own_nodes,
    parameters,
    target_names,
)

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_DEFINITIONS = (*_FUNCTIONS, ast.ClassDef)


def check_flow(module: ast.Module) -> list[Finding]:
    if binds_dynamically(module):
        return []
    facts = _Declarations(module)
    module_names = scope_bindings(module.body)
    bound_by_global: set[str] = set()  # module names a function or class binds via `global`
    local_bindings: dict[int, set[str]] = {}
    for scope in facts.scopes:
        local_bindings[id(scope)] = scope_bindings(scope.body)
        bound_by_global |= facts.globals.get(id(scope), set()) & local_bindings[id(scope)]
    report = _Report(any(isinstance(node, ast.NamedExpr) for node in ast.walk(module)))
    module_walk = _Walk(
        "module", module_names - bound_by_global - BUILTINS, module_names | bound_by_global, report
    )
    module_walk.block(module.body, set())
    for scope in facts.scopes:
        if isinstance(scope, _FUNCTIONS):
            local = parameters(scope.args) | local_bindings[id(scope)]
            # `global`/`nonlocal` names, and those a nested function declares `nonlocal` (a
            # call to it may bind them at any time), are not this function's to judge.
            local -= facts.globals.get(id(scope), set()) | facts.nonlocals.get(id(scope), set())
            walk = _Walk("function", local, module_walk.all_module_names, report)
            walk.block(scope.body, parameters(scope.args))
    return report.findings


class _Declarations:
    """One pass over the tree: every function and class, the names each declares `global`,
    and the names each function or a function nested in it declares `nonlocal`."""

    def __init__(self, module: ast.Module) -> None:
        self.scopes: list[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef] = []
        self.globals: dict[int, set[str]] = {}
        self.nonlocals: dict[int, set[str]] = {}
        self._visit(module, [])

    def _visit(self, node: ast.AST, functions: list[int]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Global) and functions:
                self.globals.setdefault(functions[-1], set()).update(child.names)
            elif isinstance(child, ast.Nonlocal):
                for scope in functions:
                    self.nonlocals.setdefault(scope, set()).update(child.names)
            if isinstance(child, _DEFINITIONS):
                self.scopes.append(child)
                self._visit(child, [*functions, id(child)])
            elif isinstance(child, ast.Lambda):
                self._visit(child, [*functions, id(child)])
            else:
                self._visit(child, functions)


def scope_bindings(statements: list[ast.stmt]) -> set[str]:
    """Every name these statements bind in their own scope (`del` and `except ... as` included:
    both make a name local), but not a comprehension's own loop variables."""
    names: set[str] = set()
    comprehension_targets: set[int] = set()
    for node in own_nodes(statements):
        if isinstance(node, ast.comprehension):
            comprehension_targets.update(id(n) for n in ast.walk(node.target))
        elif isinstance(node, _DEFINITIONS):
            names.add(node.name)
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            if id(node) not in comprehension_targets:
                names.add(node.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
    return names


def lasting_bindings(statements: list[ast.stmt]) -> set[str]:
    """Names these statements may leave bound (what a later statement or iteration can see):
    their bindings, less `del` and `except ... as` names, which never outlive their handler.
    Comprehension variables are kept: one too many here only ever silences a report."""
    names: set[str] = set()
    for node in own_nodes(statements):
        if isinstance(node, _DEFINITIONS):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.MatchAs | ast.MatchStar) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
    return names


class _Report:
    def __init__(self, has_walrus: bool) -> None:
        self.has_walrus = has_walrus  # most programs have none: no need to look in each head
        self.findings: list[Finding] = []
        self._seen: set[tuple[str, int]] = set()

    def add(self, key: str, message: str, name: str, line: int) -> None:
        if (name, line) not in self._seen:
            self._seen.add((name, line))
            self.findings.append(finding(key, message, line, name=name))


class _Walk:
    """One scope's statements in run order. `owned` are the names whose reads this scope
    resolves itself; a read of one outside the may-be-bound set is a certain failure."""

    def __init__(
        self,
        kind: str,
        owned: set[str],
        all_module_names: set[str],
        report: _Report,
        resolve_other: Callable[[str], str | None] | None = None,
        globals_fail: Callable[[str], bool] | None = None,
    ) -> None:
        self.kind = kind
        self.owned = owned
        self.all_module_names = all_module_names
        self.report = report
        self.resolve_other = resolve_other  # a class body: how a name it does not own fails
        self.globals_fail = globals_fail  # a class body: does the module lookup fail too?
        self.loops: list[set[str]] = []  # what each enclosing loop's body may bind
        self.removed: dict[str, str] = {}  # name -> what last unbound it, for the message

    # ------------------------------------------------------------------ judging a read

    def unbound(self, name: str, state: set[str]) -> str | None:
        """Why a read of `name` here certainly fails, or None when it may not."""
        if is_dunder(name):
            return None  # __module__, __doc__, __file__...: names.py knows the implicit ones
        if name in self.owned:
            if name in state:
                return None
            if self.globals_fail is not None:
                # A class body looks a name it binds up in itself, then in the module only.
                return None if not self.globals_fail(name) else self.removed.get(name, "class")
            return self.removed.get(name, "before")
        if self.resolve_other is not None:
            return self.resolve_other(name)
        return None

    def check(self, expression: ast.expr, state: set[str], skip: set[str]) -> None:
        for name, line in certain_reads(expression):
            if name not in skip:
                self._judge(name, line, state)

    def _judge(self, name: str, line: int, state: set[str]) -> None:
        why = self.unbound(name, state)
        if why is None:
            return
        local = self.kind == "function" and name in self.owned
        if why == "before":
            key = "names/unbound-local" if local else "names/used-before-binding"
            message = f"`{name}` is read here before any statement that binds it can have run"
        elif why == "class":
            key = "names/used-before-binding"
            message = (
                f"`{name}` is not yet bound in this class body, and a class body looks up a "
                f"name it binds in itself, then in the module (never in an enclosing "
                f"function), which lacks it"
            )
        else:
            key = "names/unbound-local" if local else "names/undefined-name"
            message = f"`{name}` is read here after {why}, and nothing binds it again before"
        error = "UnboundLocalError" if local else "NameError"
        self.report.add(key, f"{message}: {error} whenever this line runs", name, line)

    # ---------------------------------------------------------------- walking statements

    def extra(self) -> set[str]:
        return set().union(*self.loops)

    def block(self, statements: list[ast.stmt], state: set[str]) -> set[str]:
        state = set(state)
        for statement in statements:
            state = self.statement(statement, state)
        return state

    def branch(self, statements: list[ast.stmt], state: set[str]) -> set[str]:
        """A block that may run or not, or run in part, on any iteration of enclosing loops."""
        return self.block(statements, state | self.extra())

    def statement(self, statement: ast.stmt, state: set[str]) -> set[str]:
        state = state | self._entry_reads(statement, state)  # a walrus in a head binds first
        match statement:
            case ast.Delete(targets=targets):
                for target in targets:
                    for name in target_names(target) if isinstance(target, ast.Tuple) else ():
                        self._delete(name, statement.lineno, state)
                    if isinstance(target, ast.Name):
                        self._delete(target.id, statement.lineno, state)
                return state
            case ast.If(body=body, orelse=orelse):
                return self.branch(body, state) | self.branch(orelse, state)
            case (
                ast.For(target=target, body=body, orelse=orelse)
                | ast.AsyncFor(target=target, body=body, orelse=orelse)
            ):
                return self._loop(set(target_names(target)), body, orelse, state)
            case ast.While(body=body, orelse=orelse):
                return self._loop(set(), body, orelse, state)
            case ast.With(items=items, body=body) | ast.AsyncWith(items=items, body=body):
                for item in items:
                    if item.optional_vars is not None:
                        state = state | set(target_names(item.optional_vars))
                # A context manager may swallow an exception: the body may have run in part.
                return self.branch(body, state) | state | lasting_bindings(body)
            case ast.Try() | ast.TryStar():
                return self._try(statement, state)
            case ast.Match(cases=cases):
                ends = [state]
                for case in cases:
                    captured = lasting_bindings([case.pattern])  # type: ignore[list-item]
                    ends.append(self.branch(case.body, state | captured))
                return set().union(*ends)
            case ast.ClassDef():
                self._class_body(statement, state)
                return state | {statement.name}
        return state | lasting_bindings([statement])

    def _entry_reads(self, statement: ast.stmt, state: set[str]) -> set[str]:
        """Checks what a statement reads before it binds anything against `state`; returns
        what those first expressions bind (walrus targets)."""
        heads = list(entry_expressions(statement))
        match statement:
            case ast.AugAssign(target=ast.Name(id=name)):
                self._judge(name, statement.lineno, state)  # `x += 1` reads x first
            case ast.FunctionDef(args=args) | ast.AsyncFunctionDef(args=args):
                heads = [*statement.decorator_list, *args.defaults]
                heads += [d for d in args.kw_defaults if d is not None]
            case ast.ClassDef():
                heads = [*statement.decorator_list, *statement.bases]
                heads += [k.value for k in statement.keywords]
            case ast.Raise(exc=exc) if exc is not None:
                heads = [exc]
        walrus = {
            name
            for head in (heads if self.report.has_walrus else ())
            for node in ast.walk(head)
            if isinstance(node, ast.NamedExpr)
            for name in target_names(node.target)
        }
        for head in heads:
            self.check(head, state, walrus)
        return walrus

    def _delete(self, name: str, line: int, state: set[str]) -> None:
        self._judge(name, line, state)  # `del x` of an unbound x raises too
        state.discard(name)
        self.removed[name] = f"`del {name}` on line {line}"

    def _loop(
        self, targets: set[str], body: list[ast.stmt], orelse: list[ast.stmt], state: set[str]
    ) -> set[str]:
        lasting = lasting_bindings(body) | targets
        self.loops.append(lasting)
        # The top of the body is reached only through what is above it in this iteration, and
        # whatever earlier iterations bound: walked in order, with the enclosing loops' bindings.
        self.block(body, state | targets | set().union(*self.loops[:-1]))
        after = state | lasting
        if orelse:
            after |= self.branch(orelse, after)
        self.loops.pop()
        return after

    def _try(self, statement: ast.Try | ast.TryStar, state: set[str]) -> set[str]:
        body_end = self.branch(statement.body, state)
        partial = state | lasting_bindings(statement.body)  # an exception may stop it anywhere
        ends = [self.branch(statement.orelse, body_end) if statement.orelse else body_end]
        for handler in statement.handlers:
            if handler.type is not None:
                self.check(handler.type, partial | self.extra(), set())
            caught = {handler.name} if handler.name else set()
            end = self.branch(handler.body, partial | caught)
            if handler.name:
                end.discard(handler.name)  # Python deletes it as the handler ends
                self.removed[handler.name] = (
                    f"the `except ... as {handler.name}` handler of line {handler.lineno} "
                    f"ended (Python deletes `{handler.name}` there)"
                )
            ends.append(end)
        after = set().union(*ends)
        if statement.finalbody:
            handled = lasting_bindings(statement.handlers)  # type: ignore[arg-type]
            self.branch(statement.finalbody, after | partial | handled)
            after |= lasting_bindings(statement.finalbody)
        return after

    def _class_body(self, cls: ast.ClassDef, state: set[str]) -> None:
        """A class body runs now, in its own scope. A name it binds somewhere is looked up in
        the class, then the module; a name it never binds, in the enclosing function (if that
        binds it) or the module: as they stand at this statement."""
        outer_state = set(state)

        def resolve(name: str) -> str | None:
            if self.kind == "class":
                return self.resolve_other(name) if self.resolve_other else None
            if name in self.owned and name not in outer_state:
                return self.removed.get(name, "before")
            return None

        def globals_fail(name: str) -> bool:
            if self.globals_fail is not None:
                return self.globals_fail(name)
            if self.kind == "module" and resolve(name) is not None:
                return True
            return name not in self.all_module_names and name not in BUILTINS

        walk = _Walk(
            "class",
            scope_bindings(cls.body),
            self.all_module_names,
            self.report,
            resolve_other=resolve,
            globals_fail=globals_fail,
        )
        walk.block(cls.body, set())
