"""Check `names` where the order of execution decides: reads that certainly run before any
binding of the name (validators/static/names_order.py), and the orders that must not be flagged."""

from __future__ import annotations

import pytest

from tests.helpers import assert_names

# ---------------------------------------------------------------- must be caught (errors)

CAUGHT = {
    "global_compared_before_its_only_binding": (
        """
        score = 0

        def game_over():
            global best
            if score > best:
                best = score
        """,
        ["names/undefined-name@5"],
    ),
    "global_printed_before_its_only_binding_later_in_the_function": (
        """
        def show():
            global frames
            print(frames)
            frames = 0
        """,
        ["names/undefined-name@3"],
    ),
    "global_augmented_before_a_plain_binding": (
        """
        def tick():
            global ticks
            ticks += 1
            if ticks > 10:
                ticks = 0
        """,
        ["names/undefined-name@3"],
    ),
    "global_read_by_a_loop_header_before_the_loop_binds_it": (
        """
        def drain():
            global queue
            while queue:
                queue = []
        """,
        ["names/undefined-name@3"],
    ),
    "global_self_assignment_in_a_method_whose_branch_binds_later": (
        """
        class Game:
            def finish(self, score):
                global best
                best = max(best, score)
                if score > 100:
                    best = 100
        """,
        ["names/undefined-name@4"],
    ),
    "class_body_reads_a_constant_bound_after_the_class": (
        """
        class Bird:
            color = WHITE

        WHITE = (255, 255, 255)
        """,
        ["names/used-before-binding@2"],
    ),
    "default_argument_reads_a_constant_bound_after_the_def": (
        """
        def spawn(x=WIDTH):
            return x

        WIDTH = 400
        """,
        ["names/used-before-binding@1"],
    ),
    "decorator_defined_after_the_function_it_decorates": (
        """
        @timed
        def update():
            pass

        def timed(f):
            return f
        """,
        ["names/used-before-binding@1"],
    ),
    "instance_made_before_a_helper_its_init_calls_is_defined": (
        """
        class Game:
            def __init__(self):
                self.font = make_font()

        game = Game()

        def make_font():
            return None
        """,
        ["names/used-before-binding@3"],
    ),
    "entry_point_called_before_a_helper_is_defined": (
        """
        def main():
            helper()

        main()

        def helper():
            pass
        """,
        ["names/used-before-binding@2"],
    ),
    "transitive_read_of_a_constant_bound_after_the_call": (
        """
        def main():
            step()

        def step():
            return SPEED

        main()
        SPEED = 3
        """,
        ["names/used-before-binding@5"],
    ),
    "module_level_read_before_the_assignment": (
        "print(WIDTH)\nWIDTH = 400\n",
        ["names/used-before-binding@1"],
    ),
    "method_run_on_a_fresh_instance_reads_a_constant_bound_later": (
        """
        class Game:
            def run(self):
                return FPS

        Game().run()
        FPS = 60
        """,
        ["names/used-before-binding@3"],
    ),
}

# ------------------------------------------------------------ must NOT be flagged

CLEAN = {
    "function_calls_function_defined_later": """
        def main():
            helper()

        def helper():
            pass
        """,
    "entry_point_guard_at_the_end": """
        def main():
            helper()

        def helper():
            pass

        if __name__ == "__main__":
            main()
        """,
    "top_level_loop_binds_before_a_later_iteration_reads": """
        while True:
            if "seen" in dir():
                print(seen)
            seen = 1
            break
        """,
    "a_function_binds_the_global_before_the_call_reads_it": """
        def init():
            global screen
            screen = 1

        def main():
            init()
            print(screen)

        main()
        """,
    "a_later_rebinding_does_not_matter": """
        SPEED = 1

        def main():
            return SPEED

        main()
        SPEED = 2
        """,
    "global_bound_first_then_compared": """
        def game_over(score):
            global best
            best = 0
            if score > best:
                best = score
        """,
    "global_bound_at_module_level_later": """
        def game_over(score):
            global best
            if score > best:
                best = score

        best = 0
        game_over(3)
        """,
    "global_bound_by_another_function_that_may_run_first": """
        def reset():
            global best
            best = 0

        def game_over(score):
            global best
            if score > best:
                best = score
        """,
    "global_read_after_a_branch_that_binds_it_on_the_first_call": """
        def update(first):
            global best
            if first:
                best = 0
            print(best)
        """,
    "global_read_in_a_later_iteration_of_a_loop": """
        def run():
            global last
            for i in range(3):
                if i:
                    print(last)
                last = i
        """,
    "global_read_only_behind_and": """
        def update(ok, score):
            global best
            if ok and score > best:
                best = score
        """,
    "last_link_of_a_chained_comparison_is_not_certainly_read": """
        def clamp(x):
            global top
            if 0 > x > top:
                return
            top = x
        """,
    "walrus_binds_the_global_in_the_statement_that_reads_it": """
        def load():
            global level
            if (level := 1) > 0:
                print(level)
        """,
    "try_around_the_first_read": """
        def update(score):
            global best
            try:
                best = max(best, score)
            except NameError:
                best = score
        """,
    "annotation_naming_a_class_defined_later": """
        from __future__ import annotations

        cache: dict[str, Node] = {}

        class Tree:
            root: Node

        class Node:
            pass
        """,
    "method_body_reads_a_name_bound_after_the_class": """
        class Bird:
            def draw(self):
                return WHITE

        WHITE = (255, 255, 255)
        """,
    "class_body_reads_its_own_earlier_binding": """
        class Pipe:
            WIDTH = 60
            HALF = WIDTH // 2
        """,
    "instance_made_after_the_helper_is_defined": """
        class Game:
            def __init__(self):
                self.font = make_font()

        def make_font():
            return None

        game = Game()
        """,
    "a_class_whose_new_returns_something_else_never_runs_its_init": """
        class Game:
            def __new__(cls):
                return None

            def __init__(self):
                self.font = make_font()

        game = Game()

        def make_font():
            return None
        """,
    "a_method_of_an_instance_made_earlier_is_not_followed_by_name": """
        class Game:
            def run(self):
                return FPS

        game = Game()
        FPS = 60
        game.run()
        """,
    "a_decorated_method_may_be_replaced": """
        def replaced(f):
            return lambda self: None

        class Game:
            @replaced
            def run(self):
                return FPS

        Game().run()
        FPS = 60
        """,
    "global_shadowing_a_builtin_falls_back_to_it": """
        def peak(values):
            global max
            top = max(values)
            max = None
            return top
        """,
}


@pytest.mark.parametrize("name", sorted(CAUGHT))
def test_names_catches_a_read_before_any_binding(name: str) -> None:
    source, expected = CAUGHT[name]
    assert_names(source, *expected)


@pytest.mark.parametrize("name", sorted(CLEAN))
def test_names_does_not_flag_an_order_that_may_bind_first(name: str) -> None:
    assert_names(CLEAN[name])
