"""Measure the installed sliders against the global directions their editors bend, and write it up.

`measure` renders each slider's two ends (-3 / +3, toggles off / on) on held-out seeds (0..N-1: the
fitting draws its latents from its own random streams, never from seeds) and asks the attribute
classifier what moved and dlib's face recognizer whether it is still the same person; `write`
turns the measures into docs/sliders.md and its pictures. "before" is the same sliders with their
editors taken off (one global direction per slider, InterFaceGAN), "after" the shipped ones.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from gan import Faces
from gan.attributes import SLIDER_RANGE, TOGGLE_VALUES, Attribute, AttributeSet, Edits, shared
from gan.imaging import grid, png_bytes

from .classifier import AttributeClassifier, predict
from .evaluate import frechet_distance
from .identity import SAME_PERSON, distances, dlib_embeddings, recognizer
from .slider_specs import (
    BASE_CONDITIONS,
    LOOSE_REASON,
    LOOSE_SIDE_EFFECT,
    MAX_SIDE_EFFECT,
    SAME_PERSON_TARGET,
    SAME_PERSON_TARGET_LOOSE,
    SPEC,
    SPECS,
    TARGET_MOVE,
    conflict,
    same_person_target,
    side_effect_limit,
)

STRIP_SEEDS = (3, 14, 15, 92)
STRIP_VALUES = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0)
COMBO: dict[str, float | str] = {"smiling": 2.0, "glasses": "on"}
SMILE_ONLY = {k: v for k, v in COMBO.items() if k == "smiling"}  # what the combination is checked against
COMBO_PICTURE_SEEDS = 8
NOTES = "## Notes"  # from this heading on, docs/sliders.md is written by hand: the report keeps it
MONOTONE_SLACK = 0.02  # a face's own probability may dip this much between slider steps
PAIR_VALUE = 2.0  # each slider of a pair is set to this (a toggle: on)
PAIR_HOLD = 0.15  # a slider's own attribute, with another edit on top, stays within this of it alone
PAIR_SAME_SLACK = 0.03  # same-person shares within this count as equal (one standard error at 200 faces)
PERSON_CHANGES = "the person changes"  # what a pair misses when it keeps the person less often than either alone


@dataclass
class Side:
    """One slider set's effect of one slider: mean change of all 40 probabilities from the low to the
    high end, and at each end the share of faces still the same person and the median distance."""

    move: torch.Tensor  # (40,)
    same: tuple[float, float]
    distance: tuple[float, float]


@dataclass
class SliderMeasure:
    name: str
    kind: str
    celeba: str
    sign: int
    before: Side
    after: Side
    monotone: float | None  # sliders: share of faces whose own probability rises step by step from -3 to +3


@dataclass
class ComboMeasure:
    """`smiling:+2 glasses:on` against `smiling:+2` alone, per slider set."""

    smile_alone: float
    smile_with_glasses: float
    glasses: float
    same: float


@dataclass
class PairMeasure:
    """Two sliders at PAIR_VALUE (toggles on) together against each alone, on the identity seeds.
    `own_*`: each one's own attribute (its probability on the slider's side), alone and together."""

    first: str
    second: str
    own_alone: tuple[float, float]
    own_both: tuple[float, float]
    same_alone: tuple[float, float]
    same_both: float

    def kept(self) -> tuple[bool, bool]:
        """Whether each slider's own attribute stays within PAIR_HOLD of what it reaches alone."""
        return tuple(both >= alone - PAIR_HOLD for alone, both in zip(self.own_alone, self.own_both, strict=True))

    def misses(self) -> list[str]:
        """What the pair misses: a slider's own attribute not kept, the person not kept as often."""
        faded = [f"{name} fades" for name, kept in zip((self.first, self.second), self.kept(), strict=True) if not kept]
        return faded + ([PERSON_CHANGES] if self.same_both < min(self.same_alone) - PAIR_SAME_SLACK else [])

    def composes(self) -> bool:
        """Both own attributes kept, and the same person as often as with the weaker of the two alone."""
        return not self.misses()


@dataclass
class Measures:
    names: list[str]  # the classifier's 40 attributes
    seeds: int
    identity_seeds: int
    sliders: list[SliderMeasure]
    combo: dict[str, ComboMeasure]  # "before" / "after"
    pairs: list[PairMeasure]  # every pair of the shipped sliders
    fd: tuple[float, float] | None  # unedited, edited faces vs the holdout (None without the data)


class Judge:
    """The classifier and the recognizer, with the unedited faces' embeddings kept."""

    def __init__(self, faces: Faces, classifier: AttributeClassifier, seeds: int, identity_seeds: int):
        self.faces, self.classifier, self.identity_seeds = faces, classifier, identity_seeds
        self.latents = faces.edit(faces.latent(list(range(seeds))))
        self.embed = recognizer()
        self.plain = faces.decode(self.latents)
        self.plain_embedding = self.embed(self.plain[:identity_seeds])

    def probabilities(self, images: np.ndarray) -> torch.Tensor:
        return predict(self.classifier, _chw(images))

    def distance(self, images: np.ndarray) -> np.ndarray:
        """Recognizer distance of the first identity_seeds faces to their unedited selves (0 if unchanged)."""
        n = self.identity_seeds
        changed = np.flatnonzero((images[:n] != self.plain[:n]).any(axis=(1, 2, 3)))
        out = np.zeros(n, np.float32)
        if len(changed):
            out[changed] = distances(self.embed(images[changed]), self.plain_embedding[changed])
        return out

    def draw(self, sliders: AttributeSet, edits: Edits, count: int | None = None) -> np.ndarray:
        return self.faces.decode(sliders.drawing(self.latents[:count], edits))


def without_editors(sliders: AttributeSet) -> AttributeSet:
    """The global directions alone, drawn over the whole face as InterFaceGAN draws them."""
    return AttributeSet([dataclasses.replace(a, editor=None, region=None) for a in sliders], sliders.boundaries)


def effects(
    faces: Faces, classifier: AttributeClassifier, sliders: AttributeSet, name: str, z: torch.Tensor
) -> torch.Tensor:
    """Mean change of all 40 probabilities from the slider's low end (-3, off) to its high end
    (+3, on) on latents z; callers multiply the own attribute's change by the slider's sign."""
    ends = TOGGLE_VALUES if sliders[name].kind == "toggle" else SLIDER_RANGE
    lo, hi = (predict(classifier, _chw(faces.decode(sliders.drawing(z, {name: v})))) for v in ends)
    return (hi - lo).mean(0)


def measure(
    faces: Faces,
    classifier: AttributeClassifier,
    names: list[str],
    seeds: int,
    identity_seeds: int,
    holdout: np.ndarray | None = None,
) -> Measures:
    """Every slider, before and after, on seeds 0..seeds-1 (identity on the first identity_seeds);
    the Frechet distances too when holdout faces (uint8 (N, 64, 64, 3)) are given."""
    judge = Judge(faces, classifier, seeds, identity_seeds)
    sets = {"before": without_editors(faces.sliders), "after": faces.sliders}
    measured = []
    for a in tqdm(list(faces.sliders), desc="sliders"):
        ends = TOGGLE_VALUES if a.kind == "toggle" else SLIDER_RANGE
        sides = {}
        for label, sliders in sets.items():
            images = [judge.draw(sliders, {a.name: v}) for v in ends]
            p = [judge.probabilities(im) for im in images]
            d = [judge.distance(im) for im in images]
            sides[label] = Side(
                (p[1] - p[0]).mean(0),
                (float((d[0] < SAME_PERSON).mean()), float((d[1] < SAME_PERSON).mean())),
                (float(np.median(d[0])), float(np.median(d[1]))),
            )
        monotone = _monotone(judge, faces.sliders, a.name, names.index(a.celeba)) if a.kind == "slider" else None
        measured.append(SliderMeasure(a.name, a.kind, a.celeba, a.sign, sides["before"], sides["after"], monotone))
    combo = {label: _combo(judge, sliders, names) for label, sliders in sets.items()} if _has_combo(faces) else {}
    pairs = measure_pairs(judge, faces.sliders, names)
    fd = _frechet(judge, faces.sliders, holdout) if holdout is not None else None
    return Measures(names, seeds, identity_seeds, measured, combo, pairs, fd)


def _chw(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).permute(0, 3, 1, 2)


def _has_combo(faces: Faces) -> bool:
    return set(COMBO) <= set(faces.attributes)


def _monotone(judge: Judge, sliders: AttributeSet, name: str, own: int) -> float:
    """Share of the identity seeds' faces whose own probability (times the slider's sign) never
    drops by more than MONOTONE_SLACK from one step of STRIP_VALUES to the next."""
    sign = sliders[name].sign
    n = judge.identity_seeds
    p = torch.stack([judge.probabilities(judge.draw(sliders, {name: v}, n))[:, own] * sign for v in STRIP_VALUES])
    return float(((p[1:] - p[:-1]) >= -MONOTONE_SLACK).all(0).float().mean())


def _combo(judge: Judge, sliders: AttributeSet, names: list[str]) -> ComboMeasure:
    n = judge.identity_seeds
    alone, both = judge.draw(sliders, SMILE_ONLY, n), judge.draw(sliders, COMBO, n)
    p_alone, p_both = judge.probabilities(alone), judge.probabilities(both)
    smile, glasses = names.index("Smiling"), names.index("Eyeglasses")
    return ComboMeasure(
        p_alone[:, smile].mean().item(),
        p_both[:, smile].mean().item(),
        p_both[:, glasses].mean().item(),
        float((judge.distance(both) < SAME_PERSON).mean()),
    )


def high_end(a: Attribute) -> float | str:
    return "on" if a.kind == "toggle" else PAIR_VALUE


def measure_pairs(judge: Judge, sliders: AttributeSet, names: list[str]) -> list[PairMeasure]:
    """Every pair of sliders at their high ends (PAIR_VALUE, toggles on), together and alone, on the
    identity seeds: each one's own attribute and dlib's same-person share (embedded in worker processes:
    these are the report's most faces)."""
    n = judge.identity_seeds
    pairs = list(itertools.combinations(sliders, 2))
    asked = [{a.name: high_end(a)} for a in sliders] + [{a.name: high_end(a), b.name: high_end(b)} for a, b in pairs]
    images = np.concatenate([judge.draw(sliders, edits, n) for edits in tqdm(asked, desc="pairs", mininterval=10)])
    p = judge.probabilities(images).split(n)
    d = distances(dlib_embeddings(images), np.tile(judge.plain_embedding, (len(asked), 1)))
    same = [float(x) for x in (d.reshape(len(asked), n) < SAME_PERSON).mean(1)]

    def own(a: Attribute, k: int) -> float:
        column = p[k][:, names.index(a.celeba)]
        return float((column if a.sign > 0 else 1 - column).mean())

    index = {a.name: k for k, a in enumerate(sliders)}
    return [
        PairMeasure(
            a.name,
            b.name,
            (own(a, index[a.name]), own(b, index[b.name])),
            (own(a, len(index) + k), own(b, len(index) + k)),
            (same[index[a.name]], same[index[b.name]]),
            same[len(index) + k],
        )
        for k, (a, b) in enumerate(pairs)
    ]


def _frechet(judge: Judge, sliders: AttributeSet, holdout: np.ndarray) -> tuple[float, float]:
    """Frechet distance to the holdout of the unedited faces, and of the same seeds each with one
    edit: slider k (in turn) at one of its ends (in turn)."""
    real = predict(judge.classifier, _chw(holdout), features=True).double().numpy()
    edited = np.empty_like(judge.plain)
    for i, chunk in enumerate(np.array_split(np.arange(len(judge.plain)), 2 * len(sliders.names))):
        a = sliders[sliders.names[i // 2]]
        value = (TOGGLE_VALUES if a.kind == "toggle" else SLIDER_RANGE)[i % 2]
        edited[chunk] = judge.faces.decode(sliders.drawing(judge.latents[chunk], {a.name: value}))
    fd = [
        frechet_distance(predict(judge.classifier, _chw(x), features=True).double().numpy(), real)
        for x in (judge.plain, edited)
    ]
    return fd[0], fd[1]


# --- writing ---------------------------------------------------------------------------------------
def targets_met(m: SliderMeasure, names: list[str]) -> tuple[bool, bool]:
    """(attribute targets, identity target) of the shipped slider."""
    move, spec = m.after.move, SPEC[m.name]
    moves = m.sign * move[names.index(m.celeba)] >= TARGET_MOVE
    held = all(abs(move[names.index(c)]) <= side_effect_limit(spec, c) for c in BASE_CONDITIONS if c != m.celeba)
    return bool(moves and held), min(m.after.same) >= same_person_target(spec)


def strip(faces: Faces, sets: tuple[AttributeSet, AttributeSet], name: str) -> np.ndarray:
    """For each of STRIP_SEEDS, a row with the global direction and a row with the shipped editor,
    from the low end to the high end (toggles: off, unedited, on)."""
    a = faces.sliders[name]
    values = ("off", None, "on") if a.kind == "toggle" else STRIP_VALUES
    rows = []
    for seed in STRIP_SEEDS:
        latent = faces.edit(faces.latent([seed]))
        for sliders in sets:
            rows += [faces.decode(sliders.drawing(latent, {name: v}) if v else latent)[0] for v in values]
    return grid(np.stack(rows), cols=len(values))


def combo_picture(faces: Faces, sets: tuple[AttributeSet, AttributeSet]) -> np.ndarray:
    """Columns: unedited, smiling +2, smiling +2 and glasses on, before, then after."""
    latents = faces.edit(faces.latent(list(range(COMBO_PICTURE_SEEDS))))
    columns = [latents]
    for sliders in sets:
        columns += [sliders.drawing(latents, SMILE_ONLY), sliders.drawing(latents, COMBO)]
    images = np.stack([faces.decode(c) for c in columns], axis=1)  # (seeds, columns, 64, 64, 3)
    return grid(images.reshape(-1, *images.shape[2:]), cols=len(columns))


def write(faces: Faces, m: Measures, out_md: Path) -> None:
    """docs/sliders.md from the measures, with a picture strip per slider and one of the combination."""
    pictures = out_md.parent / "sliders"
    sets = (without_editors(faces.sliders), faces.sliders)  # before, after
    pictures.mkdir(parents=True, exist_ok=True)
    names = m.names
    rows, identity_rows, details = [], [], []
    for s in m.sliders:
        own = names.index(s.celeba)
        others = [i for i in range(len(names)) if i != own]
        worst = max(others, key=lambda i: abs(s.after.move[i]))
        moves, same = targets_met(s, names)

        def pair(i: int, s: SliderMeasure = s) -> str:
            return f"{s.before.move[i]:+.2f} / **{s.after.move[i]:+.2f}**"

        rows.append(
            f"| {s.name} | {s.kind} | {s.celeba} {'+' if s.sign > 0 else '-'} | "
            f"{s.sign * s.before.move[own]:+.2f} / **{s.sign * s.after.move[own]:+.2f}** | "
            + " | ".join(pair(names.index(c)) if c != s.celeba else "(own)" for c in BASE_CONDITIONS)
            + f" | {names[worst]} {s.after.move[worst]:+.2f} | "
            + (f"{s.monotone:.2f}" if s.monotone is not None else "toggle")
            + f" | {'yes' if moves else 'no'} |"
        )
        lo, hi = ("off", "on") if s.kind == "toggle" else ("-3", "+3")
        identity_rows.append(
            f"| {s.name} | {lo}: {s.before.same[0]:.2f} / **{s.after.same[0]:.2f}** "
            f"({s.before.distance[0]:.2f} / {s.after.distance[0]:.2f}) | {hi}: {s.before.same[1]:.2f} / "
            f"**{s.after.same[1]:.2f}** ({s.before.distance[1]:.2f} / {s.after.distance[1]:.2f}) | "
            f"{'yes' if same else 'no'} |"
        )
        details.append(
            f"<details><summary>{s.name}: all 40 attributes</summary>\n\n"
            "| attribute | before | after |\n|---|---|---|\n"
            + "\n".join(f"| {n} | {s.before.move[i]:+.3f} | {s.after.move[i]:+.3f} |" for i, n in enumerate(names))
            + "\n\n</details>\n"
        )
        (pictures / f"{s.name}.png").write_bytes(png_bytes(strip(faces, sets, s.name)))
    met = sum(all(targets_met(s, names)) for s in m.sliders)
    missed = [_missed(s, names) for s in m.sliders if not all(targets_met(s, names))]
    lines = [
        "# Attribute sliders: what each one moves, and whether the face stays the same person",
        "",
        f"Written by `python -m train.attributes --report`. Each slider is applied to the same {m.seeds} held-out "
        f"seeds (0..{m.seeds - 1}; the fitting never draws from seeds) at -3 and +3 (toggles: off and on). "
        "**before** = one global direction per slider (InterFaceGAN, projected off its conditions), "
        "**after** = the shipped sliders: the same directions bent per face by each slider's editor. " + _targets(),
        "",
        f"**{met} of {len(m.sliders)} sliders meet every target.**"
        + (" Missed: " + "; ".join(missed) + "." if missed else ""),
        "",
        "## Method",
        "",
        "A slider is a global direction (InterFaceGAN: the normal of a linear boundary fitted to the classifier's "
        "logit, projected off the attributes it must not change) bent per face by a small network, its editor "
        "(gan/editors.py), trained through the frozen generator and classifier as the Latent Transformer is: "
        "the own attribute must pass a probability of 0.73 on the asked-for side; the other 39 attributes, and "
        "the pixels outside the slider's region (glasses: the eye band; smiling: mouth and cheeks; hair: all but "
        "the inner face), must stay; the latent must move little (train/editing.py). A toggle's boundary also "
        "decides which faces already wear the attribute, so `on` twice is `on` once. A regional slider ("
        + (", ".join(f"{a.name}: {a.region}" for a in faces.sliders if a.region) or "none now")
        + ") is drawn inside its region only: the generator blends the edited face's features into the "
        "unedited face's there, each regional edit from a latent of its own (gan/regions.py), and its editor "
        "learns through that blend. Why this method, and "
        "what was tried, is in the notes at the end.",
        "",
        "## What each slider moves (mean change of the classifier's probability, before / **after**)",
        "",
        "| slider | kind | CelebA | own | Male | Young | Pale_Skin | largest other change (after) "
        "| monotone -3..+3 | moves targets met |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "*monotone*: share of faces whose own probability never drops by more than "
        f"{MONOTONE_SLACK} from one step of -3, -2, ..., +3 to the next (first {m.identity_seeds} seeds).",
        "",
        f"## Still the same person? (first {m.identity_seeds} seeds; share same, before / **after**, "
        "and median distance)",
        "",
        "| slider | low end | high end | target met |",
        "|---|---|---|---|",
        *identity_rows,
        "",
    ]
    if m.combo:
        b, a = m.combo["before"], m.combo["after"]
        lines += [
            "## `smiling:+2 glasses:on`",
            "",
            f"First {m.identity_seeds} seeds. The smile should survive the glasses (within 0.1 of `smiling:+2` "
            "alone) and the face should stay the same person.",
            "",
            "| | Smiling, smiling +2 alone | Smiling, with glasses on | Eyeglasses | same person |",
            "|---|---|---|---|---|",
            f"| before | {b.smile_alone:.2f} | {b.smile_with_glasses:.2f} | {b.glasses:.2f} | {b.same:.2f} |",
            f"| after | {a.smile_alone:.2f} | {a.smile_with_glasses:.2f} | {a.glasses:.2f} | {a.same:.2f} |",
            "",
            "![smiling +2, glasses on](sliders/combo.png)",
            "",
            "Columns: unedited; before: smiling +2, smiling +2 glasses on; after: smiling +2, smiling +2 glasses on.",
            "",
        ]
        (pictures / "combo.png").write_bytes(png_bytes(combo_picture(faces, sets)))
    if m.pairs:
        lines += pair_section(m)
    if m.fd is not None:
        lines += [
            "## Edited faces stay faces",
            "",
            f"Frechet distance to the holdout in the classifier's features: unedited {m.fd[0]:.2f}, "
            f"each face with one slider at one end {m.fd[1]:.2f} ({m.fd[1] / m.fd[0] - 1:+.0%}).",
            "",
        ]
    lines += [
        f"Picture strips (seeds {', '.join(map(str, STRIP_SEEDS))}; for each, a row before and a row after; "
        "-3..+3, toggles off / unedited / on): " + ", ".join(f"[{s.name}](sliders/{s.name}.png)" for s in m.sliders),
        "",
        "## Every attribute, per slider",
        "",
        *details,
    ]
    old = out_md.read_text() if out_md.is_file() else ""
    notes = old[old.index(NOTES) :] if NOTES in old else f"{NOTES}\n\n(none yet)\n"
    out_md.write_text("\n".join(lines) + "\n" + notes)
    print(f"wrote {out_md}")


def pair_section(m: Measures) -> list[str]:
    """The pair table: each pair that misses, with the reason where the two edits cannot both hold, then all."""
    composing = [p for p in m.pairs if p.composes()]
    missed = [p for p in m.pairs if not p.composes()]
    explained = [p for p in missed if conflict(p.first, p.second)]
    person_only = [p for p in missed if p not in explained and p.misses() == [PERSON_CHANGES]]

    def row(p: PairMeasure) -> str:
        own = " | ".join(f"{alone:.2f} → {both:.2f}" for alone, both in zip(p.own_alone, p.own_both, strict=True))
        verdict = "yes" if p.composes() else conflict(p.first, p.second) or f"**no**: {', '.join(p.misses())}"
        return f"| {p.first} + {p.second} | {own} | {min(p.same_alone):.2f} → {p.same_both:.2f} | {verdict} |"

    head = [
        "| pair | first's own: alone → together | second's own: alone → together | same person: weaker alone → "
        "together | composes |",
        "|---|---|---|---|---|",
    ]
    value = f"{PAIR_VALUE:+g}"
    return [
        "## Pairs of edits",
        "",
        f"Every pair of sliders at {value} (toggles on), together and each alone, on the first {m.identity_seeds} "
        "seeds. "
        f"A pair composes when each slider's own attribute (its probability on the slider's side) stays within "
        f"{PAIR_HOLD} of what it reaches alone, and the face stays the same person (dlib) as often as with the weaker "
        f"of the two alone (within {PAIR_SAME_SLACK}, about one standard error of the difference at this many faces). "
        f"Two sliders together share the face's change (`gan.attributes.shared`): each is drawn at "
        f"{shared({'a': PAIR_VALUE, 'b': PAIR_VALUE})['a'] / PAIR_VALUE:.2f} of its value here; a toggle is drawn as "
        "asked.",
        "",
        f"**{len(composing)} of {len(m.pairs)} pairs compose.** "
        + (
            f"{len(explained)} of the {len(missed)} that do not ask for two things one face cannot show at once "
            f"(the reason is in the table); of the other {len(missed) - len(explained)}, {len(person_only)} keep both "
            "edits and miss only on the person: each edit alone keeps it, but their changes add up (the table says "
            "what each pair misses)."
            if missed
            else ""
        ),
        "",
        *((["### The pairs that do not compose", "", *head, *map(row, missed), ""]) if missed else []),
        "<details><summary>Every pair</summary>",
        "",
        *head,
        *map(row, m.pairs),
        "",
        "</details>",
        "",
    ]


def _targets() -> str:
    """The targets in words, from train/slider_specs.py."""
    loose = "; ".join(f"{s.name}: {' and '.join(s.loose)}" for s in SPECS if s.loose)
    loose_identity = ", ".join(s.name for s in SPECS if s.loose_identity)
    return (
        f"Targets: own attribute moves >= {TARGET_MOVE}; {', '.join(BASE_CONDITIONS)} move <= {MAX_SIDE_EFFECT}, "
        f"except these pairs, which may move <= {LOOSE_SIDE_EFFECT} ({loose}): {LOOSE_REASON}. "
        f"The same person (dlib's face recognizer, distance < {SAME_PERSON}) in >= {SAME_PERSON_TARGET:.0%} of "
        f"edits at both ends ({loose_identity}: >= {SAME_PERSON_TARGET_LOOSE:.0%})."
    )


def _missed(s: SliderMeasure, names: list[str]) -> str:
    """What a slider missed, in a few words."""
    why = []
    own = s.sign * s.after.move[names.index(s.celeba)]
    if own < TARGET_MOVE:
        why.append(f"moves {s.celeba} {own:+.2f}")
    spec = SPEC[s.name]
    why += [
        f"moves {c} {s.after.move[names.index(c)]:+.2f}"
        for c in BASE_CONDITIONS
        if c != s.celeba and abs(s.after.move[names.index(c)]) > side_effect_limit(spec, c)
    ]
    if min(s.after.same) < same_person_target(spec):
        why.append(f"same person in {min(s.after.same):.0%}")
    return f"{s.name} ({', '.join(why)})"
