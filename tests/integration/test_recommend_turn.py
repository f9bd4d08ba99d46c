"""#11 through the local stack (real ASL, real handlers, the local model endpoint): a "like X" question in
Japanese and in English recommends neither X nor anything off-genre; a volume past the last one is an answer."""

from __future__ import annotations

import pytest

from conftest import run_turn, turn_input
from mangaassist.catalog.similarity import alike
from mangaassist.catalog.store import catalog
from mangaassist.text import find_titles

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", autouse=True)
def warm(local_aws) -> None:
    """The stack's first turn pays every function's cold start, which on a loaded 2-core machine can exceed
    the machine's 9 s timeout; these tests are about the answers, so one turn warms the functions first."""
    try:
        run_turn(local_aws, turn_input("Something like Monster?"))
    except AssertionError:
        pass


def presented(text: str) -> list[str]:
    """The series the answer presents: one per line after the first, "- Title: why" / "・『タイトル』: ..."."""
    heads = [line.split(": ")[0] for line in text.splitlines()[1:] if line.strip()]
    return [ids[0] for head in heads if (ids := find_titles(head))]


@pytest.mark.parametrize(("message", "seed", "language"), [
    ("進撃の巨人みたいなおすすめの漫画はありますか？", "attack-on-titan", "ja"),
    ("Suggest series like Black Lagoon", "black-lagoon", "en"),
    ("Any manga like Berserk?", "berserk", "en"),
])
def test_like_x_recommends_neither_x_nor_anything_off_genre(local_aws, message: str, seed: str,
                                                              language: str) -> None:
    frame = run_turn(local_aws, turn_input(message))
    meta = frame["meta"]
    assert meta["task"] == "recommendation" and meta["language"] == language
    assert meta["validation"]["decision"] == "accept"
    picks = presented(frame["text"])
    assert len(picks) >= 2, frame["text"]
    assert seed not in picks
    assert all(alike(catalog()[seed], catalog()[pick]) for pick in picks), picks


def test_series_read_earlier_in_the_session_are_not_recommended(local_aws) -> None:
    payload = turn_input("What should I read next?")
    payload["request"]["history"] = [{"role": "user", "text": "I've read Vinland Saga and Vagabond."},
                                     {"role": "assistant", "text": "Great choices! How can I help?"}]
    frame = run_turn(local_aws, payload)
    picks = presented(frame["text"])
    assert len(picks) >= 2 and not {"vinland-saga", "vagabond"} & set(picks), frame["text"]
    assert all(alike(catalog()["vinland-saga"], catalog()[p]) or alike(catalog()["vagabond"], catalog()[p])
               for p in picks)


@pytest.mark.parametrize(("message", "expected"), [
    ("Do you have One Piece volume 150?", "112 volumes"),
    ("ONE PIECEの第150巻はありますか？", "全112巻"),
])
def test_a_volume_that_does_not_exist_is_answered_with_the_volume_count(local_aws, message: str,
                                                                         expected: str) -> None:
    frame = run_turn(local_aws, turn_input(message))
    assert expected in frame["text"] and "150" in frame["text"]
    assert frame["meta"]["validation"]["decision"] == "accept"
