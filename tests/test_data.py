"""Face packs: `prepare` from a CelebA-shaped download, reading them, streaming them, bad input."""

from __future__ import annotations

import hashlib
import json
import zipfile

import numpy as np
import pytest
import torch

from gan import Faces
from tests.conftest import FAKE_IMAGES
from tests.fake_celeba import write_celeba
from train.celeba import main as celeba_main
from train.classifier import load_classifier, predict
from train.data import IMAGE_BYTES, BatchStream, hold_in_memory, load_split
from train.errors import TrainError
from train.evaluate import main as evaluate_main
from train.gan import main as train_main


def test_prepare_writes_the_pack_format(data_root, celeba_download):
    train, holdout = load_split(data_root, "train"), load_split(data_root, "holdout")
    assert len(holdout) == FAKE_IMAGES // 12 and len(train) == FAKE_IMAGES - FAKE_IMAGES // 12
    assert all(int(i) % 12 == 0 for i in holdout.ids), "default holdout: CelebA numbers divisible by 12"
    assert not set(train.ids) & set(holdout.ids)
    assert train.images.shape == (len(train), 3, 64, 64) and train.images.dtype == torch.uint8
    assert train.labels.shape == (len(train), 40) and set(train.labels.unique().tolist()) == {0.0, 1.0}
    assert train.attribute_names[20] == "Male" and train.ids[0] == "000001"
    labels = (celeba_download[0] / "list_attr_celeba.txt").read_text().splitlines()
    first = [int(v) > 0 for v in labels[2].split()[1:]]
    assert train.labels[0].bool().tolist() == first
    # the crop and resize put the face that sits in the 148 px box back at 64 px
    originals = celeba_download[1][[int(i) - 1 for i in train.ids]]
    assert np.abs(train.images.permute(0, 2, 3, 1).numpy().astype(int) - originals).mean() < 3
    with zipfile.ZipFile(data_root / "train.zip") as zf:
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
    assert "non-commercial" in (data_root / "README.md").read_text()


def test_prepare_from_the_zip_with_the_official_partition(tmp_path, celeba_download, capsys):
    folder = celeba_download[0]
    src = tmp_path / "download"
    src.mkdir()
    with zipfile.ZipFile(src / "img_align_celeba.zip", "w") as zf:
        for jpg in sorted((folder / "img_align_celeba").iterdir())[:60]:
            zf.write(jpg, f"img_align_celeba/{jpg.name}")
    for name in ("list_attr_celeba.txt", "list_eval_partition.txt"):
        (src / name).write_bytes((folder / name).read_bytes())
    assert celeba_main([str(src), "--out", str(tmp_path / "pack"), "--holdout", "partition"]) == 0
    assert "wrote" in capsys.readouterr().out
    holdout = load_split(tmp_path / "pack", "holdout")
    assert holdout.ids == [f"{k:06d}" for k in range(1, 61) if k % 10 == 9], "test partition (2) is the holdout"
    assert len(load_split(tmp_path / "pack", "train")) == 60 - len(holdout)


def test_prepare_skips_and_counts_corrupt_images(tmp_path, faces: Faces, capsys):
    write_celeba(tmp_path / "dl", faces, 13)
    images = tmp_path / "dl" / "img_align_celeba"
    (images / "000003.jpg").write_bytes((images / "000003.jpg").read_bytes()[:500])  # truncated download
    (images / "000005.jpg").write_bytes(b"not a jpeg at all")
    (images / "README.txt").write_text("stray files are ignored")
    assert celeba_main([str(tmp_path / "dl"), "--out", str(tmp_path / "pack")]) == 0
    out = capsys.readouterr().out
    assert "10 train and 1 holdout" in out and "skipped 2" in out
    assert "000003" not in load_split(tmp_path / "pack", "train").ids


@pytest.mark.parametrize(
    "damage, message",
    [
        ("no_labels_file", "no list_attr_celeba.txt"),
        ("no_images", "no img_align_celeba/ folder or img_align_celeba.zip"),
        ("unlabelled_image", "1 images have no row in the attribute list, e.g. 000099.jpg"),
        ("short_row", "row 2 (000002.jpg) has 39 values for 40 attributes"),
        ("bad_rule", "--holdout is every:N"),
        ("existing_pack", "already holds a pack"),
    ],
)
def test_prepare_bad_input_is_one_line_and_writes_nothing(tmp_path, faces: Faces, capsys, damage, message):
    src, out = tmp_path / "dl", tmp_path / "pack"
    write_celeba(src, faces, 3)
    args = [str(src), "--out", str(out)]
    if damage == "no_labels_file":
        (src / "list_attr_celeba.txt").unlink()
    elif damage == "no_images":
        (src / "img_align_celeba" / "000001.jpg").rename(src / "000001.jpg")
        (src / "img_align_celeba").rename(src / "elsewhere")
    elif damage == "unlabelled_image":
        (src / "img_align_celeba" / "000099.jpg").write_bytes((src / "img_align_celeba" / "000001.jpg").read_bytes())
    elif damage == "short_row":
        lines = (src / "list_attr_celeba.txt").read_text().splitlines()
        lines[3] = lines[3].rsplit(" ", 1)[0]
        (src / "list_attr_celeba.txt").write_text("\n".join(lines))
    elif damage == "bad_rule":
        args += ["--holdout", "every:1"]
    elif damage == "existing_pack":
        out.mkdir()
        (out / "train.zip").write_bytes(b"a pack someone made")
    assert celeba_main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "pack.partial").exists()
    if damage != "existing_pack":
        assert not out.exists()


def test_a_missing_pack_is_one_clear_line(tmp_path, capsys):
    code = train_main(["--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run"), "--max-steps", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "is not a face pack" in err and "python -m train.celeba" in err


def test_hold_in_memory_when_it_fits():
    n = 1000
    assert hold_in_memory(n, "auto", {"host": 4 * n * IMAGE_BYTES})
    assert not hold_in_memory(n, "auto", {"host": 4 * n * IMAGE_BYTES, "gpu": n * IMAGE_BYTES})
    assert hold_in_memory(n, "resident", {"host": 0}) and not hold_in_memory(n, "stream", {"host": 2**60})
    with pytest.raises(TrainError):
        hold_in_memory(n, "sometimes", {})


def _digests(images: torch.Tensor) -> list[str]:
    return [hashlib.sha1(im.numpy().tobytes()).hexdigest() for im in images]


def test_batch_stream_gives_each_image_once_per_epoch(data_root):
    resident = sorted(_digests(load_split(data_root, "train", limit=64).images))
    stream = BatchStream(data_root, "train", 16, seed=3, limit=64, workers=2)
    try:
        epochs = [[d for _ in range(4) for d in _digests(next(stream))] for _ in range(2)]
    finally:
        stream.close()
    assert sorted(epochs[0]) == resident and sorted(epochs[1]) == resident
    assert epochs[0] != epochs[1], "a new order each epoch"
    again = BatchStream(data_root, "train", 16, seed=3, limit=64, workers=2)
    try:
        assert _digests(next(again)) == epochs[0][:16], "the order is fixed by the seed"
    finally:
        again.close()


def test_training_streams_a_pack_it_does_not_hold(data_root, tmp_path, capsys):
    out = tmp_path / "run"
    tiny = ["--batch", "16", "--ngf", "8", "--ndf", "8", "--log-every", "2", "--device", "cpu"]
    assert (
        train_main(["--data", str(data_root), "--out", str(out), "--max-steps", "4", "--data-memory", "stream", *tiny])
        == 0
    )
    assert "streaming 275 training faces" in capsys.readouterr().out
    log = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [2, 4] and all(np.isfinite(r["d_loss"]) for r in log)
    assert Faces.load(out / "final.safetensors").meta["training_data"] == "tiny train split (275 faces)"


def test_evaluate_scores_against_a_pack(data_root, tmp_path, capsys):
    out = tmp_path / "eval.jsonl"
    args = ["gan/weights/generator.safetensors", "--data", str(data_root), "--n", "200", "--out", str(out)]
    assert evaluate_main(args) == 0
    line = json.loads(out.read_text())
    assert line["n_holdout"] == FAKE_IMAGES // 12 and np.isfinite(line["frechet_distance"])
    assert line["real_floor"] > 0 and np.isfinite(line["real_floor"]), "the floor of real train faces, for context"
    assert all(0 <= line[k] <= 1 for k in ("precision", "recall", "real_precision", "real_recall"))
    assert f"floor: real train faces score {line['real_floor']:.3f}" in capsys.readouterr().out


# --- real CelebA faces --------------------------------------------------------------------------
def test_real_pack_reads_images_and_labels(real_pack):
    ds = load_split(real_pack, "train", limit=64)
    assert ds.images.shape == (64, 3, 64, 64) and ds.attribute_names[20] == "Male" and ds.ids[0] == "000001"
    holdout = load_split(real_pack, "holdout", limit=8)
    assert all(int(i) % 12 == 0 for i in holdout.ids), "holdout is CelebA numbers divisible by 12"
    assert not set(holdout.ids) & set(load_split(real_pack, "train", limit=2000).ids)


def test_classifier_accuracy_on_real_holdout_faces(real_pack):
    classifier, names = load_classifier()
    holdout = load_split(real_pack, "holdout", limit=1000)
    assert names == holdout.attribute_names
    accuracy = ((predict(classifier, holdout.images) > 0.5).float() == holdout.labels).float().mean(0)
    assert accuracy.mean() > 0.88, "the shipped classifier scored 0.907 on the whole holdout"
    assert accuracy[names.index("Male")] > 0.95 and accuracy[names.index("Smiling")] > 0.85
