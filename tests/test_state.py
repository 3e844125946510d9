"""Face state in a button's custom_id: exact round trips, no code collisions, and old
buttons that keep working after the sliders are reordered, refitted or removed."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bot.buttons import FACE_BUTTONS, grid_view
from bot.state import MAX_PACKED, BadRequest, FaceState, decode
from gan import Faces
from gan.latent import MAX_SEED
from tests.conftest import with_sliders

STEPS = [round(v / 10, 1) for v in range(-30, 31)]


def test_every_value_of_every_slider_round_trips(faces: Faces):
    for a in faces.sliders:
        for value in STEPS if a.kind == "slider" else ["on", "off"]:
            state = FaceState(7, 0.7, {a.name: value})
            got = decode(state.encode(faces), faces)
            assert got.state == state and not got.dropped and not got.refitted, (a.name, value)


def test_slider_values_never_read_as_toggles(faces: Faces):
    for value in (0.4, 0.5, -0.4, 3.0, -3.0):
        state = FaceState(1, 1.0, {"smiling": value, "glasses": "on", "hat": "off"})
        assert decode(state.encode(faces), faces).state.edits == {"smiling": value, "glasses": "on", "hat": "off"}


def test_the_longest_custom_id_fits_discord(faces: Faces):
    edits = {n: ("off" if faces.attribute_info(n)["kind"] == "toggle" else -2.9) for n in faces.attributes}
    longest = [FaceState(MAX_SEED, 0.99, edits)]
    longest.append(FaceState("4294967295x4294967295c1" + "v1" * 5, 0.99))  # the longest code at MAX_STEPS
    room = MAX_PACKED - len(longest[-1].encode(faces))
    longest.append(FaceState(longest[-1].face, 0.99, dict(list(edits.items())[: room // 3])))
    for state in longest:
        view = grid_view(state, 2**64 - 1, faces)
        ids = [cls.for_face(state, 2**64 - 1, faces).custom_id for cls in FACE_BUTTONS] + [
            i.custom_id for i in view.children
        ]
        assert all(len(i) <= 100 for i in ids), state
    with pytest.raises(BadRequest, match="too long to fit"):
        FaceState(longest[-1].face, 0.99, dict(list(edits.items())[: room // 3 + 1]))


def test_buttons_survive_reordered_and_refitted_sliders(faces: Faces):
    state = FaceState(3, 1.0, {"smiling": 2.0, "glasses": "on"})
    packed = state.encode(faces)
    reordered = with_sliders(faces, list(reversed(list(faces.sliders))))
    got = decode(packed, reordered)
    assert got.state.edits == {"glasses": "on", "smiling": 2.0} and not got.refitted and not got.notice()
    refit = [dataclasses.replace(a, direction=-a.direction) if a.name == "smiling" else a for a in faces.sliders]
    got = decode(packed, with_sliders(faces, refit))
    assert got.state.edits == state.edits and got.refitted and "refitted" in got.notice()


def test_buttons_drop_edits_of_sliders_that_are_gone(faces: Faces):
    packed = FaceState(3, 0.5, {"smiling": 2.0, "glasses": "on", "bangs": -1.5}).encode(faces)
    fewer = with_sliders(faces, [a for a in faces.sliders if a.name != "bangs"])
    got = decode(packed, fewer)
    assert got.state == FaceState(3, 0.5, {"smiling": 2.0, "glasses": "on"})
    assert got.dropped == ["bn -1.5"] and "dropped bn -1.5" in got.notice()
    none = decode(packed, with_sliders(faces, []))
    assert none.state == FaceState(3, 0.5, {}) and len(none.dropped) == 3


def test_buttons_from_before_slider_keys_still_work(faces: Faces):
    """Buttons posted by the first bot: edits by position, toggles as y/z, which also meant +0.4/+0.5."""
    assert decode("42.100.0O1z", faces).state == FaceState(42, 1.0, {"smiling": 2.0, "glasses": "on"})
    assert decode("42.70.0ycy", faces).state == FaceState(42, 0.7, {"smiling": 0.4, "hat": "off"})
    assert decode("5.100.", faces).state == FaceState(5, 1.0, {})


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1.2",
        "x.100.abcd.",
        "1.100.abcd.s",
        "1.0.abcd.",
        "1.101.abcd.",
        "99999999999.100.abcd.",
        "1.100.0Z",
        "1v.100.abcd.",
        "1x2.100.abcd.",
        "1v1v1v1v1v1v1v1.100.abcd.",
    ],
)
def test_malformed_states_raise(faces: Faces, text):
    with pytest.raises(ValueError):
        decode(text, faces)


def test_user_values_are_checked_and_rounded_where_they_enter(faces: Faces):
    state = FaceState.create(faces, 7, 0.123, {"smiling": 1.234, "glasses": "on", "age": None})
    assert state == FaceState(7, 0.12, {"smiling": 1.2, "glasses": "on"})
    assert FaceState.create(faces, 7, 0.999, {}).truncation == 1.0
    for seed, truncation, edits, message in [
        (-1, None, {}, "seed"),
        (True, None, {}, "seed"),
        (1, 0.0, {}, "truncation"),
        (1, float("nan"), {}, "truncation"),
        (1, None, {"smiling": 3.5}, "smiling must be from"),
        (1, None, {"nope": 1.0}, "unknown attribute"),
    ]:
        with pytest.raises(BadRequest, match=message):
            FaceState.create(faces, seed, truncation, edits)
    drawn = faces.render([7], truncation=0.12, edits={"smiling": 1.2, "glasses": "on"})
    assert np.array_equal(drawn, faces.render([7], truncation=state.truncation, edits=state.edits))
