"""What a face is made of (seed, truncation, edits), packed small enough for a button's custom_id.

Discord gives a custom_id 100 characters, and persistent buttons must carry everything they
need, so a FaceState packs into at most ~45: `seed.truncation.edits`, where each edit is two
characters: the slider's index and its value (sliders in steps of 0.1 from -3 to +3, toggles
on/off), both from a 62-letter alphabet.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field

from gan.attributes import describe

ALPHABET = string.digits + string.ascii_lowercase + string.ascii_uppercase  # 62 symbols
STEP = 0.1
TOGGLE_CODES = {"off": "y", "on": "z"}  # outside the slider codes 0..60
_TOGGLE_BY_CODE = {v: k for k, v in TOGGLE_CODES.items()}


def quantize(value: float) -> float:
    """Slider values are kept to one decimal, so what is shown is exactly what is drawn."""
    return round(round(value / STEP) * STEP, 1)


@dataclass(frozen=True)
class FaceState:
    seed: int
    truncation: float = 1.0
    edits: dict[str, float | str] = field(default_factory=dict)

    def encode(self, names: list[str]) -> str:
        parts = []
        for name, value in self.edits.items():
            i = names.index(name)
            code = TOGGLE_CODES[value] if isinstance(value, str) else ALPHABET[round((value + 3) / STEP)]
            parts.append(ALPHABET[i] + code)
        return f"{self.seed}.{round(self.truncation * 100)}.{''.join(parts)}"

    @classmethod
    def decode(cls, text: str, names: list[str]) -> FaceState:
        """Inverse of encode; raises ValueError on anything malformed."""
        seed, trunc, packed = text.split(".")
        if len(packed) % 2:
            raise ValueError(f"bad edits code {packed!r}")
        edits: dict[str, float | str] = {}
        for k in range(0, len(packed), 2):
            name = names[ALPHABET.index(packed[k])]
            code = packed[k + 1]
            edits[name] = (
                _TOGGLE_BY_CODE[code] if code in _TOGGLE_BY_CODE else quantize(ALPHABET.index(code) * STEP - 3)
            )
        return cls(int(seed), int(trunc) / 100, edits)

    def caption(self) -> str:
        parts = [f"seed {self.seed}"]
        if self.edits:
            parts.append(describe(self.edits))
        if self.truncation != 1.0:
            parts.append(f"truncation {self.truncation:g}")
        return " · ".join(parts)
