"""The before/after report of a fine-tune (engine.finetune_report): paired changes with a 95%
interval, "no measurable change (±x)" when the interval holds 0, and the rows both the trainer's
log and the window show."""
from __future__ import annotations

import random

import pytest

from engine.finetune_report import (Change, paired_mean_change, paired_proportion_change, report_notes, report_rows,
                                    report_text, summarise, wilson)


def outcomes(right: list[bool], chars: list[float] | None = None) -> list[tuple[bool, float]]:
    """Per-clause results: first candidate right, and characters right (1.0 when right)."""
    return [(r, 1.0 if r else (chars[i] if chars else 0.5)) for i, r in enumerate(right)]


def paired(both: int, lost: int, gained: int, neither: int) -> tuple[list, list]:
    """Before and after results of clauses in the four cells of the paired table."""
    before = [True] * both + [True] * lost + [False] * gained + [False] * neither
    after = [True] * both + [False] * lost + [True] * gained + [False] * neither
    return outcomes(before), outcomes(after)


# (both right, lost, gained, neither, n) -> what the change reads as
CHANGES = [
    ("all right before and after", 300, 0, 0, 0, "no measurable change (±1.3)"),
    ("all the same, some wrong", 240, 0, 0, 60, "no measurable change (±0.8)"),
    ("as many gained as lost", 230, 10, 10, 50, "no measurable change (±"),
    ("a small gain on few clauses", 49, 0, 3, 8, "no measurable change (±"),
    ("a clear gain", 200, 10, 40, 50, "+10.0 (+5.5 to +14.5)"),
    ("a clear loss", 200, 40, 10, 50, "-10.0 (-14.5 to -5.5)"),
    ("a gain on 60 clauses", 34, 2, 11, 13, "+15.0 (+3.8 to +25.8)"),
]


@pytest.mark.parametrize("what,both,lost,gained,neither,reads", CHANGES, ids=[c[0] for c in CHANGES])
def test_first_candidate_change_reads(what, both, lost, gained, neither, reads):
    change = paired_proportion_change(both, lost, gained, neither)
    n = both + lost + gained + neither
    assert change.points == pytest.approx(100 * (gained - lost) / n)
    assert change.low <= change.points <= change.high
    assert change.describe().startswith(reads)
    assert change.measurable == (not reads.startswith("no measurable"))


def test_newcombe_interval_matches_a_hand_computed_table():
    """Fagerland et al.'s airway example (1 both, 1 before only, 7 after only, 12 neither):
    Wilson limits 0.0265/0.2891 and 0.2082/0.5909, phi 0.0795, so the lower limit is
    0.2857 - sqrt(0.1728^2 - 2*0.0795*0.1728*0.1939 + 0.1939^2) = 0.036."""
    change = paired_proportion_change(1, 1, 7, 12)
    assert change.points == pytest.approx(28.57, abs=0.01)
    assert change.low == pytest.approx(3.6, abs=0.05) and change.high == pytest.approx(50.2, abs=0.05)
    assert wilson(2, 21) == pytest.approx((0.0265, 0.2891), abs=1e-4)


def test_the_interval_covers_the_true_change_about_95_percent_of_the_time():
    """Simulated fine-tunes: 300 clauses, each right before with p 0.8, flipped either way
    with a small chance; the 95% interval holds the true change in 90-99% of 400 runs."""
    rng = random.Random(7)
    p_gain, p_lose, p_before, n, runs = 0.06, 0.03, 0.8, 300, 400
    true = 100 * ((1 - p_before) * p_gain - p_before * p_lose)
    covered = 0
    for _ in range(runs):
        cells = [0, 0, 0, 0]
        for _ in range(n):
            before = rng.random() < p_before
            after = (rng.random() >= p_lose) if before else (rng.random() < p_gain)
            cells[(0 if after else 1) if before else (2 if after else 3)] += 1
        change = paired_proportion_change(*cells)
        covered += change.low <= true <= change.high
    assert 0.90 <= covered / runs <= 0.99


@pytest.mark.parametrize("mean,sd,n,reads", [
    (0.0, 0.0, 60, "no measurable change (±0.0)"),  # no clause changed
    (0.5, 6.0, 60, "no measurable change (±2.0)"),
    (4.1, 9.0, 60, "+4.1 (+1.8 to +6.4)"),
    (-3.0, 5.0, 300, "-3.0 (-3.6 to -2.4)"),
])
def test_characters_right_change_reads(mean, sd, n, reads):
    assert paired_mean_change(mean, sd, n).describe() == reads


def test_one_clause_has_no_interval_for_a_mean():
    assert paired_mean_change(5.0, 0.0, 1) is None


def test_bad_tables_are_refused():
    for cells in [(0, 0, 0, 0), (1, -1, 0, 0)]:
        with pytest.raises(ValueError):
            paired_proportion_change(*cells)


def test_summarise_pairs_the_clauses():
    before, after = paired(200, 10, 40, 50)
    report = summarise(before, after)
    assert report["clauses"] == 300 and report["top1"] == [70.0, 80.0]
    assert report["top1_counts"] == {"both": 200, "lost": 10, "gained": 40, "neither": 50}
    assert report["top1_change"] == {"points": 10.0, "low": 5.52, "high": 14.51}
    assert report["char_acc"] == [85.0, 90.0] and report["char_acc_diff"]["mean"] == pytest.approx(5.0)
    with pytest.raises(ValueError):
        summarise(before, after[:-1])


def test_an_unchanged_model_reads_no_measurable_change():
    same = outcomes([True] * 200 + [False] * 50, [0.5] * 250)
    rows = report_rows({"user": summarise(same[:60], same[:60]), "general": summarise(same, same)})
    assert [r.change for r in rows] == ["no measurable change (±6.0)", "no measurable change (±0.0)",
                                        "no measurable change (±0.9)"]


def test_rows_and_notes_of_a_report():
    user = summarise(*paired(34, 2, 11, 13))
    general = {**summarise(*paired(232, 8, 6, 54)), "source": "Zhihu question titles (2020-2024)"}
    rows = report_rows({"user": user, "general": general})
    assert [(r.label, r.before, r.after, r.clauses) for r in rows] == [
        ("Your text (held out): first candidate right", 60.0, 75.0, 60),
        ("Your text (held out): characters right", 80.0, 87.5, 60),
        ("General text (held out): first candidate right", 80.0, 79.3, 300)]
    assert rows[0].change == "+15.0 (+3.8 to +25.8)" and rows[2].change == "no measurable change (±3.2)"
    notes = report_notes({"user": user, "general": general})
    assert notes[:3] == ["Of 60 clauses of your text, 11 became right and 2 became wrong.",
                         "Of 300 clauses of general text, 6 became right and 8 became wrong.",
                         "General text: Zhihu question titles (2020-2024), a source that fine-tuning never trains on."]
    text = report_text({"user": user, "general": general})
    assert text[2] == ("General text (held out): first candidate right: 80.0% -> 79.3%, "
                       "no measurable change (±3.2) (300 clauses)")


# reports that lack parts (written before the counts were kept, damaged, or empty sets)
PARTIAL = [
    ({"user": {"top1": [61.2, 70.5], "char_acc": [88.0, 92.1], "clauses": 40}}, (61.2, 70.5, "", 40)),
    ({}, (None, None, "", None)),
    ({"user": "broken", "general": [1, 2]}, (None, None, "", None)),
    ({"user": summarise([], [])}, (None, None, "", 0)),
    ({"user": summarise(outcomes([True]), outcomes([False]))}, (100.0, 0.0, "no measurable change (±", 1)),
]


@pytest.mark.parametrize("report,first_row", PARTIAL)
def test_partial_reports_render(report, first_row):
    row = report_rows(report)[0]
    assert (row.before, row.after, row.clauses) == (first_row[0], first_row[1], first_row[3])
    assert row.change.startswith(first_row[2]) and (first_row[2] or row.change == "")
    explained = any(n.startswith("Changes are in percentage points") for n in report_notes(report))
    assert report_text(report) and explained == any(r.change for r in report_rows(report))


def test_one_clause_is_too_few_for_characters():
    report = {"user": summarise(outcomes([True]), outcomes([False]))}
    assert report_rows(report)[1].change == "too few clauses to tell"


def test_change_describe_rounds_the_bound():
    assert Change(0.3, -2.44, 3.06).describe() == "no measurable change (±3.1)"


def test_an_interval_that_touches_0_as_shown_is_no_measurable_change():
    assert Change(0.9, 0.04, 1.8).describe() == "no measurable change (±1.8)"
    assert Change(-0.9, -1.8, -0.06).describe() == "-0.9 (-1.8 to -0.1)"
