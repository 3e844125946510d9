"""The CelebA attribute classifier: 40 labels from a 64x64 face.

It is the project's eye: evaluation measures the Frechet distance in its penultimate features,
and the slider fitting scores generated faces with it. Trained on the train split only; the
holdout gives its reported accuracy.

`python -m train.classifier --data ../shared/celeba64 --out train/weights/classifier.safetensors`
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gan.checkpoint import CheckpointError, load_tensors, save_tensors

from .data import DEFAULT_PACK, load_split, to_unit
from .errors import cli

DEFAULT_PATH = Path(__file__).parent / "weights" / "classifier.safetensors"
FEATURES = 256


def _conv(cin: int, cout: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class AttributeClassifier(nn.Module):
    """Image (N, 3, 64, 64) in [-1, 1] -> 40 attribute logits; `features` gives the 256-d embedding."""

    def __init__(self, n_labels: int = 40):
        super().__init__()
        self.body = nn.Sequential(
            *_conv(3, 32, 2),
            *_conv(32, 64),
            nn.MaxPool2d(2),  # 16x16
            *_conv(64, 128),
            *_conv(128, 128),
            nn.MaxPool2d(2),  # 8x8
            *_conv(128, FEATURES),
            *_conv(FEATURES, FEATURES),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(FEATURES, n_labels))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def load_classifier(path: Path | str = DEFAULT_PATH, device: str = "cpu") -> tuple[AttributeClassifier, list[str]]:
    """The trained classifier (eval mode) and its attribute names, in label order."""
    tensors, meta = load_tensors(path)
    names = meta.get("attribute_names")
    if not names:
        raise CheckpointError(path, "no attribute_names in metadata: not a classifier checkpoint")
    model = AttributeClassifier(len(names))
    try:
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in tensors.items()})
    except RuntimeError as e:
        raise CheckpointError(path, f"tensors do not match the classifier: {e}") from None
    return model.to(device).eval(), names


@torch.no_grad()
def predict(model: AttributeClassifier, images: torch.Tensor, batch: int = 512, features: bool = False) -> torch.Tensor:
    """Probabilities (N, 40), or features (N, 256), for float images in [-1, 1] or uint8 images."""
    device = next(model.parameters()).device
    out = []
    for chunk in images.split(batch):
        x = to_unit(chunk) if chunk.dtype == torch.uint8 else chunk
        x = x.to(device)
        out.append((model.features(x) if features else torch.sigmoid(model(x))).float().cpu())
    return torch.cat(out)


def predict_faces(
    model: AttributeClassifier,
    draw: Callable[[torch.Tensor], np.ndarray],
    z: torch.Tensor,
    batch: int = 500,
    features: bool = False,
) -> torch.Tensor:
    """predict() on the uint8 (N, H, W, 3) faces that draw() makes of latents z, batch by batch:
    the classifier judges faces exactly as users see them."""
    return torch.cat(
        [
            predict(model, torch.from_numpy(draw(chunk)).permute(0, 3, 1, 2), features=features)
            for chunk in z.split(batch)
        ]
    )


def flip_and_shift(x: torch.Tensor) -> torch.Tensor:
    """Flips and +-4 px shifts: cheap, label-preserving for every CelebA attribute."""
    flip = torch.rand(x.shape[0], 1, 1, 1, device=x.device) < 0.5
    x = torch.where(flip, x.flip(3), x)
    dx, dy = torch.randint(-4, 5, (2,)).tolist()
    return torch.roll(F.pad(x, (4, 4, 4, 4), mode="replicate"), (dy, dx), (2, 3))[:, :, 4:-4, 4:-4]


def train(args: argparse.Namespace) -> None:
    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    tr = load_split(args.data, "train", limit=args.limit)
    ho = load_split(args.data, "holdout", limit=args.limit)
    x, y = tr.images.to(device), tr.labels.to(device)
    model = AttributeClassifier(len(tr.attribute_names)).to(device)
    steps = args.epochs * (len(tr) // args.batch)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps)
    cuda = device.type == "cuda"
    start = time.perf_counter()
    model.train()
    for step in range(steps):
        idx = torch.randint(0, len(tr), (args.batch,), device=device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            loss = F.binary_cross_entropy_with_logits(model(flip_and_shift(to_unit(x[idx]))).float(), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % 200 == 0 or step == steps - 1:
            print(f"step {step}/{steps} loss {loss.item():.4f} {time.perf_counter() - start:.0f}s", flush=True)
    model.eval()
    probs = predict(model, ho.images)
    acc = ((probs > 0.5).float() == ho.labels).float().mean(0)
    per_attr = {n: round(a, 4) for n, a in zip(ho.attribute_names, acc.tolist(), strict=True)}
    print(f"holdout accuracy: mean {acc.mean():.4f}; " + ", ".join(f"{n} {a:.3f}" for n, a in per_attr.items()))
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    save_tensors(
        args.out,
        state,
        {
            "attribute_names": tr.attribute_names,
            "holdout_accuracy_mean": round(acc.mean().item(), 4),
            "holdout_accuracy": per_attr,
            "train_images": len(tr),
            "epochs": args.epochs,
        },
    )


@cli
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Train the 40-attribute CelebA classifier.")
    p.add_argument("--data", default=str(DEFAULT_PACK))
    p.add_argument("--out", default=str(DEFAULT_PATH))
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--limit", type=int, default=None, help="use only the first N images of each split")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    train(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
