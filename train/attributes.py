"""Fit the attribute sliders, and prove they move only what they say.

    python -m train.attributes                 # fit: writes gan/weights/attributes.safetensors
    python -m train.attributes --report        # measure: writes docs/sliders.md and docs/sliders/*.png

Fitting follows InterFaceGAN: render many faces from prior samples, score them with the project's
attribute classifier and fit a linear boundary for each attribute in latent space (least squares
on the classifier's logit over all samples). A slider moves along that boundary's
normal after projecting it off the normals of the attributes it must not change (conditional
editing, generalised to several conditions by projecting off their span).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gan import Faces
from gan.attributes import Attribute, AttributeSet
from gan.faces import ATTRIBUTES_FILE, GENERATOR_FILE, WEIGHTS_DIR
from gan.imaging import grid, png_bytes

from .classifier import load_classifier, predict_faces
from .errors import TrainError, cli

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "runs" / "attributes" / "samples.pt"
BASE_CONDITIONS = ("Male", "Young", "Pale_Skin")
# The first report showed every slider opening or closing the mouth: condition on it too, except
# where the mouth is the point.
LEAKY = ("Mouth_Slightly_Open",)
FIT_SEED, CALIBRATION_SEED = 11, 12
REPORT_SEEDS = range(1000)
STRIP_SEEDS = (3, 14, 15, 92)
TARGET_MOVE = 0.6  # the slider's own probability should move at least this much from -3 to +3
UNITS = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)  # candidate slider steps, in prior standard deviations
MARGIN = 1.0  # toggles stand this many standard deviations past the boundary


@dataclass(frozen=True)
class Spec:
    name: str
    key: str  # stored in every button of a face with this edit: never reuse or change one
    celeba: str
    sign: int
    kind: str
    description: str
    extra_conditions: tuple[str, ...] = ()


SPECS = (
    Spec("smiling", "sm", "Smiling", 1, "slider", "smile (+) or straight face (-)"),
    Spec("glasses", "gl", "Eyeglasses", 1, "toggle", "put glasses on or take them off"),
    Spec("masculine", "ma", "Male", 1, "slider", "more masculine (+) or feminine (-) features"),
    Spec("age", "ag", "Young", -1, "slider", "older (+) or younger (-)"),
    Spec("pale", "pa", "Pale_Skin", 1, "slider", "paler (+) or less pale (-) skin"),
    Spec("blond", "bl", "Blond_Hair", 1, "slider", "blond hair", ("Black_Hair", "Brown_Hair")),
    Spec("black_hair", "bk", "Black_Hair", 1, "slider", "black hair", ("Blond_Hair", "Brown_Hair")),
    Spec("brown_hair", "br", "Brown_Hair", 1, "slider", "brown hair", ("Blond_Hair", "Black_Hair")),
    Spec("gray_hair", "gr", "Gray_Hair", 1, "slider", "gray hair"),
    Spec("bald", "bd", "Bald", 1, "slider", "less (-) or more (+) hair on top"),
    Spec("beard", "be", "No_Beard", -1, "slider", "beard (+) or clean-shaven (-)"),
    Spec("makeup", "mk", "Heavy_Makeup", 1, "slider", "heavy makeup", ("Wearing_Lipstick",)),
    Spec("hat", "ht", "Wearing_Hat", 1, "toggle", "put a hat on or take it off"),
    Spec("bangs", "bn", "Bangs", 1, "slider", "bangs over the forehead"),
    Spec("mouth_open", "mo", "Mouth_Slightly_Open", 1, "slider", "open (+) or close (-) the mouth", ("Smiling",)),
)


def conditions_for(spec: Spec) -> list[str]:
    leaky = () if spec.name in ("smiling", "mouth_open") else LEAKY
    return [c for c in dict.fromkeys((*BASE_CONDITIONS, *leaky, *spec.extra_conditions)) if c != spec.celeba]


def fit_boundary(z: torch.Tensor, p: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Unit normal and held-out accuracy of the linear boundary
    that best predicts the classifier's logit for one attribute over all samples (least squares).

    Using every sample, not only the extremes, gives the direction along which the attribute
    changes across the whole distribution, which is what the conditions must be orthogonal to.
    """
    logit = torch.logit(p.clamp(1e-4, 1 - 1e-4)).clamp(-8, 8).double()
    x = torch.cat([z.double(), torch.ones(len(z), 1, dtype=torch.float64)], dim=1)
    n_val = len(z) // 5
    sol = torch.linalg.lstsq(x[n_val:], logit[n_val:, None]).solution[:, 0]
    w = sol[:-1]
    return (w / w.norm()).float(), extremes_accuracy(x[:n_val] @ sol, p[:n_val])


def offset_along(z: torch.Tensor, p: torch.Tensor, direction: torch.Tensor) -> float:
    """Offset c of the boundary direction . z + c = 0 where the classifier's probability crosses
    one half along `direction`: a 1-D logistic fit of the probabilities (soft labels) on the
    position along it. (A least-squares fit of logits puts rare attributes' boundaries too far out.)"""
    s = (z @ direction).double()
    params = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([params], max_iter=100, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(params[0] * s + params[1], p.double())
        loss.backward()
        return loss

    opt.step(closure)
    alpha, beta = params.tolist()
    return beta / alpha


def extremes_accuracy(score: torch.Tensor, p: torch.Tensor, keep: float = 0.1) -> float:
    """How well the linear score separates the held-out samples the classifier is most and least
    sure have the attribute (InterFaceGAN's validation measure), thresholded half-way."""
    k = max(1, int(len(p) * keep))
    order = torch.argsort(p)
    lo, hi = score[order[:k]], score[order[-k:]]
    threshold = (lo.mean() + hi.mean()) / 2
    return ((hi > threshold).double().mean() + (lo <= threshold).double().mean()).item() / 2


def project_off(n: torch.Tensor, others: list[torch.Tensor]) -> torch.Tensor:
    """n with its components along span(others) removed, renormalised (InterFaceGAN's conditional
    manipulation, for any number of conditions)."""
    if not others:
        return n.clone()
    q, _ = torch.linalg.qr(torch.stack(others, dim=1).double())
    d = n.double() - q @ (q.T @ n.double())
    return (d / d.norm()).float()


def sample_scores(faces: Faces, classifier, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n prior latents and their 40 probabilities, cached under runs/ (it takes minutes on a CPU)."""
    if CACHE.is_file():
        cached = torch.load(CACHE)
        if len(cached["z"]) >= n and cached["model"] == faces.meta.get("source"):
            return cached["z"][:n], cached["p"][:n]
    z = torch.randn(n, faces.nz, generator=torch.Generator().manual_seed(FIT_SEED))
    p = predict_faces(classifier, faces.decode, z)
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"z": z, "p": p, "model": faces.meta.get("source")}, CACHE)
    return z, p


def effects(faces: Faces, classifier, attribute_set: AttributeSet, name: str, z: torch.Tensor) -> torch.Tensor:
    """Mean change of all 40 probabilities from the slider's low end (-3, off) to its high end
    (+3, on); callers multiply the own attribute's change by the slider's sign."""
    a = attribute_set[name]
    lo, hi = ("off", "on") if a.kind == "toggle" else (-3.0, 3.0)
    return (
        predict_faces(classifier, faces.decode, attribute_set.apply(z, {name: hi}))
        - predict_faces(classifier, faces.decode, attribute_set.apply(z, {name: lo}))
    ).mean(0)


def fit(
    faces: Faces,
    classifier,
    names: list[str],
    n_samples: int,
    conditioned: bool = True,
    units: dict[str, float] | None = None,
) -> AttributeSet:
    """Fit all sliders; `units` (name -> step) skips the step calibration."""
    z, p = sample_scores(faces, classifier, n_samples)
    needed = sorted({s.celeba for s in SPECS} | {c for s in SPECS for c in conditions_for(s)})
    boundaries = {attr: fit_boundary(z, p[:, names.index(attr)]) for attr in needed}
    calib = torch.randn(200, faces.nz, generator=torch.Generator().manual_seed(CALIBRATION_SEED))
    attributes = []
    for s in SPECS:
        normal, acc = boundaries[s.celeba]
        conds = conditions_for(s) if conditioned else []
        direction = project_off(normal, [boundaries[c][0] for c in conds])
        a = Attribute(
            name=s.name,
            key=s.key,
            celeba=s.celeba,
            sign=s.sign,
            kind=s.kind,
            conditions=conds,
            accuracy=round(acc, 4),
            description=s.description,
            direction=direction,
            margin=MARGIN if s.kind == "toggle" else 0.0,
        )
        if s.kind == "toggle":  # the side is read along the move itself, so any margin is reachable
            a.offset = offset_along(z, p[:, names.index(s.celeba)], direction)
        if units is not None:
            a.unit = units[s.name]
        elif s.kind == "slider":  # the smallest step whose +-3 moves the attribute enough
            for unit in UNITS:
                a.unit = unit
                if (
                    s.sign * effects(faces, classifier, AttributeSet([a]), s.name, calib)[names.index(s.celeba)]
                    >= TARGET_MOVE
                ):
                    break
        attributes.append(a)
        print(f"{s.name:<11} {s.celeba:<20} acc {acc:.3f} unit {a.unit:.2f} conditions {conds}", flush=True)
    return AttributeSet(attributes, {attr: b[0] for attr, b in boundaries.items()})


# --- report ---------------------------------------------------------------------------------------
def strip(faces: Faces, attribute_set: AttributeSet, name: str) -> np.ndarray:
    a = attribute_set[name]
    values = ["off", None, "on"] if a.kind == "toggle" else [-3, -2, -1, 0, 1, 2, 3]
    rows = []
    for seed in STRIP_SEEDS:
        z = faces.latent([seed])
        rows += [faces.decode(attribute_set.apply(z, {name: v}) if v else z)[0] for v in values]
    return grid(np.stack(rows), cols=len(values))


def report(faces: Faces, classifier, names: list[str], n_samples: int, out_md: Path) -> None:
    after = faces.sliders
    before = fit(
        faces,
        classifier,
        names,
        n_samples,
        conditioned=False,  # same steps: only the projection differs
        units={a.name: a.unit for a in after},
    )
    z = faces.latent(list(REPORT_SEEDS))
    strips_dir = out_md.parent / "sliders"
    strips_dir.mkdir(parents=True, exist_ok=True)
    rows, details = [], []
    smile = {}
    for name in after.names:
        a = after[name]
        eb, ea = effects(faces, classifier, before, name, z), effects(faces, classifier, after, name, z)
        own = names.index(a.celeba)
        watch = [c for c in BASE_CONDITIONS if c != a.celeba]
        others = [i for i in range(len(names)) if i != own]
        worst = max(others, key=lambda i: abs(ea[i]))
        ok = a.sign * ea[own] >= TARGET_MOVE and all(abs(ea[names.index(c)]) <= 0.1 for c in watch)
        rows.append(
            f"| {name} | {a.kind} | {a.celeba} {'+' if a.sign > 0 else '-'} | {a.accuracy:.3f} | "
            f"{a.sign * eb[own]:+.2f} / **{a.sign * ea[own]:+.2f}** | "
            + " | ".join(
                f"{eb[names.index(c)]:+.2f} / **{ea[names.index(c)]:+.2f}**" if c != a.celeba else "(own)"
                for c in BASE_CONDITIONS
            )
            + f" | {names[worst]} {ea[worst]:+.2f} | {'yes' if ok else 'no'} |"
        )
        details.append(
            f"<details><summary>{name}: all 40 attributes</summary>\n\n| attribute | before | after |\n|---|---|---|\n"
            + "\n".join(f"| {n} | {eb[i]:+.3f} | {ea[i]:+.3f} |" for i, n in enumerate(names))
            + "\n\n</details>\n"
        )
        (strips_dir / f"{name}.png").write_bytes(png_bytes(strip(faces, after, name)))
        if name == "smiling":
            smile = {
                c: (eb[names.index(c)].item(), ea[names.index(c)].item()) for c in ("Male", "Pale_Skin", "Smiling")
            }
        print(rows[-1], flush=True)
    lines = [
        "# Attribute sliders: what each one moves",
        "",
        "Written by `python -m train.attributes --report`. Each slider is applied to the same "
        f"{len(REPORT_SEEDS)} seeds (0..{len(REPORT_SEEDS) - 1}) at -3 and +3 (toggles: off and on); the numbers are "
        "the mean change of the attribute classifier's probability between the two ends. "
        "**before** = the raw InterFaceGAN boundary normal, **after** = the shipped direction, projected off "
        "its conditions. Targets: own attribute moves >= 0.6; Male, Young and Pale_Skin move <= 0.1.",
        "",
        "## The seed's bug: Smiling changed gender and skin",
        "",
        f"Smiling -3 to +3 moved Male by {smile['Male'][0]:+.3f} and Pale_Skin by {smile['Pale_Skin'][0]:+.3f} "
        f"before the projection, and by {smile['Male'][1]:+.3f} and {smile['Pale_Skin'][1]:+.3f} after it, "
        f"while Smiling itself moved {smile['Smiling'][1]:+.3f}.",
        "",
        "## All sliders (before / **after**)",
        "",
        "| slider | kind | CelebA | fit acc. | own | Male | Young | Pale_Skin "
        "| largest other change (after) | targets met |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"Picture strips (seeds {', '.join(map(str, STRIP_SEEDS))}; -3..+3, toggles off / unedited / on): "
        + ", ".join(f"[{n}](sliders/{n}.png)" for n in after.names),
        "",
        "## Every attribute, per slider",
        "",
        *details,
    ]
    out_md.write_text("\n".join(lines) + "\n")
    print(f"wrote {out_md}")


@cli
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=WEIGHTS_DIR, help="folder of the generator; the sliders go beside it")
    p.add_argument("--samples", type=int, default=50_000, help="prior samples to fit on")
    p.add_argument("--report", action="store_true", help="measure the installed sliders instead of fitting")
    p.add_argument("--report-file", type=Path, default=ROOT / "docs" / "sliders.md")
    args = p.parse_args(argv)
    classifier, names = load_classifier()
    faces = Faces.load(args.out / GENERATOR_FILE)
    if args.report:
        if not faces.attributes:
            raise TrainError(f"no sliders in {args.out}: fit them first")
        report(faces, classifier, names, args.samples, args.report_file)
        return
    attribute_set = fit(faces, classifier, names, args.samples)
    attribute_set.save(
        args.out / ATTRIBUTES_FILE,
        {"samples": args.samples, "generator": faces.meta.get("source"), "target_move": TARGET_MOVE, "margin": MARGIN},
    )
    print(f"wrote {args.out / ATTRIBUTES_FILE}")


if __name__ == "__main__":
    raise SystemExit(main())
