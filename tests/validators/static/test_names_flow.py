"""validators/static/names_flow.py (through check_names) on one-line cases: reads that find their name
unbound because of the order one scope runs in (after `del`, after an `except ... as` handler,
before any binding), the class-body names Python provides, and reads a `try` guards."""

from __future__ import annotations

import pytest

from tests.helpers import assert_names

# ---------------------------------------------------------------- must be caught (errors)

CAUGHT = {
    "except_name_read_after_the_handler": (
        """
        try:
            import pygame
        except ImportError as err:
            print(err)
        print(err)
        """,
        ["names/undefined-name@5"],
    ),
    "except_name_returned_after_the_handler_in_a_function": (
        """
        def load(path):
            try:
                return open(path).read()
            except OSError as exc:
                pass
            return str(exc)
        """,
        ["names/unbound-local@6"],
    ),
    "except_name_read_after_the_handler_in_a_loop": (
        """
        def poll(events):
            for event in events:
                try:
                    event.handle()
                except ValueError as problem:
                    continue
                print(problem)
        """,
        ["names/unbound-local@7"],
    ),
    "except_name_read_in_finally": (
        """
        def f(g):
            try:
                g()
            except KeyError as missing:
                pass
            finally:
                print(missing)
        """,
        ["names/unbound-local@7"],
    ),
    "read_after_del": ("score = 1\ndel score\nprint(score)\n", ["names/undefined-name@3"]),
    "read_after_del_in_a_function": (
        """
        def reset(pipes):
            best = max(pipes)
            del best
            return best
        """,
        ["names/unbound-local@4"],
    ),
    "del_twice": ("bird = 1\ndel bird\ndel bird\n", ["names/undefined-name@3"]),
    "augmented_after_del_in_a_function": (
        """
        def tick():
            frames = 0
            del frames
            frames += 1
        """,
        ["names/unbound-local@4"],
    ),
    "loop_target_in_its_own_iterable": (
        "for i in range(i):\n    print(i)\n",
        ["names/used-before-binding@1"],
    ),
    "loop_target_in_its_own_iterable_in_a_function": (
        """
        def spawn():
            for pipe in pipe:
                pass
        """,
        ["names/unbound-local@2"],
    ),
    "class_body_in_a_function_reads_a_local_bound_later": (
        """
        def make_bird():
            class Bird:
                size = bird_size
            bird_size = 20
            return Bird
        """,
        ["names/used-before-binding@3"],
    ),
    "class_body_in_a_function_copies_a_local_it_also_binds": (
        """
        def run(code):
            ret = code

            class Result:
                ret = ret  # a name the class binds is looked up in the class, then the module

            return Result
        """,
        ["names/used-before-binding@5"],
    ),
    "function_local_read_above_its_only_binding": (
        """
        def draw(screen, font):
            screen.blit(label)
            label = font.render()
        """,
        ["names/unbound-local@2"],
    ),
    "first_binding_reads_itself_at_module_level": (
        "speed = speed + 1\nspeed = 3\n",
        ["names/used-before-binding@1"],
    ),
    "read_at_the_top_of_a_loop_body_before_its_binding": (
        """
        def run():
            for i in range(3):
                print(last)
                last = i
        """,
        ["names/unbound-local@3"],
    ),
    "dunder_path_in_a_script": ("print(__path__)\n", ["names/undefined-name@1"]),
    "dunder_module_in_a_method": (
        """
        class Bird:
            def name(self):
                return __module__
        """,
        ["names/undefined-name@3"],
    ),
    "read_in_a_try_that_catches_something_else": (
        """
        try:
            print(scroe)
        except KeyError:
            pass
        """,
        ["names/undefined-name@2"],
    ),
    "class_body_reads_its_own_name_before_binding_it_and_the_module_lacks_it": (
        """
        class Pipe:
            print(gap)
            gap = 150
        """,
        ["names/used-before-binding@2"],
    ),
}

# ------------------------------------------------------------ must NOT be flagged

CLEAN = {
    "except_name_read_inside_its_handler": """
        try:
            import pygame
        except ImportError as err:
            print(err)
        """,
    "except_name_bound_before_the_try": """
        err = None
        try:
            pass
        except ValueError as err:
            pass
        print(err)
        """,
    "except_name_kept_in_another_name": """
        def f(g):
            error = None
            try:
                g()
            except ValueError as exc:
                error = exc
            return error
        """,
    "except_name_read_in_a_function_the_handler_may_call": """
        try:
            pass
        except ValueError as err:
            pass

        def report():
            return err
        """,
    "del_in_one_branch_only": """
        import random
        x = 1
        if random.random() > 0.5:
            del x
        print(x)
        """,
    "rebound_after_del": """
        x = 1
        del x
        x = 2
        print(x)
        """,
    "del_then_read_in_a_later_iteration_may_find_the_rebinding": """
        def f(items):
            for item in items:
                if item:
                    print(last)
                    del last
                last = item
        """,
    "loop_target_bound_before_the_loop": """
        i = 3
        for i in range(i):
            print(i)
        """,
    "class_body_in_a_function_after_the_local": """
        def make_bird():
            bird_size = 20

            class Bird:
                size = bird_size

            return Bird
        """,
    "class_body_reads_a_module_name_it_binds_later": """
        gap = 100

        class Pipe:
            wide = gap
            gap = 150
        """,
    "class_body_dunders": """
        class Bird:
            where = __module__
            name = __qualname__
        """,
    "read_guarded_by_except_name_error": """
        try:
            print(scroe)
        except NameError:
            pass
        """,
    "read_guarded_by_a_tuple_holding_name_error": """
        try:
            print(scroe)
        except (KeyError, NameError):
            pass
        """,
    "read_guarded_by_exception": """
        def draw():
            try:
                screen.blit(label)
            except Exception as exc:
                print(exc)
        """,
    "read_guarded_by_base_exception": """
        try:
            print(scroe)
        except BaseException:
            pass
        """,
    "read_guarded_by_a_bare_except": """
        try:
            print(scroe)
        except:
            pass
        """,
    "read_guarded_by_an_alias_tuple": """
        errors = (NameError, KeyError)
        try:
            print(scroe)
        except errors:
            pass
        """,
    "module_call_guarded_by_except_exception": """
        def main():
            helper()

        try:
            main()
        except Exception:
            pass

        def helper():
            pass
        """,
    "comprehension_variable_is_not_a_local": """
        i = 5

        def f():
            squares = [i * i for i in range(3)]
            return i, squares
        """,
    "walrus_in_the_condition_binds_first": """
        def f(data):
            if (n := len(data)) > n - 1:
                return n
        """,
    "suppressed_exception_may_skip_the_del": """
        import contextlib
        x = 1
        with contextlib.suppress(ValueError):
            int("no")
            del x
        print(x)
        """,
    "binding_in_a_branch_of_an_earlier_iteration": """
        def run():
            for i in range(3):
                if i:
                    print(last)
                last = i
        """,
    "while_loop_body_binds_before_the_next_test": """
        def run():
            done = False
            while not done:
                done = True
            return done
        """,
    "nested_function_may_bind_through_nonlocal": """
        def outer():
            def set_it():
                nonlocal value
                value = 1
            set_it()
            return value
            value = None  # never runs; it makes `value` a local set_it can reach
        """,
    "module_name_bound_through_global_in_a_function": """
        def init():
            global screen
            screen = 1

        init()
        print(screen)
        """,
}


@pytest.mark.parametrize("name", sorted(CAUGHT))
def test_names_flow_catches(name: str) -> None:
    source, expected = CAUGHT[name]
    assert_names(source, *expected)


@pytest.mark.parametrize("name", sorted(CLEAN))
def test_names_flow_does_not_flag(name: str) -> None:
    assert_names(CLEAN[name])


def test_the_except_name_message_says_python_deletes_it() -> None:
    from validators.static.names import check_names

    (result,) = check_names("try:\n    pass\nexcept ValueError as e:\n    pass\nprint(e)\n")
    assert "deletes `e`" in result.message and "NameError" in result.message
