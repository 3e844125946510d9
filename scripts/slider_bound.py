"""How far a slider's edit can go on this generator, judged by this classifier: each face optimised alone.

    python scripts/slider_bound.py gray_hair              # + end, hold of 100 on Male, Young, Pale_Skin
    python scripts/slider_bound.py glasses --eyes 3       # glasses, the eyes themselves held 3x

An editor (train/editing.py) amortises a per-face search; this runs the search itself (Adam on each
face's latent, from the shipped edit, with the editor's losses) on held-out seeds, so a slider that
misses a target can be told apart: an editor that has not learned enough, or an edit this generator and
classifier do not have. It prints, for the shipped edit and the optimised one, the mean change of the
slider's own attribute, Male, Young and Pale_Skin from the unedited faces, and dlib's same-person share:
for all faces, then apart for those the classifier reads as men and as women before the edit. Run it at
several --hold values to see the trade between the own attribute and the held ones.
docs/sliders.md (Notes) holds what it measured.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from gan import Faces  # noqa: E402
from gan.imaging import to_uint8  # noqa: E402
from train.classifier import load_classifier  # noqa: E402
from train.editing import Weights, differentiable_draw  # noqa: E402
from train.identity import SAME_PERSON, distances, recognizer  # noqa: E402
from train.slider_specs import BASE_CONDITIONS, SPECS, hold_for  # noqa: E402

FIRST_SEED = 5000  # neither the fitting nor the report draws these


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("slider", choices=[s.name for s in SPECS])
    p.add_argument("--hold", type=float, default=100.0, help="extra weight on Male, Young and Pale_Skin")
    p.add_argument("--goal", type=float, default=2.0, help="the own logit asked for, on the slider's side")
    p.add_argument("--eyes", type=float, default=None, help="weight of the eyes' pixels (default: the region's)")
    p.add_argument("--faces", type=int, default=48)
    p.add_argument("--steps", type=int, default=150)
    args = p.parse_args()
    torch.manual_seed(0)
    faces = Faces.load()
    classifier, names = load_classifier()
    classifier.requires_grad_(False)
    spec = next(s for s in SPECS if s.name == args.slider)
    attribute = faces.sliders[spec.name]
    hold = hold_for(dataclasses.replace(spec, weights=Weights(keep_base=args.hold, eyes=args.eyes)), names)
    own = names.index(spec.celeba)
    draw = differentiable_draw(faces)

    # The unedited faces and the shipped edit at the slider's + end.
    z0 = faces.edit(faces.latent(list(range(FIRST_SEED, FIRST_SEED + args.faces))))
    side = torch.full((args.faces,), 1.0)
    with torch.no_grad():
        x0 = draw(z0)
        p0 = torch.sigmoid(classifier(x0))
        shipped = attribute.slide(z0, 3 * side) if attribute.kind == "slider" else attribute.toggle(z0, side)

    # Each face's latent optimised alone, with the editor's losses.
    z = shipped.clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=0.03)
    for _ in range(args.steps):
        x = draw(z)
        logits = classifier(x)
        loss = torch.relu(args.goal - spec.sign * logits[:, own]) + hold.cost(z0, x0, p0, z, x, logits)
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()

    embed = recognizer()
    e0 = embed(to_uint8(x0))
    men = (p0[:, names.index("Male")] > 0.5).numpy()
    for tag, latents in (("shipped", shipped), ("optimised", z.detach())):
        with torch.no_grad():
            x = draw(latents)
            move = (torch.sigmoid(classifier(x)) - p0).numpy()
        same = distances(embed(to_uint8(x)), e0) < SAME_PERSON
        for who, rows in (("all", men | ~men), ("men", men), ("women", ~men)):
            m = move[rows].mean(0)
            print(
                f"{spec.name} {tag:<9} {who:<5} ({rows.sum():>3}) own {spec.sign * m[own]:+.2f}  "
                + "  ".join(f"{c} {m[names.index(c)]:+.2f}" for c in BASE_CONDITIONS if c != spec.celeba)
                + f"  same person {same[rows].mean():.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
