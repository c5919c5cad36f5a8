"""validators/static/names.py on one-line cases: what must be caught, and what must never be flagged."""

from __future__ import annotations

import pytest

from tests.helpers import assert_names
from tests.validators.static.test_names_order import CAUGHT as ORDER_CAUGHT
from tests.validators.static.test_names_order import CLEAN as ORDER_CLEAN
from tests.validators.static.test_names_scopes import CLEAN as SCOPES_CLEAN
from validators.static.names import check_names

# ---------------------------------------------------------------- must be caught (errors)

CAUGHT = {
    "global_declared_then_method_call_without_module_binding": (
        """
        def reset_game():
            global pipes
            pipes.clear()
        """,
        ["names/undefined-name@3"],
    ),
    "global_pipes_only_local_in_main": (
        """
        def reset_game():
            global pipes, score
            score = 0
            pipes.clear()

        def main():
            pipes = []
            reset_game()
            return pipes
        """,
        ["names/undefined-name@4"],
    ),
    "global_then_augmented_assignment_without_module_binding": (
        """
        def add_point():
            global best
            best += 1
        """,
        ["names/undefined-name@3"],
    ),
    "augmented_assignment_bindings_everywhere_never_bind": (
        """
        def a():
            global total
            total += 1

        def b():
            global total
            total -= 1
            print(total)
        """,
        ["names/undefined-name@3", "names/undefined-name@7", "names/undefined-name@8"],
    ),
    "global_then_self_reading_assignment": (
        """
        def record(score):
            global best
            best = max(best, score)
        """,
        ["names/undefined-name@3"],
    ),
    "local_augmented_assignment_without_global": (
        """
        score = 0

        def add_point():
            score += 1
        """,
        ["names/unbound-local@4"],
    ),
    "local_self_reading_assignment_without_global": (
        """
        items = []

        def grow():
            items = items + [1]
        """,
        ["names/unbound-local@4"],
    ),
    "plain_typo": ("print(scroe)\n", ["names/undefined-name@1"]),
    "typo_inside_function": (
        """
        def draw(screen):
            screen.blit(scor_text, (0, 0))
        """,
        ["names/undefined-name@2"],
    ),
    "class_attribute_read_bare_in_method": (
        """
        class Bird:
            SIZE = 20

            def width(self):
                return SIZE
        """,
        ["names/undefined-name@5"],
    ),
    "class_attribute_in_comprehension_element": (
        """
        class Grid:
            N = 3
            cells = [N for _ in range(3)]
        """,
        ["names/undefined-name@3"],
    ),
    "comprehension_variable_does_not_leak": (
        """
        squares = [i * i for i in range(3)]
        print(i)
        """,
        ["names/undefined-name@2"],
    ),
    "del_of_unbound_name": ("del ghost\n", ["names/undefined-name@1"]),
    "module_name_never_bound_read_in_nested_function": (
        """
        def outer():
            def inner():
                return clock.tick(60)
            return inner
        """,
        ["names/undefined-name@3"],
    ),
    "exception_name_typo": (
        """
        try:
            pass
        except PygameError:
            pass
        """,
        ["names/undefined-name@3"],
    ),
    "decorator_name_unbound": (
        """
        @cache
        def f():
            return 1
        """,
        ["names/undefined-name@1"],
    ),
    "default_argument_unbound": ("def f(x=DEFAULT):\n    return x\n", ["names/undefined-name@1"]),
    "same_name_twice_on_a_line_reported_once": ("print(foo, foo)\n", ["names/undefined-name@1"]),
    "undefined_in_lambda_body": ("key = lambda p: p[0] + offset\n", ["names/undefined-name@1"]),
    "class_var_augmented_in_method_without_self": (
        """
        class Game:
            score = 0

            def add(self):
                score += 1
        """,
        ["names/unbound-local@5"],
    ),
    "nonlocal_augmented_without_enclosing_binding": (
        """
        def outer():
            count = 0

            def inner():
                global ticks
                ticks += count

            return inner
        """,
        ["names/undefined-name@6"],
    ),
}

# ------------------------------------------------------------ must NOT be flagged

CLEAN = {
    "global_with_module_binding": """
        pipes = []

        def reset_game():
            global pipes
            pipes.clear()
        """,
    "module_binding_after_the_function": """
        def reset_game():
            global pipes
            pipes.clear()

        pipes = []
        reset_game()
        """,
    "global_bound_in_another_function": """
        def init():
            global pipes
            pipes = []

        def reset():
            global pipes
            pipes.clear()
        """,
    "global_augmented_with_module_binding": """
        best = 0

        def add_point():
            global best
            best += 1
        """,
    "self_reading_assignment_with_prior_binding": """
        best = 0

        def record(score):
            global best
            best = max(best, score)
        """,
    "conditional_self_reading_is_not_certain": """
        def f(flag):
            x = x if flag else 0
            return x
        """,
    "or_right_side_is_not_a_certain_read": """
        def setup(cache):
            cache = cache or {}
            return cache
        """,
    "nonlocal_counter": """
        def make_counter():
            n = 0

            def bump():
                nonlocal n
                n += 1
                return n

            return bump
        """,
    "try_except_import_error_binding": """
        try:
            import tomllib
        except ImportError:
            tomllib = None
        print(tomllib)
        """,
    "if_branch_binding": """
        import random

        if random.random() > 0.5:
            color = (1, 2, 3)
        else:
            color = (3, 2, 1)
        print(color)
        """,
    "binding_only_in_one_branch_is_not_certain": """
        import random

        if random.random() > 0.5:
            bonus = 5
        print(bonus)
        """,
    "del_of_bound_name": """
        x = 1
        del x
        """,
    "loop_reads_name_bound_later_in_the_body": """
        def run():
            for i in range(3):
                if i:
                    print(last)
                last = i
        """,
    "global_declared_at_module_level_is_harmless": "global x\nx = 1\nprint(x)\n",
    "enclosing_local_bound_after_the_nested_def": """
        def f():
            def g():
                return y

            y = 1
            return g
        """,
    "global_bound_by_a_for_target": """
        def f():
            global best
            for best in range(3):
                pass
            print(best)
        """,
    "global_bound_in_another_function_read_in_a_method": """
        class Game:
            def run(self):
                global screen
                screen.fill(0)

        def main():
            global screen
            screen = 1
        """,
    "augmented_in_a_loop_with_a_binding_in_another_branch": """
        def f():
            for i in range(3):
                if i:
                    total += i
                else:
                    total = 0
            return total
        """,
    "global_in_nested_function_with_module_binding": """
        score = 0

        def outer():
            def inner():
                global score
                score += 1
            inner()
        """,
}


@pytest.mark.parametrize("name", sorted(CAUGHT))
def test_names_catches(name: str) -> None:
    source, expected = CAUGHT[name]
    assert_names(source, *expected)


@pytest.mark.parametrize("name", sorted(CLEAN))
def test_names_does_not_flag(name: str) -> None:
    assert_names(CLEAN[name])


def test_star_import_makes_unbound_module_names_a_single_warning() -> None:
    assert_names(
        """
        from pygame.locals import *

        def handle(event):
            return event.type == QUIT or event.key == K_SPACE
        """,
        "names/star-import@4",
    )


def test_star_import_does_not_excuse_an_unbound_local() -> None:
    assert_names(
        """
        from pygame.locals import *
        score = 0

        def add():
            score += 1
        """,
        "names/unbound-local@5",
    )


def test_globals_call_turns_unbound_names_into_a_dynamic_scope_warning() -> None:
    assert_names(
        """
        globals()["speed"] = 3
        print(speed)
        """,
        "names/dynamic-scope@2",
    )


def test_global_pipes_message_says_a_global_declaration_is_not_a_binding() -> None:
    (result,) = check_names("def reset():\n    global pipes\n    pipes.clear()\n")
    assert "declared `global`" in result.message and "NameError" in result.message
    assert result.details["name"] == "pipes"


def test_unparseable_program_is_a_warning_not_a_crash() -> None:
    # In the pipeline compile gates this; called directly, names must still not raise.
    findings = check_names("def f(:\n")
    assert [f.key for f in findings] == ["names/parse-failed"]


def test_suite_is_broad() -> None:
    cases = len(CAUGHT) + len(CLEAN) + len(SCOPES_CLEAN)
    assert cases + len(ORDER_CAUGHT) + len(ORDER_CLEAN) >= 40
