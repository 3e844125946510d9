"""Do a blend's children look like both parents? dlib's face recognizer on children of held-out seeds.

    python scripts/blend_check.py [--pairs 100]

For each pair of parents (seeds from 5000 on, which nothing else draws) it draws the first two children
(gan/recipes.py), a random face, the morph's midpoint and the first variation of each parent, and prints:
the share of children nearer (in dlib's embedding) to each of their parents than a random face is to
that parent; the same for the morph's midpoint; the median distances; and how often a variation is
still the same person (distance < 0.6). docs/recipes.md holds what it measured.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from gan import Faces  # noqa: E402
from train.identity import SAME_PERSON, distances, dlib_embeddings  # noqa: E402

FIRST_SEED = 5000
RANDOM_SEED = 9000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pairs", type=int, default=100)
    args = p.parse_args()
    faces = Faces.load()
    n = args.pairs
    a = [FIRST_SEED + 2 * i for i in range(n)]
    b = [FIRST_SEED + 2 * i + 1 for i in range(n)]
    codes = {
        "a": [str(s) for s in a],
        "b": [str(s) for s in b],
        "child 1": [f"{x}x{y}c1" for x, y in zip(a, b, strict=True)],
        "child 2": [f"{x}x{y}c2" for x, y in zip(a, b, strict=True)],
        "random": [str(RANDOM_SEED + i) for i in range(n)],
        "variation": [f"{x}v1" for x in a],
    }
    images = {k: faces.render(v) for k, v in codes.items()}
    images["midpoint"] = np.stack([faces.morph(x, y, frames=3)[1] for x, y in zip(a, b, strict=True)])
    order = list(images)
    embedded = dlib_embeddings(np.concatenate([images[k] for k in order]))
    e = dict(zip(order, np.split(embedded, len(order)), strict=True))
    to_random = {parent: distances(e["random"], e[parent]) for parent in ("a", "b")}
    print(f"{n} pairs of parents, seeds {FIRST_SEED}..{FIRST_SEED + 2 * n - 1}; dlib distances")
    for k in ("child 1", "child 2", "midpoint"):
        da, db = distances(e[k], e["a"]), distances(e[k], e["b"])
        both = (da < to_random["a"]) & (db < to_random["b"])
        print(
            f"{k:<9} nearer to both parents than a random face: {both.mean():.0%}; "
            f"median distance to a {np.median(da):.2f}, to b {np.median(db):.2f}; "
            f"the same person as a or b: {((da < SAME_PERSON) | (db < SAME_PERSON)).mean():.0%}"
        )
    print(f"random faces: median distance to a {np.median(to_random['a']):.2f}")
    siblings, to_mid = distances(e["child 1"], e["child 2"]), distances(e["child 1"], e["midpoint"])
    print(f"child 1 to child 2: median {np.median(siblings):.2f}; child 1 to the midpoint: {np.median(to_mid):.2f}")
    dv = distances(e["variation"], e["a"])
    print(f"variation 1 of a: median distance {np.median(dv):.2f}, the same person in {(dv < SAME_PERSON).mean():.0%}")


if __name__ == "__main__":
    main()
