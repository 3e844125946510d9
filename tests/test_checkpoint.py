"""Checkpoint files: round trip, and one clear error for every way a file can be wrong."""

from __future__ import annotations

import pytest
import torch

from gan import CheckpointError, Faces
from gan.checkpoint import load_generator, save_generator, save_tensors
from gan.model import Generator, GeneratorConfig, fuse_batchnorm


def small_generator(arch: str = "dcgan") -> Generator:
    torch.manual_seed(0)
    return Generator(GeneratorConfig(ngf=8, arch=arch)).eval()


@pytest.mark.parametrize("arch", GeneratorConfig.ARCHS)
def test_round_trip_keeps_weights_and_metadata(tmp_path, arch):
    g = small_generator(arch)
    path = tmp_path / "g.safetensors"
    save_generator(path, g, {"steps": 12, "prior": "normal"})
    loaded, meta = load_generator(path)
    assert meta["steps"] == 12 and meta["config"] == {"nz": 100, "ngf": 8, "arch": arch}
    for k, v in g.state_dict().items():
        expected = v.half().float() if v.is_floating_point() else v
        assert torch.equal(loaded.state_dict()[k], expected), k
    z = torch.randn(3, 100)
    with torch.no_grad():
        assert torch.allclose(loaded(z), g(z), atol=2e-2)  # fp16 weights


@pytest.mark.parametrize("arch", GeneratorConfig.ARCHS)
def test_fused_batchnorm_draws_the_same_faces(arch):
    g = small_generator(arch)
    for m in g.modules():  # non-trivial statistics, so folding them in is really tested
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5), m.running_var.uniform_(0.5, 2.0), m.weight.data.uniform_(0.5, 1.5)
    z = torch.randn(4, 100)
    with torch.no_grad():
        before = g(z)
        fused = fuse_batchnorm(g)
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
        assert torch.allclose(fused(z), before, atol=1e-5)


def test_faces_load_any_checkpoint(tmp_path):
    path = tmp_path / "g.safetensors"
    save_generator(path, small_generator(), {"prior": "normal"})
    faces = Faces.load(path)
    assert faces.render([1]).shape == (1, 64, 64, 3) and faces.attributes == []


def test_shipped_file_is_small_fp16(faces):
    from gan.faces import GENERATOR_FILE, WEIGHTS_DIR

    path = WEIGHTS_DIR / GENERATOR_FILE
    assert path.stat().st_size <= 16 * 2**20
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys() if "num_batches" not in k} == {torch.float16}


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="nope.safetensors: file not found"):
        Faces.load(tmp_path / "nope.safetensors")


def test_truncated_file(tmp_path):
    path = tmp_path / "g.safetensors"
    save_generator(path, small_generator(), {})
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match=r"g\.safetensors: not a readable safetensors"):
        Faces.load(path)


def test_garbage_file(tmp_path):
    path = tmp_path / "g.safetensors"
    path.write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointError, match="g.safetensors"):
        Faces.load(path)


def test_mismatched_shapes(tmp_path):
    path = tmp_path / "g.safetensors"
    g = small_generator()
    state = g.state_dict()
    state["net.0.0.weight"] = torch.zeros(3, 3)
    save_tensors(path, state, {"config": g.config.to_dict()})
    with pytest.raises(CheckpointError, match=r"net\.0\.0\.weight has shape"):
        Faces.load(path)


def test_foreign_safetensors_file(tmp_path):
    path = tmp_path / "other.safetensors"
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(CheckpointError, match="not an Expressions checkpoint"):
        Faces.load(path)


def test_unknown_architecture(tmp_path):
    path = tmp_path / "g.safetensors"
    g = small_generator()
    save_tensors(path, g.state_dict(), {"config": {**g.config.to_dict(), "arch": "stylegan9"}})
    with pytest.raises(CheckpointError, match="stylegan9"):
        Faces.load(path)


@pytest.mark.parametrize("field, value", [("ngf", 8192), ("nz", 10**7), ("ngf", 0), ("ngf", "64"), ("nz", True)])
def test_absurd_config_is_refused_before_any_allocation(tmp_path, field, value):
    path = tmp_path / "g.safetensors"
    g = small_generator()
    save_tensors(path, g.state_dict(), {"config": {**g.config.to_dict(), field: value}})
    with pytest.raises(CheckpointError, match=f"{field} must be an integer from"):
        Faces.load(path)


def test_unknown_device_is_refused(tmp_path):
    with pytest.raises(ValueError, match="device must be cpu, cuda or cuda:N"):
        Faces.load(device="tpu")


@pytest.mark.parametrize("config", [[1, 2], "dcgan", 7, None, True])
def test_a_config_that_is_not_an_object_is_one_clear_error(tmp_path, config):
    path = tmp_path / "g.safetensors"
    save_tensors(path, small_generator().state_dict(), {"config": config})
    with pytest.raises(CheckpointError, match="config must be a JSON object") as e:
        Faces.load(path)
    assert str(path) in str(e.value)


def test_metadata_that_is_not_an_object_is_one_clear_error(tmp_path):
    from safetensors.torch import save_file

    from gan.checkpoint import META_KEY

    path = tmp_path / "g.safetensors"
    save_file({k: v.contiguous() for k, v in small_generator().state_dict().items()}, str(path), {META_KEY: "[1]"})
    with pytest.raises(CheckpointError, match="metadata must be a JSON object"):
        Faces.load(path)


def test_cli_and_bot_start_say_one_line_for_a_list_config(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "g.safetensors"
    save_tensors(path, small_generator().state_dict(), {"config": [{"nz": 100}]})
    r = subprocess.run(
        [sys.executable, "-m", "gan", "--weights", str(path), "face", "--seed", "1", "-o", str(tmp_path / "f.png")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "config must be a JSON object" in r.stderr
