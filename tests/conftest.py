"""Shared fixtures: the real shipped model (small enough for CPU tests) and the data pack."""

from __future__ import annotations

from pathlib import Path

import pytest

from gan import Faces

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "celeba64"


@pytest.fixture(scope="session")
def faces() -> Faces:
    return Faces.load()


@pytest.fixture(scope="session")
def data_root() -> Path:
    if not (DATA / "train.zip").is_file():
        pytest.fail(f"the celeba64 data pack is missing at {DATA}")
    return DATA
