"""libcst's scope analysis for validators/static/names.py, plus what names.py needs on top of it,
collected in the traversal libcst makes anyway (a traversal of its own was a third of the time):
augmented-assignment targets, bindings that read their own name first (`x = f(x)`), `match`
captures and comprehension walruses (libcst 1.9 records both as reads), `global`
declarations, star imports and calls that can bind names dynamically.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import BatchableMetadataProvider, MetadataWrapper, Scope, ScopeProvider

# Calls through which a program can bind module names the analysis cannot see.
DYNAMIC_BINDERS = frozenset({"globals", "exec", "vars", "__import__"})


@dataclass
class Collected:
    aug_targets: set[cst.Name] = field(default_factory=set)
    self_reading_targets: set[cst.Name] = field(default_factory=set)
    pattern_names: set[cst.Name] = field(default_factory=set)
    pattern_keys: set[cst.Name] = field(default_factory=set)
    comprehension_walrus_names: set[str] = field(default_factory=set)
    global_declared: set[str] = field(default_factory=set)
    dynamic_calls: set[str] = field(default_factory=set)
    has_star_import: bool = False


def resolve_scopes(
    wrapper: MetadataWrapper,
) -> tuple[Mapping[cst.CSTNode, Scope | None], Collected]:
    """libcst's scopes and our collection, from one batched traversal of the tree (libcst
    batches the two providers; a separate traversal was a third of the analysis)."""
    resolved = wrapper.resolve_many([_ScopeProvider, _CollectingProvider])
    return resolved[_ScopeProvider], resolved[_CollectingProvider][wrapper.module]


class _ListedVisitors:
    """A provider's visitor methods listed once per class instead of by `inspect.getmembers`
    on every run (half a small program's time)."""

    def get_visitors(self) -> Mapping[str, Callable[..., object]]:
        return {name: getattr(self, name) for name in _visitor_method_names(type(self))}


class _ScopeProvider(_ListedVisitors, ScopeProvider):
    pass


@functools.cache
def _visitor_method_names(cls: type) -> tuple[str, ...]:
    return tuple(
        name
        for name in dir(cls)
        if name.startswith(("visit_", "leave_"))
        and callable(getattr(cls, name))
        and not getattr(getattr(cls, name), "_is_no_op", False)
    )


class _CollectingProvider(_ListedVisitors, BatchableMetadataProvider[Collected]):
    """Notes what names.py needs beyond libcst's scopes; its one value sits on the Module."""

    def __init__(self) -> None:
        super().__init__()
        self.collected = Collected()
        self._comprehension_depth = 0

    def leave_Module(self, original_node: cst.Module) -> None:
        self.set_metadata(original_node, self.collected)

    def visit_Global(self, node: cst.Global) -> None:
        self.collected.global_declared.update(item.name.value for item in node.names)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if isinstance(node.names, cst.ImportStar):
            self.collected.has_star_import = True

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name) and node.func.value in DYNAMIC_BINDERS:
            self.collected.dynamic_calls.add(node.func.value)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if isinstance(node.target, cst.Name):
            self.collected.aug_targets.add(node.target)

    def visit_Assign(self, node: cst.Assign) -> None:
        targets = [t.target for t in node.targets if isinstance(t.target, cst.Name)]
        self._note_self_reading(targets, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if isinstance(node.target, cst.Name) and node.value is not None:
            self._note_self_reading([node.target], node.value)

    def _note_self_reading(self, targets: list[cst.Name], value: cst.BaseExpression) -> None:
        if not targets:
            return
        reader = _CertainReads()
        value.visit(reader)
        self.collected.self_reading_targets.update(t for t in targets if t.value in reader.names)

    def visit_MatchAs(self, node: cst.MatchAs) -> None:
        if node.name is not None:
            self.collected.pattern_names.add(node.name)

    def visit_MatchStar(self, node: cst.MatchStar) -> None:
        if node.name is not None:
            self.collected.pattern_names.add(node.name)

    def visit_MatchMapping(self, node: cst.MatchMapping) -> None:
        if node.rest is not None:
            self.collected.pattern_names.add(node.rest)

    def visit_MatchKeywordElement(self, node: cst.MatchKeywordElement) -> None:
        self.collected.pattern_names.add(node.key)  # `Point(x=...)`: an attribute, not a read
        self.collected.pattern_keys.add(node.key)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        if self._comprehension_depth and isinstance(node.target, cst.Name):
            self.collected.comprehension_walrus_names.add(node.target.value)

    def visit_ListComp(self, node: cst.ListComp) -> None:
        self._comprehension_depth += 1

    def visit_SetComp(self, node: cst.SetComp) -> None:
        self._comprehension_depth += 1

    def visit_DictComp(self, node: cst.DictComp) -> None:
        self._comprehension_depth += 1

    def visit_GeneratorExp(self, node: cst.GeneratorExp) -> None:
        self._comprehension_depth += 1

    def _leave_comprehension(self, original_node: cst.CSTNode) -> None:
        self._comprehension_depth -= 1

    leave_ListComp = leave_SetComp = leave_DictComp = leave_GeneratorExp = _leave_comprehension


class _CertainReads(cst.CSTVisitor):
    """Names an expression certainly reads when it is evaluated: not those behind a lambda,
    a conditional expression, the right side of and/or, or inside a comprehension."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_Name(self, node: cst.Name) -> None:
        self.names.add(node.value)

    def visit_BooleanOperation(self, node: cst.BooleanOperation) -> bool:
        node.left.visit(self)
        return False

    def visit_IfExp(self, node: cst.IfExp) -> bool:
        node.test.visit(self)
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        node.value.visit(self)  # `.attr` is not a name read
        return False

    def visit_Call(self, node: cst.Call) -> bool:
        node.func.visit(self)
        for arg in node.args:
            arg.value.visit(self)  # a keyword's name is not a read
        return False

    def _skip(self, node: cst.CSTNode) -> bool:
        return False

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _skip
