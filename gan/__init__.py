"""Expressions' face generator: load a trained model and draw, edit and morph faces.

from gan import Faces
faces = Faces.load()
images = faces.render([7, 8], truncation=0.7)   # uint8 (2, 64, 64, 3)
"""

from .checkpoint import CheckpointError
from .faces import Faces

__all__ = ["Faces", "CheckpointError"]
