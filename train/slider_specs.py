"""What each slider is: its CelebA attribute, its key, what it may change and what it must hold.

Shared by the fitting (train/attributes.py) and the report (train/slider_report.py).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .editing import Hold, Weights

BASE_CONDITIONS = ("Male", "Young", "Pale_Skin")  # no slider but their own may move these (report: <= 0.1)
# The first report showed every slider opening or closing the mouth: condition on it too, except
# where the mouth is the point.
LEAKY = ("Mouth_Slightly_Open",)
HAIR_COLOURS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")
HAIR = (*HAIR_COLOURS, "Bangs", "Bald", "Receding_Hairline", "Straight_Hair", "Wavy_Hair")
FACIAL_HAIR = ("5_o_Clock_Shadow", "Goatee", "Mustache", "Sideburns", "No_Beard")

# --- targets: what docs/sliders.md checks each slider against -------------------------------------
TARGET_MOVE = 0.6  # the slider's own probability should move at least this much from -3 to +3
MAX_SIDE_EFFECT = 0.1  # ... and each of BASE_CONDITIONS at most this much
LOOSE_SIDE_EFFECT = 0.5  # ... except the base attributes a slider's look goes with (Spec.loose)
SAME_PERSON_TARGET = 0.9  # share of edits dlib still calls the same person, at each end
SAME_PERSON_TARGET_LOOSE = 0.75  # for sliders that change a face's look as much as age does (Spec.loose_identity)
LOOSE_REASON = (
    "a beard or a bald head may make a face read more masculine, gray hair or a bald head older, heavy makeup "
    "more feminine: in CelebA, and so to any classifier trained on it, these come together, and a user asking "
    "for a beard expects one even if the face then reads more male. What may not change is the person"
)


@dataclass(frozen=True)
class Spec:
    name: str
    key: str  # stored in every button of a face with this edit: never reuse or change one
    celeba: str
    sign: int
    kind: str
    description: str  # what the user is told it does (Discord's option hint): say what each end does
    region: str  # where the edit may change pixels (gan/regions.py REGIONS); the rest is held
    extra_conditions: tuple[str, ...] = ()  # attributes the global direction is projected off, beyond the base
    free: tuple[str, ...] = ()  # attributes that change with this one: the editor does not hold them
    loose: tuple[str, ...] = ()  # base attributes this slider may move up to LOOSE_SIDE_EFFECT (LOOSE_REASON)
    loose_identity: bool = False  # the same person in SAME_PERSON_TARGET_LOOSE of edits is enough
    editor: bool = True  # False: the global direction alone already meets every target (docs/sliders.md)
    regional: bool = False  # drawn inside `region` only, the rest of the face kept (gan/regions.py)
    unit: float | None = None  # the slider's step; None: the smallest that moves it enough along its direction
    span: float = 1.0  # the share of the fitted editor's move the range spans (gan/attributes.py), set after fitting
    weights: Weights = Weights()  # its editor's loss, where the defaults missed a target (docs/sliders.md)
    # a first stage of as many steps with these weights, for an editor that under its own weights alone
    # learns to undo the edit rather than find it (beard), or that trades an edit it must first find (gray hair)
    warmup: Weights | None = None


SPECS = (
    Spec(
        "smiling",
        "sm",
        "Smiling",
        1,
        "slider",
        "smile (+) or straight face (-)",
        "mouth",
        free=("High_Cheekbones", "Mouth_Slightly_Open", "Narrow_Eyes", "Rosy_Cheeks"),
    ),
    Spec(
        "glasses",
        "gl",
        "Eyeglasses",
        1,
        "toggle",
        "put glasses on or take them off",
        "eyes",
        weights=Weights(inside=0.4, identity=20.0),  # the defaults kept the person in 87 %
    ),
    Spec(
        "masculine",
        "ma",
        "Male",
        1,
        "slider",
        "more masculine (+) or feminine (-) features",
        "all",
        free=(  # not the beard: a more masculine face need not grow one
            "Heavy_Makeup",
            "Wearing_Lipstick",
            "Arched_Eyebrows",
            "Bushy_Eyebrows",
            "Wearing_Earrings",
            "Wearing_Necklace",
            "Wearing_Necktie",
            "Attractive",
            "Big_Nose",
            "Oval_Face",
            "Rosy_Cheeks",
        ),
        loose_identity=True,
        unit=0.5,  # calibrated on the global direction: 0.75, which the editor overshot (Young -0.25)
        weights=Weights(enough=0.0, reach=3.0, identity=80.0, keep_base=100.0),
    ),
    Spec(
        "age",
        "ag",
        "Young",
        -1,
        "slider",
        "older (+) or younger (-)",
        "all",
        free=("Gray_Hair", "Bags_Under_Eyes", "Receding_Hairline", "Attractive", "Chubby", "Double_Chin", "Bald"),
        loose_identity=True,
        unit=1.0,  # calibrated on the global direction: 1.25, which the editor overshot (the same person in 58 %)
        weights=Weights(reach=3.0, identity=40.0, keep_base=30.0),
    ),
    Spec(
        "pale",
        "pa",
        "Pale_Skin",
        1,
        "slider",
        "paler (+) or less pale (-) skin",
        "all",
        free=("Rosy_Cheeks",),
        editor=False,
    ),
    Spec(
        "blond",
        "bl",
        "Blond_Hair",
        1,
        "slider",
        "more (+) or less (-) blond hair",
        "hair",
        ("Black_Hair", "Brown_Hair"),
        free=HAIR_COLOURS,
        weights=Weights(enough=1.5, keep_base=200.0),  # the defaults moved Male -0.18
    ),
    Spec(
        "black_hair",
        "bk",
        "Black_Hair",
        1,
        "slider",
        "more (+) or less (-) black hair",
        "hair",
        ("Blond_Hair", "Brown_Hair"),
        free=HAIR_COLOURS,
    ),
    Spec(
        "brown_hair",
        "br",
        "Brown_Hair",
        1,
        "slider",
        "more (+) or less (-) brown hair",
        "hair",
        ("Blond_Hair", "Black_Hair"),
        free=HAIR_COLOURS,
        weights=Weights(enough=2.0),  # the defaults moved Brown_Hair only 0.54
    ),
    Spec(
        "gray_hair",
        "gr",
        "Gray_Hair",
        1,
        "slider",
        "more (+) or less (-) gray hair",
        "scalp",
        free=HAIR_COLOURS,
        loose=("Young",),
        loose_identity=True,
        regional=True,  # drawn down to the brows, it painted age on foreheads (docs/sliders.md, thirteenth round)
        # every face asked for the same gray paid 0.9 of Young for it (sixth and thirteenth rounds): a first stage
        # finds the gray, the second trades each face's gray for its age (docs/sliders.md, fifteenth round)
        warmup=Weights(enough=2.0, reach=3.0, keep_base=30.0, slack=0.45, identity=20.0),
        weights=Weights(keep_base=60.0, identity=20.0, gain=20.0, trade=0.8),
    ),
    Spec(
        "bald",
        "bd",
        "Bald",
        1,
        "slider",
        "balder (+) or more hair on top (-)",
        "hair",
        free=HAIR,
        loose=("Male", "Young"),
        loose_identity=True,
        regional=True,  # drawn over the whole face, a bald head costs the person (docs/sliders.md, twelfth round)
        # the shipped editor kept the person in 54 %: identity and a hold past the loose attributes' slack
        weights=Weights(enough=2.0, keep_base=100.0, slack=0.4, identity=40.0),
    ),
    Spec(
        "beard",
        "be",
        "No_Beard",
        -1,
        "slider",
        "beard (+) or clean-shaven (-)",
        "jaw",
        free=FACIAL_HAIR,
        loose=("Male",),
        regional=True,  # drawn over the whole face, a beard costs the person (docs/sliders.md, twelfth round)
        # with the pixels held as hard as the others', the editor learns to grow no beard at all: a first
        # stage holding them a third as hard finds the beard, the second holds the person to it
        warmup=Weights(enough=2.0, reach=3.0, pixels=20.0),
        weights=Weights(enough=3.0, reach=3.0, keep_base=200.0, slack=0.45, identity=150.0, pixels=40.0),
    ),
    Spec(
        "makeup",
        "mk",
        "Heavy_Makeup",
        1,
        "slider",
        "heavier (+) or lighter (-) makeup",
        "lids_lips",
        ("Wearing_Lipstick",),
        free=("Wearing_Lipstick", "Arched_Eyebrows", "Rosy_Cheeks", "Attractive"),
        loose=("Male",),
        regional=True,  # drawn around the whole eyes, makeup reads younger (docs/sliders.md, thirteenth round)
        # on lids and lips only, Young and the person can be held harder and the makeup still shows
        weights=Weights(enough=1.5, keep_base=150.0, slack=0.4, identity=60.0),
        # its fitted +3 kept the person in 88 %: +-3 draws its +-2.5, the makeup still strong (fourteenth round)
        span=2.5 / 3,
    ),
    Spec("hat", "ht", "Wearing_Hat", 1, "toggle", "put a hat on or take it off", "hair", free=HAIR),
    Spec(
        "bangs",
        "bn",
        "Bangs",
        1,
        "slider",
        "bangs over the forehead (+) or a bare forehead (-)",
        "hair",
        free=("Receding_Hairline",),
        editor=False,
    ),
    Spec(
        "mouth_open",
        "mo",
        "Mouth_Slightly_Open",
        1,
        "slider",
        "open (+) or close (-) the mouth",
        "mouth",
        ("Smiling",),
        free=("High_Cheekbones",),
    ),
)


SPEC = {s.name: s for s in SPECS}


def conflict(first: str, second: str) -> str:
    """Why two sliders' high ends cannot both show on one face ("" where they can)."""
    pair = {first, second}
    colours = {s.name for s in SPECS if s.celeba in HAIR_COLOURS}
    if len(pair & colours) == 2:
        return "a head has one hair colour"
    if "bald" in pair and pair & (colours | {"bangs"}):
        return "a bald head has no hair to colour or cut"
    if "hat" in pair and pair & (colours | {"bangs", "bald"}):
        return "the hat hides the hair"
    return ""


def side_effect_limit(spec: Spec, attribute: str) -> float:
    """How far the slider may move one of BASE_CONDITIONS (mean change from -3 to +3) and still meet its target."""
    return LOOSE_SIDE_EFFECT if attribute in spec.loose else MAX_SIDE_EFFECT


def same_person_target(spec: Spec) -> float:
    """The share of edits, at each end, that must stay the same person to dlib."""
    return SAME_PERSON_TARGET_LOOSE if spec.loose_identity else SAME_PERSON_TARGET


def conditions_for(spec: Spec) -> list[str]:
    """The attributes a slider's global direction is projected off (InterFaceGAN's conditions)."""
    leaky = () if spec.name in ("smiling", "mouth_open") else LEAKY
    return [c for c in dict.fromkeys((*BASE_CONDITIONS, *leaky, *spec.extra_conditions)) if c != spec.celeba]


def watched_for(spec: Spec) -> tuple[str, ...]:
    """The attributes the editor holds hardest: the base conditions and every other slider's own."""
    others = (*BASE_CONDITIONS, *(s.celeba for s in SPECS))
    return tuple(c for c in dict.fromkeys(others) if c != spec.celeba and c not in spec.free)


def stages(spec: Spec) -> list[Spec]:
    """The spec of each stage its editor trains in: the warm-up's weights first where it has one."""
    return [dataclasses.replace(spec, weights=spec.warmup), spec] if spec.warmup is not None else [spec]


def hold_for(spec: Spec, names: list[str]) -> Hold:
    """What the slider's edit must keep: its editor's loss, but for the own attribute."""
    return Hold.of(
        names, spec.celeba, spec.region, spec.free, watched_for(spec), BASE_CONDITIONS, spec.loose, spec.weights
    )
