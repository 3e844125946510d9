"""Reading and writing shipped checkpoints: safetensors tensors plus JSON metadata.

The metadata (architecture config, prior, training data, steps, metrics) lives in the
safetensors header under one key, so a checkpoint is one self-describing file. Every way a
file can be wrong (missing, truncated, not safetensors, another architecture, missing or
misshapen tensors) ends in one CheckpointError that names the file and the problem.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from .model import Generator, build_generator, config_from_dict

META_KEY = "expressions"


class CheckpointError(ValueError):
    """A checkpoint file is missing or unusable."""

    def __init__(self, path: Path | str, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = Path(path)


def save_tensors(path: Path | str, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    """Write tensors (as contiguous CPU copies) and a JSON-serialisable metadata dict."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cpu = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}  # no shared storage
    save_file(cpu, str(path), metadata={META_KEY: json.dumps(meta, sort_keys=True)})


def load_tensors(path: Path | str) -> tuple[dict[str, torch.Tensor], dict]:
    """Read tensors and metadata, raising CheckpointError for anything unreadable."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "file not found")
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, RuntimeError, ValueError) as e:
        raise CheckpointError(path, f"not a readable safetensors file (truncated or corrupt?): {e}") from None
    if META_KEY not in header:
        raise CheckpointError(path, f"no {META_KEY!r} metadata in the header: not an Expressions checkpoint")
    try:
        meta = json.loads(header[META_KEY])
    except json.JSONDecodeError as e:
        raise CheckpointError(path, f"metadata is not valid JSON: {e}") from None
    if not isinstance(meta, dict):
        raise CheckpointError(path, f"metadata must be a JSON object, got {type(meta).__name__}")
    return tensors, meta


def save_generator(path: Path | str, g: Generator, meta: dict, dtype: torch.dtype = torch.float16) -> None:
    """Save a generator's weights (fp16 by default) with its config merged into meta."""
    state = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in g.state_dict().items()}
    save_tensors(path, state, {**meta, "config": g.config.to_dict()})


def load_generator(path: Path | str, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, dict]:
    """Rebuild the generator a checkpoint describes, in eval mode and fp32, with its metadata."""
    path = Path(path)
    tensors, meta = load_tensors(path)
    try:
        g = build_generator(config_from_dict(meta["config"]))
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(path, f"bad or missing generator config in metadata: {e}") from None
    expected = g.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise CheckpointError(
            path, f"tensors do not match the architecture (missing {missing[:3]}, unexpected {extra[:3]})"
        )
    for k, v in expected.items():
        if tensors[k].shape != v.shape:
            raise CheckpointError(path, f"tensor {k} has shape {tuple(tensors[k].shape)}, expected {tuple(v.shape)}")
        if tensors[k].is_floating_point() and not torch.isfinite(tensors[k]).all():
            raise CheckpointError(path, f"tensor {k} holds NaN or infinite values")
    g.load_state_dict({k: v.to(expected[k].dtype) for k, v in tensors.items()})
    return g.to(device).eval(), meta
