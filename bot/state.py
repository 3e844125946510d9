"""What a face is made of (its code, truncation, edits): checked where a user's values come in, and
packed into a button's custom_id so that buttons keep working after restarts and slider refits.

Packed form (at most MAX_PACKED characters): `code.truncation.fingerprint.edits`
- code: the face's code (gan/recipes.py): its seed, or a seed refined by variations and blends;
- truncation in hundredths (10..100), the same rounding the drawing uses;
- fingerprint: 4 hex digits of the slider set the face was drawn with (`AttributeSet.fingerprint`);
- edits: 3 characters each, the slider's stable two-letter key, then its value: a slider value as one
  of 61 symbols for -3.0 .. +3.0 in steps of 0.1, a toggle as `+` (on) or `-` (off), which no slider
  value uses.

A button from another slider set decodes by key: each edit whose slider still exists is kept, and
the others are reported as dropped. Buttons posted before keys existed (`seed.trunc.edits`, edits by
position in the slider order of that time) still decode through LEGACY_ORDER, and buttons posted
before codes existed carry a bare seed, which is a code.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field

from gan import Faces
from gan.attributes import KEY, SLIDER_RANGE, describe
from gan.checks import is_whole
from gan.faces import MORPH_FRAMES
from gan.latent import MAX_SEED, check_seed
from gan.recipes import MAX_CODE, CodeError, Face, Recipe

STEP = 0.1
SLIDER_CODES = (string.digits + string.ascii_uppercase + string.ascii_lowercase)[:61]  # -3.0 .. +3.0
TOGGLE_CODES = {"on": "+", "off": "-"}
TRUNCATION_RANGE = (0.1, 1.0)
MAX_MORPH_FRAMES = 48  # of a /morph or /animate; every one is checked against it, whatever Discord let through
PACKED = re.compile(rf"([0-9vxc()]{{1,{MAX_CODE}}})\.(\d{{1,3}})\.([0-9a-f]{{4}})\.((?:{KEY.pattern}[0-9A-Za-y+\-])*)")
# A custom_id holds 100 characters: `xp:<action>:<packed state>:<owner>`, the longest action 7, an owner
# (a Discord id) up to 20 digits. A face whose code and edits would not fit is refused when it is made.
MAX_PACKED = 100 - len("xp:details::") - 20
EDIT = re.compile(rf"({KEY.pattern})(.)")
# buttons posted before slider keys: edit = (index into this order, code); "y"/"z" = toggle off/on
LEGACY = re.compile(r"(\d{1,10})\.(\d{1,3})\.((?:[0-9a-zA-Z]{2})*)")
LEGACY_ORDER = ("sm", "gl", "ma", "ag", "pa", "bl", "bk", "br", "gr", "bd", "be", "mk", "ht", "bn", "mo")  # keys
LEGACY_TOGGLES = {"gl", "ht"}
LEGACY_ALPHABET = string.digits + string.ascii_lowercase + string.ascii_uppercase


class BadRequest(ValueError):
    """Values a user (or a forged payload) sent that cannot be drawn; str(e) is for the user."""


def quantize(value: float) -> float:
    """Slider values are kept to one decimal, so what is shown is exactly what is drawn."""
    return round(round(value / STEP) * STEP, 1)


def check_truncation(value: float | None) -> float:
    """None -> 1.0; otherwise rounded to 0.01 (as stored in buttons) and checked."""
    if value is None:
        return 1.0
    lo, hi = TRUNCATION_RANGE
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= round(value, 2) <= hi:
        raise BadRequest(f"truncation must be a number from {lo:g} to {hi:g}, got {value!r}")
    return round(float(value), 2)


def check_frames(value: int | None, default: int = MORPH_FRAMES) -> int:
    """None -> the default length (a morph's unless told); otherwise checked."""
    if value is None:
        return default
    if not is_whole(value, 2, MAX_MORPH_FRAMES):
        raise BadRequest(f"frames must be a whole number from 2 to {MAX_MORPH_FRAMES}, got {value!r}")
    return value


def check_seed_option(value: int) -> int:
    try:
        return check_seed(value)
    except ValueError:
        raise BadRequest(f"seed must be a whole number from 0 to {MAX_SEED}, got {value!r}") from None


def check_face_option(value: Face, what: str = "seed") -> Recipe:
    """A seed or a face code from a command's option, as a recipe; BadRequest saying what is wrong."""
    try:
        return Recipe.of(value)
    except CodeError as e:
        message = f"{what} must be a whole number from 0 to {MAX_SEED}, got {value!r}" if isinstance(value, int) else e
        raise BadRequest(str(message)) from None


@dataclass(frozen=True)
class FaceState:
    face: Recipe
    truncation: float = 1.0
    edits: dict[str, float | str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "face", Recipe.of(self.face))  # a seed or a code is taken too
        packed = len(str(self.face)) + len(str(round(self.truncation * 100))) + 7 + 3 * len(self.edits)
        if packed > MAX_PACKED:
            raise BadRequest(
                f"Face {self.face} with {len(self.edits)} edits is too long to fit in Discord's buttons: "
                "set fewer sliders, or start from a shorter code."
            )

    @classmethod
    def create(cls, faces: Faces, face: Face, truncation: float | None, edits: dict) -> FaceState:
        """A state from a user's values (a seed or a face code), every one checked here (Discord's
        option limits are not trusted): slider values snap to tenths, edits follow the slider order.
        Raises BadRequest."""
        snapped = {
            k: quantize(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v
            for k, v in edits.items()
            if v is not None
        }
        try:
            checked = faces.check_edits(snapped)
        except ValueError as e:
            raise BadRequest(str(e)) from None
        ordered = {n: checked[n] for n in faces.attributes if n in checked}
        return cls(check_face_option(face), check_truncation(truncation), ordered)

    def with_face(self, face: Recipe) -> FaceState:
        """Another face with this one's truncation and edits (a variation, a child, a new seed)."""
        return FaceState(face, self.truncation, self.edits)

    def encode(self, faces: Faces) -> str:
        parts = []
        for name, value in self.edits.items():
            a = faces.sliders[name]
            code = TOGGLE_CODES[value] if a.kind == "toggle" else SLIDER_CODES[round((value - SLIDER_RANGE[0]) / STEP)]
            parts.append(a.key + code)
        return f"{self.face}.{round(self.truncation * 100)}.{faces.sliders.fingerprint}.{''.join(parts)}"

    def caption(self, label: str = "") -> str:
        """The face's label ("seed 42", or `label` where given), its edits and its truncation."""
        parts = [label or self.face.label]
        if self.edits:
            parts.append(describe(self.edits))
        if self.truncation != 1.0:
            parts.append(f"truncation {self.truncation:g}")
        return " · ".join(parts)


@dataclass(frozen=True)
class Decoded:
    state: FaceState
    dropped: list[str]  # edits whose slider no longer exists, as "key value"
    refitted: bool  # drawn with another slider set: kept edits may look a little different

    def notice(self) -> str:
        """What the user should be told about an old button, or ''."""
        if self.dropped:
            return f"ℹ️ The sliders changed since this face was made: dropped {', '.join(self.dropped)}."
        if self.refitted and self.state.edits:
            return "ℹ️ The sliders were refitted since this face was made, so its edits may look a little different."
        return ""


def decode(text: str, faces: Faces) -> Decoded:
    """A packed state back, against the current slider set; ValueError on anything malformed."""
    if m := PACKED.fullmatch(text):
        face, trunc, fingerprint, packed = m.groups()
        edits_by_key = EDIT.findall(packed)
    elif m := LEGACY.fullmatch(text):
        face, trunc, packed = m.groups()
        fingerprint, edits_by_key = None, [_legacy_edit(packed[i : i + 2]) for i in range(0, len(packed), 2)]
    else:
        raise ValueError(f"not a face state: {text!r}")
    edits: dict[str, float | str] = {}
    dropped = []
    for key, code in edits_by_key:
        value: float | str = _TOGGLE_BY_CODE[code] if code in _TOGGLE_BY_CODE else _slider_value(code)
        a = faces.sliders.by_key.get(key)
        if a is None or (a.kind == "toggle") != isinstance(value, str):
            dropped.append(f"{key} {value:+g}" if isinstance(value, float) else f"{key} {value}")
        else:
            edits[a.name] = value
    truncation = int(trunc) / 100
    if not TRUNCATION_RANGE[0] <= truncation <= TRUNCATION_RANGE[1]:
        raise ValueError(f"truncation {truncation} out of range")
    state = FaceState(Recipe.parse(face), truncation, {n: edits[n] for n in faces.attributes if n in edits})
    return Decoded(state, dropped, fingerprint != faces.sliders.fingerprint)


_TOGGLE_BY_CODE = {v: k for k, v in TOGGLE_CODES.items()}


def _slider_value(code: str) -> float:
    if code not in SLIDER_CODES:
        raise ValueError(f"bad slider code {code!r}")
    return quantize(SLIDER_CODES.index(code) * STEP + SLIDER_RANGE[0])


def _legacy_edit(pair: str) -> tuple[str, str]:
    """(index, code) of an old button -> (key, code) in today's encoding."""
    index, code = LEGACY_ALPHABET.index(pair[0]), LEGACY_ALPHABET.index(pair[1])
    if index >= len(LEGACY_ORDER):
        raise ValueError(f"bad legacy slider index {pair!r}")
    key = LEGACY_ORDER[index]
    if key in LEGACY_TOGGLES:  # a toggle was "y" (off) or "z" (on)...
        if pair[1] not in "yz":
            raise ValueError(f"bad legacy toggle code {pair!r}")
        return key, TOGGLE_CODES["on" if pair[1] == "z" else "off"]
    if code >= len(SLIDER_CODES):  # ...and a slider value its index in the same alphabet: 0 .. 60
        raise ValueError(f"bad legacy slider code {pair!r}")
    return key, SLIDER_CODES[code]
