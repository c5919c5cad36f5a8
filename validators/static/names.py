"""check `names`: names read at run time that no binding can reach (NameError, UnboundLocalError).

libcst's ScopeProvider does the scoping (functions, classes, comprehensions, `global`,
`nonlocal`, imports, `del`, `except ... as`), and sends a name declared `global` to the module
scope. Two things are added on top, because they are exactly the bugs ruff and pyflakes miss
(BRIEF section 2):

- A `global pipes` declaration is not a binding. libcst already agrees; pyflakes does not.
- `x += 1` reads `x` before it binds it, so an augmented assignment never counts as the
  binding that makes `x` defined. libcst records it as an assignment only, so the check
  treats each augmented target as a read that needs some other binding.

Flow is ignored on purpose: any binding anywhere in the reachable scope counts (a module-level
assignment after a function's definition runs before the function is called; an `if` or
`try/except ImportError` branch may bind). So what is reported is a certain failure whenever
that line runs. The orders that are certain despite flow are names_order's job.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterable, Mapping

import libcst as cst
from libcst.metadata import (
    Access,
    BaseAssignment,
    BuiltinAssignment,
    ClassScope,
    CodeRange,
    FunctionScope,
    GlobalScope,
    MetadataWrapper,
    PositionProvider,
    Scope,
)

from pipeline.codes import finding
from pipeline.findings import Finding
from validators.static.names_ast import name_error_guards
from validators.static.names_flow import check_flow
from validators.static.names_order import check_binding_order
from validators.static.names_scope import resolve_scopes

# Names a module has at run time without binding them (beyond what `builtins` holds, which
# libcst already knows): what the import system sets on a script's module (not `__path__`,
# which only a package has), and `__class__`, which Python provides to
# methods that use it.
IMPLICIT_NAMES = frozenset(
    {
        "__file__",
        "__cached__",
        "__builtins__",
        "__annotations__",
        "__spec__",
        "__loader__",
        "__package__",
        "__name__",
        "__doc__",
        "__dict__",
        "__class__",
    }
)
# What Python binds in every class body before it runs (a method or the module lacks them).
CLASS_BODY_NAMES = frozenset({"__module__", "__qualname__"})


def check_names(code: str) -> list[Finding]:
    try:
        module = cst.parse_module(code)
    except (cst.ParserSyntaxError, RecursionError, MemoryError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return [finding("names/parse-failed", f"libcst could not parse the program: {message}")]
    # The tree is ours alone, so libcst need not deep-copy it (the copy is the slow part).
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    try:
        return NameAnalysis(wrapper, code).findings()
    except RecursionError:
        return [finding("names/parse-failed", "the program is nested too deeply to analyse")]


class NameAnalysis:
    def __init__(self, wrapper: MetadataWrapper, code: str) -> None:
        self.wrapper = wrapper
        self.code = code  # the source as given: rendering it back from the tree costs ~5 ms
        self.scopes, collector = resolve_scopes(wrapper)
        self._positions: Mapping[cst.CSTNode, CodeRange] | None = None
        # Binding nodes that read their own name first: `x += 1` and `x = f(x)`.
        self.aug_targets = collector.aug_targets
        self.self_reading_targets = collector.self_reading_targets
        # libcst 1.9 records `match` capture patterns as reads; a captured name counts as
        # bound wherever it is read (coarse, but never a false alarm).
        self.pattern_names = collector.pattern_names
        self.captured_names = {
            n.value for n in collector.pattern_names if n not in collector.pattern_keys
        }
        # It also binds a walrus inside a comprehension in the comprehension, not outside.
        self.captured_names |= collector.comprehension_walrus_names
        self.global_declared = collector.global_declared
        self.has_star_import = collector.has_star_import
        self.dynamic_calls = collector.dynamic_calls

    def findings(self) -> list[Finding]:
        errors: list[Finding] = []
        masked: dict[str, int | None] = {}  # name -> first line, unbound but possibly bound
        seen: set[tuple[str, str, int | None]] = set()
        for node, scope, assignments in self._reads():
            name = node.value
            if isinstance(scope, ClassScope):
                if name in CLASS_BODY_NAMES:
                    continue
                # A class body falls back to the enclosing scopes for a name it has not bound.
                assignments = set(assignments) | set(scope.parent[name])
            if name in IMPLICIT_NAMES or self._bound(assignments):
                continue
            line = self._line(node)
            # A name with a binding in a function scope is that function's local (a
            # `global`/`nonlocal` name's bindings live in the outer scope instead).
            if any(isinstance(a.scope, FunctionScope) for a in assignments):
                key, message = "names/unbound-local", self._unbound_local_message(name)
            elif self._masked_by_dynamic_binding(assignments):
                masked.setdefault(name, line)
                continue
            else:
                key, message = "names/undefined-name", self._undefined_message(name, assignments)
            if (key, name, line) not in seen:
                seen.add((key, name, line))
                errors.append(finding(key, message, line, name=name))
        if not masked:
            errors = self._with_order_findings(errors)
        return sorted(errors, key=lambda f: (f.line or 0, f.message)) + self._warnings(masked)

    def _with_order_findings(self, errors: list[Finding]) -> list[Finding]:
        """Adds reads that resolve to a binding, but one that cannot have run yet or was undone
        (ast-based: names_order across the module, names_flow within a scope), then drops what
        a `try` that catches NameError guards: such a read may fail, but not the program."""
        try:
            module = ast.parse(self.code)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return errors  # compile reports it
        flagged = {(f.details.get("name"), f.line) for f in errors}
        for extra in check_binding_order(module) + check_flow(module):
            key = (extra.details.get("name"), extra.line)
            if key not in flagged:
                flagged.add(key)
                errors.append(extra)
        guards = name_error_guards(module)
        if not guards:
            return errors
        return [f for f in errors if not _guarded(f, guards)]

    def _reads(self) -> Iterable[tuple[cst.Name, Scope, Collection[BaseAssignment]]]:
        """Every read of a name with the bindings that may reach it: the accesses libcst
        records, and the targets of augmented assignments, which read before they bind."""
        for access in self._accesses():
            if access.node in self.pattern_names or access.node.value in self.captured_names:
                continue
            # Not `access.referents`: libcst keeps only the bindings that precede a read in a
            # function, which is wrong for loops (`if i: use(x)` then `x = i`). Any binding
            # in the scope the name resolves to may reach the read.
            yield access.node, access.scope, access.scope[access.node.value]
        for target in self.aug_targets:
            scope = self.scopes.get(target)
            if scope is not None:
                yield target, scope, scope[target.value]

    def _undefined_message(self, name: str, assignments: Collection[BaseAssignment]) -> str:
        if name in self.global_declared and not assignments:
            return (
                f"`{name}` is declared `global` but no statement ever binds it at module level "
                f"(a `global` declaration is not a binding): NameError when this line runs"
            )
        if assignments:
            return (
                f"`{name}` is only bound by statements that read it first (`{name} += ...`, "
                f"`{name} = f({name})`), so it is never bound: NameError"
            )
        return f"`{name}` is read here but nothing binds it in any scope that reaches it: NameError"

    @staticmethod
    def _unbound_local_message(name: str) -> str:
        return (
            f"`{name}` is local to this function but only bound by statements that read it "
            f"first (`{name} += ...`): UnboundLocalError; a missing `global {name}`?"
        )

    def _accesses(self) -> Iterable[Access]:
        seen_scopes: set[int] = set()
        for scope in self.scopes.values():
            if scope is None or id(scope) in seen_scopes:
                continue
            seen_scopes.add(id(scope))
            for access in scope.accesses:
                # Annotations are not evaluated under `from __future__ import annotations` and
                # string hints never are; an unbound one is not a certain run-time failure.
                if access.is_annotation or access.is_type_hint:
                    continue
                if isinstance(access.node, cst.Name):
                    yield access

    def _bound(self, assignments: Iterable[BaseAssignment]) -> bool:
        """Is any of these a real binding (not the target of an augmented assignment)?"""
        for assignment in assignments:
            if isinstance(assignment, BuiltinAssignment):
                return True
            node = getattr(assignment, "node", None)
            if node not in self.aug_targets and node not in self.self_reading_targets:
                return True
        return False

    def _masked_by_dynamic_binding(self, assignments: Iterable[BaseAssignment]) -> bool:
        """A star import or globals()/exec may bind a module name; a local one they cannot."""
        if not (self.has_star_import or self.dynamic_calls):
            return False
        return all(isinstance(a.scope, GlobalScope) for a in assignments)

    def _warnings(self, masked: dict[str, int | None]) -> list[Finding]:
        if not masked:
            return []
        names = ", ".join(sorted(masked)[:12]) + (" ..." if len(masked) > 12 else "")
        first_line = min((line for line in masked.values() if line is not None), default=None)
        if self.has_star_import:
            return [
                finding(
                    "names/star-import",
                    f"{len(masked)} name(s) have no visible binding and may come from a star "
                    f"import: {names}",
                    first_line,
                    names=sorted(masked),
                )
            ]
        calls = ", ".join(sorted(self.dynamic_calls))
        return [
            finding(
                "names/dynamic-scope",
                f"{len(masked)} name(s) have no visible binding; {calls}() may bind them: {names}",
                first_line,
                names=sorted(masked),
            )
        ]

    def _line(self, node: cst.CSTNode) -> int | None:
        # Positions cost a third of the analysis; a healthy program never needs them.
        if self._positions is None:
            self._positions = self.wrapper.resolve(PositionProvider)
        position = self._positions.get(node)
        return position.start.line if position is not None else None


def _guarded(error: Finding, guards: list[tuple[int, int]]) -> bool:
    """Is the read, or the module-level statement that runs it, inside a guarded `try` body?"""
    lines = [error.line, error.details.get("run_line")]
    return any(
        line is not None and first <= line <= last for line in lines for first, last in guards
    )
