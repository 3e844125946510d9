"""Is it still the same person? dlib's face-recognition ResNet, as the report's judge of identity.

Faces are upscaled from 64 to 256 px; the five landmarks are found inside one fixed box (every
face in the pack is aligned the same way, so no detector is needed, and a face the detector would
miss still gets an embedding), and dlib's ResNet maps the aligned chip to 128 numbers. Two faces
closer than SAME_PERSON (dlib's own threshold) are the same person. On real holdout faces at this
size a face and its mirror image are under it in 100 % of pairs, two different people in 0.4 %
(tests/test_identity.py checks both on the generator's faces).

The weights come from the `face-recognition-models` package (the fitting extra), found with
importlib: that package's own import needs pkg_resources, which new setuptools no longer has.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm

from gan.imaging import upscale

from .errors import TrainError

SAME_PERSON = 0.6
RECOGNIZE_PX = 256
FACE_BOX = (46, 79, 202, 235)  # left, top, right, bottom at 256 px: the median detector box of holdout faces
MODELS = ("shape_predictor_5_face_landmarks.dat", "dlib_face_recognition_resnet_model_v1.dat")
MISSING = "measuring identity needs dlib and its face models: pip install -e '.[fit]'"


def models_dir() -> Path:
    """The folder of dlib's model files inside the installed face-recognition-models package."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise TrainError(MISSING)
    folder = Path(spec.origin).parent / "models"
    if not all((folder / m).is_file() for m in MODELS):
        raise TrainError(f"{folder} lacks {' or '.join(MODELS)}: reinstall face-recognition-models")
    return folder


def recognizer() -> Callable[[np.ndarray], np.ndarray]:
    """uint8 faces (N, 64, 64, 3) -> (N, 128) float embeddings; Euclidean distance < SAME_PERSON
    means the same person."""
    try:
        import dlib  # the fitting extra
    except ImportError:
        raise TrainError(MISSING) from None
    folder = models_dir()
    landmarks = dlib.shape_predictor(str(folder / MODELS[0]))
    resnet = dlib.face_recognition_model_v1(str(folder / MODELS[1]))
    box = dlib.rectangle(*FACE_BOX)

    def embed(images: np.ndarray) -> np.ndarray:
        out = [np.array(resnet.compute_face_descriptor(im, landmarks(im, box))) for im in upscale(images, RECOGNIZE_PX)]
        return np.stack(out).astype(np.float32) if out else np.zeros((0, 128), np.float32)

    return embed


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N,) distances between matching rows of two embedding arrays."""
    return np.linalg.norm(a - b, axis=1)


def _embed(images: np.ndarray) -> np.ndarray:  # in a worker process: dlib is not picklable
    return recognizer()(images)


def dlib_embeddings(images: np.ndarray, workers: int = 2, chunk: int = 250) -> np.ndarray:
    """recognizer() on many faces, in `workers` processes."""
    parts = np.array_split(images, max(1, len(images) // chunk))
    with ProcessPoolExecutor(workers) as pool:
        done = tqdm(pool.map(_embed, parts), total=len(parts), desc="dlib", mininterval=5)
        return np.concatenate(list(done))
