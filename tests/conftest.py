"""Shared fixtures: the real shipped model (small enough for CPU tests), a small face pack the tests
build themselves in the real format, and the real celeba64 pack where it is present.

The real pack is `$EXPRESSIONS_CELEBA64` if set (CI sets it, and a missing pack there fails the
tests that need it), else `../shared/celeba64` if it exists; on a fresh clone without it, only the
few tests that need real faces are skipped, each saying why.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from gan import Faces
from gan.attributes import Attribute, AttributeSet
from gan.checkpoint import save_generator
from gan.faces import GENERATOR_FILE
from gan.model import Generator, GeneratorConfig
from gan.style import StyleConfig, StyleGenerator
from tests.fake_celeba import write_celeba
from train.celeba import prepare
from train.data import DEFAULT_PACK

ROOT = Path(__file__).resolve().parent.parent
REAL_PACK_ENV = "EXPRESSIONS_CELEBA64"
DEFAULT_REAL_PACK = DEFAULT_PACK
FAKE_IMAGES = 300  # 25 of them (numbers divisible by 12) go to the holdout


def tiny_model(folder: Path, kind: str) -> Path:
    """A folder holding a small untrained generator (kind "dcgan" or "style"), for fitting tests."""
    torch.manual_seed(0)
    g = Generator(GeneratorConfig(ngf=8)) if kind == "dcgan" else StyleGenerator(StyleConfig(w_dim=32, channels=16))
    folder.mkdir()
    save_generator(folder / GENERATOR_FILE, g.eval(), {"prior": "normal", "source": f"tiny {kind}"})
    return folder


def with_sliders(faces: Faces, attributes: list[Attribute]) -> Faces:
    """The same model and critic with other sliders (a refit, a reorder, a retired slider)."""
    return Faces(faces.generator, faces.meta, AttributeSet(attributes, faces.sliders.boundaries), critic=faces.critic)


@pytest.fixture(scope="session")
def faces() -> Faces:
    return Faces.load()


@pytest.fixture(scope="session")
def regional_faces(faces: Faces) -> Faces:
    """The shipped model with its beard drawn inside the jaw only, whatever the shipped file says."""
    return with_sliders(
        faces, [dataclasses.replace(a, region="jaw" if a.name == "beard" else a.region) for a in faces.sliders]
    )


@pytest.fixture(scope="session")
def celeba_download(tmp_path_factory, faces: Faces) -> tuple[Path, np.ndarray]:
    """A CelebA-shaped download folder, and the 64 px faces inside its images."""
    root = tmp_path_factory.mktemp("celeba")
    return root, write_celeba(root, faces, FAKE_IMAGES)


@pytest.fixture(scope="session")
def data_root(tmp_path_factory, celeba_download) -> Path:
    """A pack built from the CelebA-shaped download by `prepare`, in the real format."""
    out = tmp_path_factory.mktemp("packs") / "tiny"
    prepare(celeba_download[0], out, workers=2, progress=False)
    return out


@pytest.fixture(scope="session")
def real_pack() -> Path:
    explicit = os.environ.get(REAL_PACK_ENV)
    path = Path(explicit) if explicit else DEFAULT_REAL_PACK
    if (path / "train.zip").is_file():
        return path
    if explicit:
        pytest.fail(f"{REAL_PACK_ENV}={explicit}, but there is no celeba64 pack there (no train.zip)")
    pytest.skip(f"needs real CelebA faces: no celeba64 pack at {DEFAULT_REAL_PACK} (or set {REAL_PACK_ENV})")


@pytest.fixture
def world(simcord_env):
    """A guild with a channel and two members, alice and bob, for the simcord tests (their module's
    `simcord_bot` is the bot); afterwards, every interaction must have been acknowledged exactly once."""
    guild = simcord_env.create_guild()
    channel = guild.create_text_channel("faces")
    alice = guild.add_member(simcord_env.create_user("alice"))
    bob = guild.add_member(simcord_env.create_user("bob"))
    yield simcord_env, channel, alice, bob
    acks = callbacks(simcord_env)
    assert all(len(types) == 1 for types in acks.values()), f"every interaction acknowledged exactly once: {acks}"


def callbacks(env) -> dict[str, list[int]]:
    """Interaction id -> the response types the bot sent for it."""
    out: dict[str, list[int]] = {}
    for r in env.http_requests:
        if r.method == "POST" and r.path.startswith("/interactions/") and r.path.endswith("/callback"):
            out.setdefault(r.path.split("/")[2], []).append(r.json["type"])
    return out
