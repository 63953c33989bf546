"""Aligning datasets: the landmarks they ship (VGGFace2, CelebA, a generic CSV), the subject of
a photo with several faces, parallel workers, resume and the list of misses."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from c2fdan_tf.data.landmark_files import read_landmarks
from c2fdan_tf.inference.alignment import DetectedFace, align, align_folder, choose_subject
from tests.commands import ROOT

POINTS = np.array([[38.3, 51.7], [73.5, 51.5], [56.0, 71.7], [41.6, 92.4], [70.7, 92.2]])


def test_the_three_landmark_formats_read_to_the_same_points(tmp_path):
    flat = " ".join(f"{v:g}" for v in POINTS.reshape(-1))
    (tmp_path / "loose_landmark_train.csv").write_text(
        "NAME_ID,P1X,P1Y,P2X,P2Y,P3X,P3Y,P4X,P4Y,P5X,P5Y\n" + "n000002/0001_01," + flat.replace(" ", ",") + "\n")
    (tmp_path / "list_landmarks_celeba.txt").write_text(
        "1\nlefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y rightmouth_x "
        "rightmouth_y\n000001.jpg   " + flat + "\n")
    (tmp_path / "mine.csv").write_text("people/ann/1.png," + flat.replace(" ", ",") + "\n")
    for name, key in (("loose_landmark_train.csv", "n000002/0001_01"), ("list_landmarks_celeba.txt", "000001"),
                      ("mine.csv", "people/ann/1")):
        landmarks = read_landmarks(tmp_path / name)
        assert list(landmarks) == [key]
        np.testing.assert_allclose(landmarks[key], POINTS)
    (tmp_path / "bad.csv").write_text("a.png,1,2,3\n")
    with pytest.raises(ValueError, match="bad.csv line 1: 3 coordinates, want 10"):
        read_landmarks(tmp_path / "bad.csv")


def test_the_subject_is_the_large_face_near_the_centre_not_the_most_confident():
    def face(x, y, side, confidence):
        return DetectedFace((x, y, side, side), confidence, np.zeros((5, 2)))

    subject, bystander, tiny_centre = face(180, 150, 140, 0.95), face(10, 10, 90, 0.999), face(225, 200, 30, 0.99)
    faces = [bystander, subject, tiny_centre]
    assert choose_subject(faces, (500, 500, 3)) is subject  # the tiny one is under half the largest's width
    assert choose_subject(faces, (500, 500, 3), "confident") is bystander
    assert choose_subject(faces, (500, 500, 3), "largest") is subject


def photo_with_face(seed):
    """A 200x160 photo holding a face whose five points are POINTS moved by (40 + seed, 30)."""
    rng = np.random.default_rng(seed)
    photo = rng.integers(0, 256, (160, 200, 3), dtype=np.uint8)
    return photo, POINTS + [40 + seed, 30]


def test_align_folder_by_dataset_landmarks_is_parallel_resumable_and_lists_misses(tmp_path):
    source, out = tmp_path / "vggface2" / "train", tmp_path / "aligned"
    rows, expected = [], {}
    for person in ("n000001", "n000002"):
        (source / person).mkdir(parents=True)
        for k in range(3):
            photo, points = photo_with_face(len(rows))
            Image.fromarray(photo).save(source / person / f"000{k}_01.png")
            rows.append(f"{person}/000{k}_01," + ",".join(f"{v:.3f}" for v in points.reshape(-1)))
            expected[f"{person}/000{k}_01.png"] = align(photo, points)[0]
    (source / "n000002" / "0009_01.png").write_bytes(b"not a png")  # unreadable
    Image.fromarray(photo_with_face(9)[0]).save(source / "n000002" / "0010_01.png")  # no landmarks for it
    landmarks = tmp_path / "loose_landmark_train.csv"
    landmarks.write_text("NAME_ID,P1X,P1Y,P2X,P2Y,P3X,P3Y,P4X,P4Y,P5X,P5Y\n" + "\n".join(rows) + "\n")
    lines = []
    written, problems = align_folder(source, out, landmarks=str(landmarks), workers=2, chunk=2, log=lines.append)
    assert written == 6 and len(problems) == 2
    for relative, aligned in expected.items():
        np.testing.assert_array_equal(np.asarray(Image.open(out / relative)), aligned)
    misses = (out / "alignment_misses.tsv").read_text()
    assert "0009_01.png\t" in misses and "0010_01.png\tno landmarks" in misses
    assert not list(out.rglob(".*.tmp"))
    # Run again (as after an interruption): the aligned photos are skipped, the misses retried.
    (out / "n000001" / "0001_01.png").unlink()
    lines.clear()
    written, problems = align_folder(source, out, landmarks=str(landmarks), workers=2, chunk=2, log=lines.append)
    assert written == 1 and len(problems) == 2 and "5 of 8 photo(s) already aligned" in lines[0]


def test_the_align_command_takes_landmarks_and_workers(tmp_path):
    (tmp_path / "in").mkdir()
    photo, points = photo_with_face(0)
    Image.fromarray(photo).save(tmp_path / "in" / "000001.jpg", quality=95)
    flat = " ".join(f"{v:.2f}" for v in points.reshape(-1))
    (tmp_path / "list_landmarks_celeba.txt").write_text(
        "1\nlefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y rightmouth_x "
        f"rightmouth_y\n000001.jpg {flat}\n")
    result = subprocess.run([sys.executable, "-m", "c2fdan_tf.commands.align", str(tmp_path / "in"),
                             str(tmp_path / "out"), f"--landmarks={tmp_path / 'list_landmarks_celeba.txt'}",
                             "--workers=2"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert np.asarray(Image.open(tmp_path / "out" / "000001.png")).shape == (112, 112, 3)
    assert "Aligned 1 face(s)" in result.stdout
