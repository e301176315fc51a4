"""The variant a person is offered: the least used, ties broken per person."""

from __future__ import annotations

from share.domain.variants import edited, pick


def test_the_least_used_variant_is_offered() -> None:
    assert pick([3, 1, 2], "anna") == 1
    assert pick([0, 5, 5], "bo") == 0


def test_ties_are_broken_the_same_way_per_person_and_spread_over_people() -> None:
    assert pick([2, 2, 2], "anna") == pick([2, 2, 2], "anna")
    firsts = {pick([0, 0, 0], f"person-{n}") for n in range(30)}
    assert firsts == {0, 1, 2}


def test_offering_one_at_a_time_keeps_the_variants_within_one_of_each_other() -> None:
    used = [0, 0, 0]
    for n in range(30):
        used[pick(used, f"person-{n}")] += 1
    assert used == [10, 10, 10]


def test_spacing_alone_is_no_edit() -> None:
    assert not edited("Proud of  this\n", "Proud of this")
    assert edited("Proud of this", "So proud of this")
