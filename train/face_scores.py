"""How good a generated face looks, judged several ways, and the latent critic distilled from a judge.

The library under `python -m train.critic`:
- the classifier's view of generated faces, the realism score and improved precision/recall of
  Kynkaanniemi et al. 2019 in its features;
- dlib's HOG face detector's confidence that the picture holds a face: melted features, a patch
  over an eye or a second mouth lower it;
- discriminators trained on the CPU against the frozen generator (Azadi et al.'s rejection sampling),
  on the classifier's features or on the pixels;
- the distillation of any such score into a `gan.critic.LatentCritic` on z.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm

from gan import Faces
from gan.critic import LatentCritic
from gan.imaging import upscale

from .classifier import flip_and_shift, predict
from .data import to_unit
from .errors import TrainError

K = 3  # neighbours of the realism score and of precision/recall, as in the paper
HIDDEN = 256
SKIN_BOX = (slice(35, 44), slice(22, 42))  # rows, columns of the 64 px celeba64 crop: below the eyes, above the mouth
DETECT_PX = 128  # faces are upscaled to this for the detector, whose window is 80 px
NO_FACE = -3.0  # the detector's score for a picture in which it finds no face at all (its lowest threshold)


@dataclass
class Samples:
    """Prior latents and what the classifier sees in their faces."""

    z: torch.Tensor  # (N, nz)
    features: torch.Tensor  # (N, 256)
    probs: torch.Tensor  # (N, 40)
    face: torch.Tensor  # (N,) the face detector's confidence


def face_detector() -> Callable[[np.ndarray], torch.Tensor]:
    """dlib's HOG frontal face detector, as uint8 faces (N, 64, 64, 3) -> (N,) confidence that each is a
    face (NO_FACE if none is found). Serial: one detector object is not safe to share between threads."""
    try:
        import dlib  # the fitting extra: pip install -e '.[fit]'
    except ImportError:
        raise TrainError("fitting the critic needs dlib's face detector: pip install -e '.[fit]'") from None
    detector = dlib.get_frontal_face_detector()

    def scores(images: np.ndarray) -> torch.Tensor:
        out = [max(detector.run(im, 0, NO_FACE)[1], default=NO_FACE) for im in upscale(images, DETECT_PX)]
        return torch.tensor(out, dtype=torch.float32)

    return scores


@torch.no_grad()
def seen(classifier, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The classifier's features (N, 256) and probabilities (N, 40) of uint8 faces (N, 3, 64, 64)."""
    features = predict(classifier, images, features=True)
    return features, torch.sigmoid(classifier.head(features))


def sample(faces: Faces, classifier, z: torch.Tensor, batch: int = 500, progress: bool = True) -> Samples:
    """What the classifier and the face detector see in the faces of prior latents z, drawn as users
    see them (uint8)."""
    detect = face_detector()
    feats, probs, face = [], [], []
    for chunk in tqdm(z.split(batch), desc="faces", unit="batch", disable=not progress):
        images = faces.decode(faces.edit(chunk))
        f, p = seen(classifier, torch.from_numpy(images).permute(0, 3, 1, 2))
        feats.append(f)
        probs.append(p)
        face.append(detect(images))
    return Samples(z, torch.cat(feats), torch.cat(probs), torch.cat(face))


def knn_radii(features: torch.Tensor, k: int = K) -> torch.Tensor:
    """Each point's distance to its k-th nearest other point."""
    return torch.cat([torch.cdist(c, features).kthvalue(k + 1, dim=1).values for c in features.split(2048)])


def realism(generated: torch.Tensor, real: torch.Tensor, k: int = K) -> torch.Tensor:
    """Kynkaanniemi et al.'s realism score of each generated feature vector: the largest ratio of a
    real sample's k-NN radius to its distance from the generated one, over the real samples whose
    radius is at most the median (the paper's pruning of outliers). >= 1 means inside the real manifold."""
    radii = knn_radii(real, k)
    keep = radii <= radii.median()
    real, radii = real[keep], radii[keep]
    scores = [(radii / torch.cdist(c, real).clamp_min(1e-8)).amax(1) for c in generated.split(2048)]
    return torch.cat(scores).clamp_min(1e-8)  # > 0, so its log is finite even where every radius is 0


def precision_recall(generated: torch.Tensor, real: torch.Tensor, k: int = K) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019): the share of generated samples inside
    the real manifold (k-NN balls of the real samples), and of real samples inside the generated one."""
    d = torch.cdist(generated, real)
    precision = (d <= knn_radii(real, k)[None, :]).any(1).float().mean().item()
    recall = (d.T <= knn_radii(generated, k)[None, :]).any(1).float().mean().item()
    return precision, recall


def feature_discriminator(real: torch.Tensor, fake: torch.Tensor, epochs: int = 20, seed: int = 0) -> Callable:
    """A discriminator on classifier features, trained against the frozen generator's faces (the
    discriminator of Azadi et al.'s rejection sampling, in the features: a minute on a CPU). Returns
    features -> logit (higher: looks more real)."""
    torch.manual_seed(seed)
    x = torch.cat([real, fake])
    y = torch.cat([torch.ones(len(real)), torch.zeros(len(fake))])
    mu, sd = x.mean(0), x.std(0) + 1e-3
    net = LatentCritic(x.shape[1], HIDDEN).net  # the same MLP shape, on features
    _train(net, (x - mu) / sd, y, epochs, F.binary_cross_entropy_with_logits, weight_decay=1e-3)
    return lambda f: net((f - mu) / sd).squeeze(1).detach()


def pixel_discriminator(real: torch.Tensor, fake: torch.Tensor, steps: int = 1000, seed: int = 0) -> Callable:
    """A small convolutional discriminator on the pixels (Azadi et al.'s, trained on the CPU against the
    frozen generator for a few minutes): uint8 real and generated faces (N, 3, 64, 64). The generated
    ones go through the pack's WebP (quality 90) first, so compression is no tell. Returns uint8 faces ->
    logit (higher: looks more real)."""
    torch.manual_seed(seed)
    fake = webp_round_trip(fake)
    c = 32
    layers: list[torch.nn.Module] = []
    for cin, cout in ((3, c), (c, 2 * c), (2 * c, 4 * c), (4 * c, 8 * c)):  # 32, 16, 8, 4 px
        layers += [torch.nn.Conv2d(cin, cout, 4, 2, 1), torch.nn.LeakyReLU(0.2)]
    net = torch.nn.Sequential(*layers, torch.nn.Flatten(), torch.nn.Dropout(0.3), torch.nn.Linear(8 * c * 16, 1))
    opt = torch.optim.AdamW(net.parameters(), 2e-4, betas=(0.5, 0.999), weight_decay=1e-2)
    batch = 64
    y = torch.cat([torch.ones(batch), torch.zeros(batch)])
    net.train()
    for _ in range(steps):
        x = torch.cat([real[torch.randint(0, len(real), (batch,))], fake[torch.randint(0, len(fake), (batch,))]])
        loss = F.binary_cross_entropy_with_logits(net(flip_and_shift(to_unit(x))).squeeze(1), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    net.eval()

    @torch.no_grad()
    def score(images: torch.Tensor) -> torch.Tensor:
        return torch.cat([net(to_unit(c)).squeeze(1) for c in images.split(1000)])

    return score


def webp_round_trip(images: torch.Tensor, quality: int = 90) -> torch.Tensor:
    """uint8 faces (N, 3, H, W) as they come back from WebP at this quality (the pack's format)."""
    out = []
    for image in images.permute(0, 2, 3, 1).numpy():
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, "WEBP", quality=quality)
        out.append(np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")))
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2)


# --- the critic on z ------------------------------------------------------------------------------------
def attribute_neutral(score: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
    """The part of a score that the 40 attribute probabilities do not explain linearly: a critic fitted
    to it judges each face against faces of the same attributes, so filtering by it barely moves how
    often each attribute is drawn (realism alone favours, for one, faces that do not smile)."""
    x = torch.cat([probs, torch.ones(len(probs), 1)], 1).double()
    beta = torch.linalg.lstsq(x, score.double()[:, None]).solution
    return (score.double() - (x @ beta)[:, 0]).float()


def standardised(x: torch.Tensor) -> torch.Tensor:
    """Mean 0, standard deviation 1 (a constant stays 0)."""
    return (x - x.mean()) / x.std().clamp_min(1e-8)


def distil(z: torch.Tensor, target: torch.Tensor, drop: float, epochs: int = 15, seed: int = 0) -> LatentCritic:
    """A LatentCritic that regresses the standardised target from z, its threshold at the `drop` quantile
    of its own scores on the fitting latents. Few epochs: longer fits overfit the noisy per-face target."""
    if not torch.isfinite(target).all():
        raise TrainError("the critic's target is not finite for every sample: is the generator drawing anything?")
    torch.manual_seed(seed)
    y = standardised(target)
    critic = LatentCritic(z.shape[1], HIDDEN)
    _train(critic.net, z, y, epochs, F.mse_loss, weight_decay=1e-2)
    with torch.no_grad():  # the weights as the fp16 file will hold them, so the threshold fits what ships
        for p in critic.parameters():
            p.copy_(p.half().float())
    critic.eval()
    critic.threshold = float(torch.quantile(critic.score(z), drop))
    return critic


def _train(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int, loss_fn, weight_decay: float) -> None:
    """Minibatch AdamW with a cosine schedule; net maps (B, D) to (B, 1)."""
    batch = 256
    steps = epochs * -(-len(x) // batch)
    opt = torch.optim.AdamW(net.parameters(), 1e-3, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    net.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(x)).split(batch):
            loss = loss_fn(net(x[idx]).squeeze(1), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    net.eval()


def skin_luminance(images: torch.Tensor) -> torch.Tensor:
    """(N,) mean luma (Rec. 601, 0..255) of the cheeks-and-nose box of aligned 64 px faces (N, 3, 64, 64)
    uint8: a rough skin tone, for checking that a filter does not shift whom it draws."""
    box = images[:, :, SKIN_BOX[0], SKIN_BOX[1]].float()
    return (0.299 * box[:, 0] + 0.587 * box[:, 1] + 0.114 * box[:, 2]).mean((1, 2))
