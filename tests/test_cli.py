"""`python -m gan`: writes real PNG and animated GIF files, and fails cleanly on bad input."""

from __future__ import annotations

import importlib
import subprocess
import sys
import tomllib

import numpy as np
import pytest
import torch
from PIL import GifImagePlugin, Image

from gan.sheet import ends, sheet_latents, sheet_picture
from tests.conftest import ROOT


def gan(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gan", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_face_png(tmp_path):
    out = tmp_path / "face.png"
    r = gan("face", "--seed", "42", "--truncation", "0.7", "-o", str(out))
    assert r.returncode == 0, r.stderr
    img = Image.open(out)
    assert img.format == "PNG" and img.size == (256, 256) and img.mode == "RGB"


def test_morph_gif_loops_on_one_palette(tmp_path):
    out = tmp_path / "morph.gif"
    r = gan("morph", "--from", "1", "--to", "2", "--frames", "6", "--size", "96", "-o", str(out))
    assert r.returncode == 0, r.stderr
    GifImagePlugin.LOADING_STRATEGY = GifImagePlugin.LoadingStrategy.RGB_AFTER_DIFFERENT_PALETTE_ONLY
    img = Image.open(out)
    assert img.format == "GIF" and img.size == (96, 96) and img.is_animated
    assert img.n_frames == 10  # 6 frames forth, 4 back
    assert img.info["loop"] == 0
    for i in range(1, img.n_frames):
        img.seek(i)
        assert img.mode == "P", f"frame {i} has a palette of its own"


def test_face_by_its_code(tmp_path, faces):
    out = tmp_path / "face.png"
    r = gan("face", "--code", "42v3x17c2", "--size", "64", "--edit", "smiling=2", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert np.array_equal(np.asarray(Image.open(out)), faces.render("42v3x17c2", edits={"smiling": 2.0})[0])
    r = gan("face", "--code", "42x17", "-o", str(tmp_path / "bad.png"))
    assert r.returncode == 2 and "child's number" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "bad.png").exists()


def test_grid_png(tmp_path):
    out = tmp_path / "grid.png"
    r = gan("grid", "--seeds", "0-3", "--size", "64", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert Image.open(out).size == (2 * 66 + 2, 2 * 66 + 2)


def test_grid_of_random_faces_prints_the_seeds_the_critic_picked(tmp_path, faces):
    out = tmp_path / "grid.png"
    r = gan("grid", "--random", "4", "--rng", "7", "--size", "64", "-o", str(out))
    assert r.returncode == 0, r.stderr
    seeds = [int(s) for s in r.stdout.splitlines()[0].removeprefix("seeds: ").split(",")]
    assert seeds == faces.random_seeds(4, np.random.default_rng(7))
    assert Image.open(out).size == (2 * 66 + 2, 2 * 66 + 2)
    for bad in (["--random", "0"], ["--random", "4", "--rng", "-1"], ["--random", "2", "--seeds", "1-2"]):
        r = gan("grid", *bad, "-o", str(tmp_path / "bad.png"))
        assert r.returncode == 2 and "Traceback" not in r.stderr, bad
    assert not (tmp_path / "bad.png").exists()


def test_attributes_sheet_draws_every_slider_at_both_ends(tmp_path, faces):
    out = tmp_path / "sheet.png"
    r = gan("attributes", "--sheet", "--seed", "7", "-o", str(out))
    assert r.returncode == 0, r.stderr
    expected = sheet_picture(faces, faces.decode(sheet_latents(faces, 7)), 7)
    assert np.array_equal(np.asarray(Image.open(out).convert("RGB")), expected)
    r = gan("attributes", "--sheet")
    assert r.returncode == 2 and "--sheet needs -o" in r.stderr and "Traceback" not in r.stderr


def test_the_sheet_rows_are_the_sliders_ends(faces):
    """Row by row: the slider's low end, the face as drawn, its high end."""
    z = sheet_latents(faces, 7)
    base = faces.latent([7])
    for i, name in enumerate(faces.attributes):
        lo, hi = ends(faces, name)
        assert torch.equal(z[3 * i + 1], faces.sliders.drawing(base, {})[0])
        assert torch.equal(z[3 * i], faces.sliders.drawing(base, {name: lo})[0])
        assert torch.equal(z[3 * i + 2], faces.sliders.drawing(base, {name: hi})[0])


def test_bad_input_is_one_clear_line(tmp_path):
    r = gan("face", "--seed", "-5", "-o", str(tmp_path / "x.png"))
    assert r.returncode == 2 and "seed must be an integer" in r.stderr and "Traceback" not in r.stderr
    r = gan("--weights", str(tmp_path / "missing.safetensors"), "face", "--seed", "1", "-o", str(tmp_path / "x.png"))
    assert r.returncode == 2 and "missing.safetensors: file not found" in r.stderr
    assert not (tmp_path / "x.png").exists()


def test_console_entry_points_name_the_module_mains():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert set(scripts) == {"expressions-bot", "expressions-faces", "expressions-local"}
    targets = {}
    for name, target in scripts.items():
        module, _, attr = target.partition(":")
        targets[name] = getattr(importlib.import_module(module), attr)
    assert targets["expressions-faces"](["attributes"]) == 0
    assert targets["expressions-bot"].__module__ == "bot.__main__"
    assert targets["expressions-local"].__module__ == "bot.local"
    with pytest.raises(SystemExit) as refused:  # argparse's own one line, before anything starts
        targets["expressions-local"](["--port", "x"])
    assert refused.value.code == 2


def test_absurd_or_unwritable_requests_are_refused_before_drawing(tmp_path):
    cases = [
        (["face", "--seed", "1", "-o", str(tmp_path)], "is a folder"),
        (["morph", "--from", "1", "--to", "2", "--frame-ms", str(10**9), "-o", str(tmp_path / "m.gif")], "frame time"),
        (["morph", "--from", "1", "--to", "2", "--frames", str(10**9), "-o", str(tmp_path / "m.gif")], "frames must"),
        (["--device", "tpu", "face", "--seed", "1", "-o", str(tmp_path / "x.png")], "device must be cpu"),
        (["grid", "--seeds", "0-4000000000", "-o", str(tmp_path / "g.png")], "give from 1 to 1024 seeds"),
        (["grid", "--seeds", "0-1023", "--size", "2048", "-o", str(tmp_path / "g.png")], "Mpx"),
        (["face", "--seed", "1", "--size", "0", "-o", str(tmp_path / "x.png")], "size must be"),
    ]
    for args, message in cases:
        r = gan(*args)
        assert r.returncode == 2 and message in r.stderr, (args, r.stderr)
        assert "Traceback" not in r.stderr and "error: " in r.stderr.strip().splitlines()[-1], r.stderr
    assert list(tmp_path.iterdir()) == []
