"""The figures quant write-ups compute by hand, per configuration: pass@1, pass@3 (the unbiased
estimator over the seeds) and the mean requirement score out of 8, in every report form."""

from __future__ import annotations

import io
import json
from math import comb

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.reports.html import index_page
from pipeline.reports.terminal import print_table, to_json_text, to_markdown
from pipeline.runs.outcomes import PENDING, parse_requirement_score, sample_requirements, summarize
from tests.reports.test_report import NO_CODE, outcome, report_of


def scored(seed: int, verdict: str, met: int | None, **kw: object):
    return outcome(seed, verdict, () if verdict == "pass" else (NO_CODE,),
                   requirements=None if met is None else (met, 8), **kw)


def test_one_pass_in_eight_seeds_gives_the_unbiased_pass_at_3() -> None:
    summary = summarize("cfg", [scored(s, "pass" if s == 1 else "fail", 0) for s in range(1, 9)])
    assert summary.pass_at[1] == pytest.approx(1 / 8)
    assert summary.pass_at[3] == pytest.approx(1 - comb(7, 3) / comb(8, 3))  # 0.375


def test_pass_at_3_is_absent_below_three_validated_samples_and_pending_ones_do_not_count() -> None:
    summary = summarize("cfg", [scored(1, "pass", 8), scored(2, "fail", 3), scored(3, PENDING, None)])
    assert summary.total == 2
    assert summary.pass_at == {1: 0.5, 3: None}


def test_the_requirement_mean_is_over_the_scored_samples_out_of_8() -> None:
    summary = summarize("cfg", [scored(1, "pass", 8), scored(2, "fail", 5), scored(3, "fail", 0),
                                scored(4, "fail", None)])
    assert (summary.requirements_mean, summary.requirements_points, summary.requirements_scored) == (
        pytest.approx(13 / 3, abs=1e-3), 8, 3)
    assert summary.requirements_text() == "4.3/8"


def test_no_scored_sample_shows_a_dash_not_zero() -> None:
    summary = summarize("cfg", [scored(1, "fail", None), scored(2, "fail", None)])
    assert summary.requirements_mean is None and summary.requirements_text() == "–"


@pytest.mark.parametrize("details, validated, smoke_on, expected", [
    ({"smoke": "run", "requirements": "6/8"}, True, True, (6, 8)),
    ({}, True, True, (0, 8)),  # no program: a game that never runs meets no point
    ({"smoke": "skipped: the program does not compile"}, True, True, (0, 8)),
    ({"smoke": "run"}, True, True, None),  # played without the requirement checks
    ({}, True, False, None),  # --no-smoke: nothing was scored
    ({}, False, True, None),  # pending
])
def test_which_samples_score_and_how(details, validated, smoke_on, expected) -> None:
    assert sample_requirements(details, validated=validated, smoke_on=smoke_on) == expected


@given(points=st.integers(1, 9999), data=st.data())
def test_a_score_reads_back_as_written(points: int, data: st.DataObject) -> None:
    met = data.draw(st.integers(0, points))
    assert parse_requirement_score(f"{met}/{points}") == (met, points)


@given(text=st.one_of(st.text(max_size=12), st.integers(), st.none(), st.floats()))
def test_anything_else_is_no_score_never_an_error(text: object) -> None:
    score = parse_requirement_score(text)
    if score is not None:
        assert isinstance(text, str)
        met, points = text.split("/")
        assert (int(met), int(points)) == score and 0 <= score[0] <= score[1]


def three_configs():
    return report_of(*[scored(s, "pass" if s < 3 else "fail", 7 if s < 3 else 2, config="q8")
                       for s in range(1, 5)],
                     scored(11, "fail", 0, config="q4"), scored(12, "pass", 6, config="q4"),
                     *[scored(s, "fail", None, config="nosmoke") for s in range(21, 24)])


def test_terminal_table_shows_pass_at_k_and_requirements_and_says_what_a_dash_means() -> None:
    out = io.StringIO()
    print_table(three_configs(), out)
    rows = {line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[5:8]]
            for line in out.getvalue().splitlines() if line.startswith("│")}
    assert rows == {"q8": ["50%", "100%", "4.5/8"], "q4": ["50%", "–", "3.0/8"],
                    "nosmoke": ["0%", "0%", "–"]}
    assert "pass@3 is – where fewer than 3 samples were validated" in out.getvalue()
    assert "requirements are – where the smoke run was off" in out.getvalue()


def test_markdown_html_and_json_carry_the_same_figures() -> None:
    report = three_configs()
    markdown = to_markdown(report)
    assert "| pass@1 | pass@3 | requirements |" in markdown
    assert "| q4 | 1/2 | 50% | 9%–91% | 50% | – | 3.0/8 |" in markdown
    assert "pass@3 is – where fewer than 3 samples" in markdown
    html = index_page(report, {})
    assert '<td class="n">50%</td><td class="n">–</td><td class="n">3.0/8</td>' in html
    assert "pass@3 is – where fewer than 3 samples" in html
    configs = {c["name"]: c for c in json.loads(to_json_text(report))["configs"]}
    assert configs["q8"]["pass_at_k"] == {"1": 0.5, "3": 1.0}
    assert configs["q4"]["pass_at_k"] == {"1": 0.5, "3": None}
    assert configs["q4"]["requirements"] == {"mean": 3.0, "points": 8, "scored": 2}
    assert configs["nosmoke"]["requirements"] == {"mean": None, "points": None, "scored": 0}
