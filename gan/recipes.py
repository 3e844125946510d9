"""Face codes: every face is a short recipe, a seed refined by variations and blends.

    42            the face of seed 42
    42v3          its third variation (a face near it)
    42v3v1        the first variation of that
    42x17c2       the second child of 42 and 17 (a mix of the two faces)
    42v3x(17v1)c4 a child of two refined faces: a parent that is not a bare seed goes in brackets

Grammar: `code := seed step*`, `step := "v" N | "x" parent "c" N`, `parent := seed | "(" code ")"`,
N from 1 to MAX_INDEX. The same code gives the same latent in any batch, on any device and after a
restart: every random draw comes from a generator seeded by the code itself. Truncation and slider
edits apply after the recipe, as for a seed. The CLI, the bot and its buttons all read codes here.

- A variation moves the latent by VARIATION_SPREAD of the prior's scale in a random direction and
  keeps its norm, so it stays on the prior's shell: the same person's look, nudged.
- A child takes each latent coordinate partly from each parent, in a share of its own drawn from
  CHILD_SHARE, plus CHILD_NOISE of its own, at the parents' mean norm. A morph's midpoint is one fixed
  blend; each child mixes the parents its own way, so children differ from each other and from the
  midpoint while looking like both parents (docs/recipes.md measures how much, and why not a plain
  crossover).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace

import torch

from .latent import MAX_SEED, check_seed, seed_to_latent

MAX_STEPS = 6  # variations and blends in one code, those inside brackets too
MAX_CODE = 40  # characters: a code rides in every button of its face, beside the face's edits
MAX_INDEX = 999  # the highest variation or child number
VARIATION_SPREAD = 0.35  # how far a variation strays from its face, relative to the prior's scale
CHILD_SHARE = (0.3, 0.7)  # each latent coordinate of a child takes a share of the first parent's from this range
CHILD_NOISE = 0.1  # a child's own noise, relative to the prior's scale
EXAMPLES = "codes look like 42, 42v3 or 42x17c2"
TOKEN = re.compile(r"\d+|[vxc()]")


class CodeError(ValueError):
    """A face code that cannot be read; str(e) names the code and what is wrong, for the user."""


@dataclass(frozen=True)
class Step:
    kind: str  # "v": a variation; "x": a child of the face so far and `parent`
    index: int  # which variation or child, from 1
    parent: Recipe | None = None

    def __str__(self) -> str:
        if self.parent is None:
            return f"v{self.index}"
        other = str(self.parent)
        return f"x{other if self.parent.is_seed else f'({other})'}c{self.index}"


@dataclass(frozen=True)
class Recipe:
    """A face: a seed and the variations and blends that refine it (see the module docstring)."""

    seed: int
    steps: tuple[Step, ...] = ()

    # --- reading and writing ------------------------------------------------------------------
    @classmethod
    def of(cls, face: Face) -> Recipe:
        """A recipe from a seed (an int), a code, or a recipe; CodeError for anything else."""
        if isinstance(face, Recipe):
            return face
        if isinstance(face, str):
            return cls.parse(face)
        try:
            return cls(check_seed(face))
        except ValueError as e:
            raise CodeError(str(e)) from None

    @classmethod
    def parse(cls, text: str) -> Recipe:
        """A code (surrounding spaces allowed) as a recipe; CodeError naming what is wrong."""
        if not isinstance(text, str):
            raise CodeError(f"a face code is text, got {text!r}")
        code = text.strip()
        if not code:
            raise CodeError(f"the face code is empty: {EXAMPLES}")
        if len(code) > MAX_CODE:
            raise CodeError(f"face code {code[:MAX_CODE]}… is over {MAX_CODE} characters: start from a shorter one")
        tokens = TOKEN.findall(code)
        if "".join(tokens) != code:
            raise CodeError(f"face code {code!r} has characters codes do not use: {EXAMPLES}")
        reader = _Reader(code, tokens)
        recipe = reader.code()
        if reader.at < len(tokens):
            raise CodeError(f"face code {code!r}: unexpected {tokens[reader.at]!r}; {EXAMPLES}")
        return recipe.checked()

    def __str__(self) -> str:
        return f"{self.seed}{''.join(map(str, self.steps))}"

    def checked(self) -> Recipe:
        """This recipe, or CodeError if it is deeper or longer than a code may be."""
        if self.depth > MAX_STEPS:
            raise CodeError(f"face {self} is {self.depth} steps deep; the most is {MAX_STEPS}: start from a seed")
        if len(str(self)) > MAX_CODE:
            raise CodeError(f"face code {self} is over {MAX_CODE} characters: start from a shorter one")
        return self

    # --- what it is ---------------------------------------------------------------------------
    @property
    def is_seed(self) -> bool:
        return not self.steps

    @property
    def label(self) -> str:
        """How captions name it: "seed 42", or "face 42v3" for a refined face."""
        return f"seed {self}" if self.is_seed else f"face {self}"

    @property
    def depth(self) -> int:
        """Variations and blends in the recipe, those of its parents too."""
        return sum(1 + (s.parent.depth if s.parent is not None else 0) for s in self.steps)

    @property
    def origin(self) -> tuple[Recipe, Step]:
        """The face this one was made from, and the step that made it (ValueError for a bare seed)."""
        if self.is_seed:
            raise ValueError(f"face {self} is a seed, not a variation or a child")
        return replace(self, steps=self.steps[:-1]), self.steps[-1]

    # --- new faces from this one ----------------------------------------------------------------
    def variation(self, index: int) -> Recipe:
        """The index-th variation of this face (CodeError past the depth or length limit)."""
        return replace(self, steps=(*self.steps, Step("v", _index(index)))).checked()

    def child(self, parent: Recipe, index: int) -> Recipe:
        """The index-th child of this face and `parent`."""
        return replace(self, steps=(*self.steps, Step("x", _index(index), parent))).checked()

    def sibling(self, offset: int) -> Recipe:
        """The face `offset` further along the last step's numbering (42v1 -> 42v3 for 2): the other
        faces of a grid of variations or children. A bare seed has no siblings (ValueError)."""
        before, last = self.origin
        return replace(self, steps=(*before.steps, replace(last, index=_index(last.index + offset)))).checked()

    # --- its latent ---------------------------------------------------------------------------
    def latent(self, nz: int) -> torch.Tensor:
        """(nz,) prior latent of this face, before truncation and edits."""
        z = seed_to_latent(self.seed, nz)
        code = str(self.seed)
        for step in self.steps:
            code += str(step)
            gen = torch.Generator().manual_seed(_stable_seed(code))
            if step.parent is None:
                moved = z + VARIATION_SPREAD * torch.randn(nz, generator=gen)
                z = moved * (z.norm() / moved.norm())
            else:
                other = step.parent.latent(nz)
                share = CHILD_SHARE[0] + (CHILD_SHARE[1] - CHILD_SHARE[0]) * torch.rand(nz, generator=gen)
                child = torch.lerp(other, z, share) + CHILD_NOISE * torch.randn(nz, generator=gen)
                z = child * ((z.norm() ** 2 + other.norm() ** 2) / 2).sqrt() / child.norm()
        return z


Face = Recipe | int | str  # a face as the API takes it: a recipe, a seed or a code


def latents_of(faces: list[Face], nz: int) -> torch.Tensor:
    """(N, nz) latents of seeds, codes or recipes (CodeError naming the first bad one)."""
    if not faces:
        raise CodeError("at least one face is needed")
    return torch.stack([Recipe.of(f).latent(nz) for f in faces])


class _Reader:
    """Recursive descent over a code's tokens."""

    def __init__(self, text: str, tokens: list[str]):
        self.text, self.tokens, self.at = text, tokens, 0

    def _next(self, what: str) -> str:
        if self.at >= len(self.tokens):
            raise CodeError(f"face code {self.text!r} ends where {what} should come; {EXAMPLES}")
        token = self.tokens[self.at]
        self.at += 1
        return token

    def _number(self, what: str, lo: int, hi: int) -> int:
        token = self._next(what)
        if not token.isdigit() or not lo <= int(token) <= hi or (len(token) > 1 and token[0] == "0"):
            raise CodeError(f"face code {self.text!r}: {what} must be a number from {lo} to {hi}, got {token!r}")
        return int(token)

    def code(self) -> Recipe:
        seed = self._number("a seed", 0, MAX_SEED)
        steps = []
        while self.at < len(self.tokens) and self.tokens[self.at] in ("v", "x"):
            if self._next("a step") == "v":
                steps.append(Step("v", self._number("a variation's number", 1, MAX_INDEX)))
                continue
            if self.at < len(self.tokens) and self.tokens[self.at] == "(":
                self.at += 1
                parent = self.code()
                if self._next("')'") != ")":
                    raise CodeError(f"face code {self.text!r}: a bracket is not closed")
            else:
                parent = Recipe(self._number("the other parent's seed", 0, MAX_SEED))
            if self._next("'c' and the child's number") != "c":
                raise CodeError(f"face code {self.text!r}: a blend ends with c and the child's number (42x17c2)")
            steps.append(Step("x", self._number("a child's number", 1, MAX_INDEX), parent))
        return Recipe(seed, tuple(steps))


def _index(index: int) -> int:
    if isinstance(index, bool) or not isinstance(index, int) or not 1 <= index <= MAX_INDEX:
        raise CodeError(f"a variation or child is numbered from 1 to {MAX_INDEX}, got {index!r}")
    return index


def _stable_seed(code: str) -> int:
    """A 63-bit generator seed from a code: the same in every process (unlike hash())."""
    return int.from_bytes(hashlib.blake2b(code.encode(), digest_size=8).digest(), "big") >> 1
