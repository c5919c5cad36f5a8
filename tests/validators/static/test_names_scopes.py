"""Check `names` on the language's own scoping rules: builtins and module dunders, class and
comprehension scopes, `match` captures, imports, annotations. None of these may be flagged."""

from __future__ import annotations

import pytest

from tests.helpers import assert_names

CLEAN = {
    "builtins": "print(len(range(3)), max([1]), isinstance(1, int), ValueError)\n",
    "module_dunders": "print(__file__, __name__, __doc__, __spec__, __builtins__)\n",
    "class_body_reads_own_earlier_names": """
        class Pipe:
            WIDTH = 60
            HALF = WIDTH // 2
        """,
    "class_body_augments_global_fallback": """
        x = 1

        class A:
            x += 1
        """,
    "method_reads_class_attribute_through_self": """
        class Bird:
            SIZE = 20

            def width(self):
                return self.SIZE + Bird.SIZE
        """,
    "comprehension_first_iterable_sees_class_scope": """
        class Grid:
            ROWS = [1, 2, 3]
            doubled = [r * 2 for r in ROWS]
        """,
    "comprehension_variables_and_nested": "m = [[i * j for j in range(i)] for i in range(4) if i]\n",
    "walrus_in_comprehension_binds_outside": """
        values = [y for x in range(3) if (y := x * 2)]
        print(y)
        """,
    "except_as_name": """
        try:
            pass
        except OSError as exc:
            print(exc)
        """,
    "with_as_and_for_targets": """
        with open(__file__) as handle:
            for number, line in enumerate(handle):
                print(number, line)
        """,
    "function_parameters_and_star_args": "def f(a, /, b, *args, c=1, **kw):\n    return a, b, args, c, kw\n",
    "recursive_function": "def fact(n):\n    return 1 if n < 2 else n * fact(n - 1)\n",
    "import_as": "import pygame as pg\nfrom os import path as p\nprint(pg, p)\n",
    "dotted_import_binds_first_name": "import os.path\nprint(os.path.sep)\n",
    "match_statement_captures": """
        def f(cmd):
            match cmd:
                case ["go", direction]:
                    return direction
                case {"key": key}:
                    return key
                case Point(x=px) as whole:
                    return px, whole
            return None

        class Point:
            x = 0
        """,
    "string_annotation_is_not_evaluated": "def f(x: 'Undefined') -> 'AlsoUndefined':\n    return x\n",
    "future_annotations": "from __future__ import annotations\n\ndef f(x: Missing) -> None:\n    return None\n",
    "class_dunder_class_in_method": """
        class A:
            def f(self):
                return __class__
        """,
    "super_and_self": """
        class A:
            def __init__(self):
                super().__init__()
        """,
    "lambda_parameter": "key = lambda p: p[0]\n",
    "type_alias_and_generic_builtin": "Pairs = list[tuple[int, int]]\nprint(Pairs)\n",
    "dunder_name_main_guard": """
        def main():
            pass

        if __name__ == "__main__":
            main()
        """,
    "augmented_attribute_and_subscript_targets": """
        class S:
            n = 0

        s = S()
        s.n += 1
        counts = {}
        counts["a"] = 0
        counts["a"] += 1
        """,
    "method_default_reads_class_scope": """
        class A:
            SIZE = 3

            def f(self, x=SIZE):
                return x
        """,
    "type_checking_import_in_string_hint": """
        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            from os import PathLike

        def f(p: "PathLike"):
            return p
        """,
}


@pytest.mark.parametrize("name", sorted(CLEAN))
def test_names_does_not_flag_a_scoping_rule(name: str) -> None:
    assert_names(CLEAN[name])
