"""A differentiable stand-in for dlib's face recognizer, distilled from it on the generator's faces.

The slider editors (train/editing.py) need a signal of "still the same person" they can follow by
gradient; dlib's ResNet (train/identity.py), the report's judge, gives none. `IdentityNet` is a
small CNN trained to map a 64 px face to dlib's 128 numbers for the faces the editors meet: prior
faces, and the same faces with one slider moved, or two (`--two-edits`; global direction and editor,
as installed), so that it has seen both sides of every edit. The report still measures identity with dlib itself.

    python -m train.identity_net        # writes train/weights/identity.safetensors

It prints, on held-out pairs (a face and its edit), how well its distances follow dlib's: their
correlation, how often the two agree on "same person" (distance < SAME_PERSON), and its scale (its mean
distance over dlib's): the editors' free margin is in the net's units, so a net that halves dlib's
distances doubles the margin. `--pair-weight` weighs the distances up against the embeddings.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from gan import Faces
from gan.attributes import AttributeSet
from gan.checkpoint import CheckpointError, load_tensors, save_tensors

from .data import to_unit
from .errors import TrainError, cli
from .identity import SAME_PERSON, dlib_embeddings

DEFAULT_PATH = Path(__file__).resolve().parent / "weights" / "identity.safetensors"
CACHE_DIR = Path(__file__).resolve().parent.parent / "runs" / "identity"
EMBEDDING = 128  # dlib's
DATA_SEED = 21
TWO_EDITS = 0.0  # share of the distilling faces edited by two sliders at once
PAIR_WEIGHT = 1.0  # weight of the face-to-edit distance term against the embeddings' own


class IdentityNet(nn.Module):
    """Float faces (N, 3, 64, 64) in [-1, 1] -> (N, 128) embeddings in dlib's space."""

    def __init__(self, width: int = 32):
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for out in (width, 2 * width, 4 * width, 8 * width):  # 64 -> 32 -> 16 -> 8 -> 4 px
            layers += [nn.Conv2d(channels, out, 3, 2, 1), nn.BatchNorm2d(out), nn.SiLU(), nn.Conv2d(out, out, 3, 1, 1)]
            layers += [nn.BatchNorm2d(out), nn.SiLU()]
            channels = out
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Linear(channels * 16, EMBEDDING)
        self.width = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def load_identity_net(path: Path | str = DEFAULT_PATH) -> IdentityNet:
    """The distilled net, frozen, in eval mode."""
    tensors, meta = load_tensors(path)
    net = IdentityNet(meta.get("width", 32))
    try:
        net.load_state_dict(tensors)
    except RuntimeError as e:
        raise CheckpointError(path, f"not an identity net: {e}") from None
    return net.requires_grad_(False).eval()


def edited_pairs(faces: Faces, n: int, seed: int, two: float = TWO_EDITS) -> np.ndarray:
    """uint8 (2n, 64, 64, 3): n prior faces, then each with one random slider moved (editors on), or with
    two (a share `two` of them: the edits the editors must learn to compose)."""
    gen = torch.Generator().manual_seed(seed)
    pick = random.Random(seed)
    z = torch.randn(n, faces.nz, generator=gen)
    z = faces.to_w(z) if faces.in_w else z
    sliders: AttributeSet = faces.sliders
    edited = []
    for i in range(n):
        names = pick.sample(sliders.names, 2) if two and pick.random() < two else [pick.choice(sliders.names)]
        edits: dict[str, float | str] = {}
        for name in names:
            a = sliders[name]
            edits[name] = (
                pick.choice(("off", "on")) if a.kind == "toggle" else pick.choice((-1, 1)) * pick.uniform(1.0, 3.0)
            )
        edited.append(sliders.drawing(z[i : i + 1], edits))
    return np.concatenate([faces.decode(z), faces.decode(torch.cat(edited))])


def distill(
    images: np.ndarray,
    targets: np.ndarray,
    epochs: int,
    batch: int = 64,
    seed: int = 0,
    progress: bool = True,
    pair_weight: float = PAIR_WEIGHT,
) -> IdentityNet:
    """Fit an IdentityNet to dlib's embeddings of `images` (uint8 NHWC): mean squared error, plus
    `pair_weight` times the same on the distance between each face and its pair (the first half against
    the second)."""
    torch.manual_seed(seed)
    net = IdentityNet()
    x = to_unit(torch.from_numpy(images).permute(0, 3, 1, 2))
    y = torch.from_numpy(targets)
    n = len(x) // 2
    batch = min(batch, n)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 2e-3, total_steps=epochs * (n // batch))
    for _ in tqdm(range(epochs), desc="distil", disable=not progress, mininterval=5):
        order = torch.randperm(n)
        for idx in order[: n // batch * batch].view(-1, batch):  # a face and its edit in the same batch
            both = torch.cat([idx, idx + n])
            flip = torch.rand(()) < 0.5  # a mirrored face is the same person to dlib
            out = net(x[both].flip(-1) if flip else x[both])
            pair = (out[:batch] - out[batch:]).norm(dim=1)
            true_pair = (y[idx] - y[idx + n]).norm(dim=1)
            loss = F.mse_loss(out, y[both]) * EMBEDDING + pair_weight * F.mse_loss(pair, true_pair)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return net.requires_grad_(False).eval()


def agreement(net: IdentityNet, images: np.ndarray, targets: np.ndarray) -> tuple[float, float, float]:
    """On pairs (first half against second): correlation of the net's and dlib's distances, the share of
    pairs on which they agree about "same person", and the net's scale (its mean distance over dlib's:
    a net that follows dlib's distances but halves them takes the editors' free margin to twice dlib's)."""
    with torch.no_grad():
        out = net(to_unit(torch.from_numpy(images).permute(0, 3, 1, 2))).numpy()
    n = len(images) // 2
    mine = np.linalg.norm(out[:n] - out[n:], axis=1)
    theirs = np.linalg.norm(targets[:n] - targets[n:], axis=1)
    agree = float(((mine < SAME_PERSON) == (theirs < SAME_PERSON)).mean())
    return float(np.corrcoef(mine, theirs)[0, 1]), agree, float(mine.mean() / theirs.mean())


@cli
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--faces", type=int, default=4000, help="prior faces; each is also edited (see --two-edits)")
    p.add_argument("--held-out", type=int, default=400, help="of those, pairs kept to measure agreement")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--two-edits", type=float, default=TWO_EDITS, help="share of faces edited by two sliders at once")
    p.add_argument("--pair-weight", type=float, default=PAIR_WEIGHT, help="weight of the face-to-edit distances")
    p.add_argument("--out", type=Path, default=DEFAULT_PATH)
    p.add_argument("--cache", type=Path, default=CACHE_DIR, help="where the faces and dlib's embeddings are kept")
    args = p.parse_args(argv)
    if not 0 < args.held_out < args.faces:
        raise TrainError(f"--held-out must be from 1 to --faces - 1, got {args.held_out}")
    if not 0 <= args.two_edits <= 1:
        raise TrainError(f"--two-edits is a share of the faces, from 0 to 1, got {args.two_edits}")
    if args.pair_weight < 0:
        raise TrainError(f"--pair-weight must be 0 or more, got {args.pair_weight}")
    faces = Faces.load()
    if not faces.attributes:
        raise TrainError("the installed model has no sliders to edit faces with: fit them first")
    cached = args.cache / f"pairs-{args.faces}-{args.two_edits:g}-{faces.sliders.fingerprint}.npz"
    if cached.is_file():
        data = np.load(cached)
        images, targets = data["images"], data["targets"]
    else:
        images = edited_pairs(faces, args.faces, DATA_SEED, args.two_edits)
        targets = dlib_embeddings(images)
        args.cache.mkdir(parents=True, exist_ok=True)
        np.savez(cached, images=images, targets=targets)
    n, k = args.faces, args.faces - args.held_out
    train = np.r_[0:k, n : n + k]
    held = np.r_[k:n, n + k : 2 * n]
    net = distill(images[train], targets[train], args.epochs, pair_weight=args.pair_weight)
    corr, agree, scale = agreement(net, images[held], targets[held])
    print(f"held-out pairs: distance correlation {corr:.3f}, same-person agreement {agree:.3f}, scale {scale:.2f}")
    save_tensors(
        args.out,
        dict(net.state_dict()),
        {
            "width": net.width,
            "faces": args.faces,
            "epochs": args.epochs,
            "two_edits": args.two_edits,
            "pair_weight": args.pair_weight,
            "correlation": corr,
            "agreement": agree,
            "scale": scale,
        },
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    raise SystemExit(main())
