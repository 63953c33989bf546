"""The completion command, alignment to the template and pasting back into photos."""

import subprocess
import sys
from pathlib import Path

import keras
import matplotlib.cbook
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from c2fdan_tf.inference.alignment import TEMPLATE, align, detect_faces, paste_back, similarity_transform
from c2fdan_tf.inference import complete_faces, load_runner
from c2fdan_tf.export.serving import save_serving_model
from c2fdan_tf.export.tflite import convert_saved_model
from c2fdan_tf.models import Generator

ROOT = Path(__file__).resolve().parents[1]
RNG = np.random.default_rng(21)


def face_with_rectangle(seed=0):
    from c2fdan_tf.data.synthetic_faces import SPLIT_OFFSETS, render_faces

    face = render_faces(seed, [SPLIT_OFFSETS["eval"] + seed], [0])[0].copy()
    face[40:62, 28:60] = (220, 40, 200)
    return face


def scaled_mask_generator(face):
    """Random weights, but a saturated mask: exactly 0 on part of the face, 1 on another."""
    keras.utils.set_random_seed(0)
    generator = Generator(width=4)
    head = generator.coarse_network.get_layer("mask_logits")
    kernel, bias = head.get_weights()
    head.set_weights([kernel * 3000.0, bias * 3000.0])
    logits = generator(face[None].astype(np.float32) / 255.0)["mask_logits"].numpy()
    head.set_weights([kernel * 3000.0, bias * 3000.0 - np.median(logits)])
    return generator


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    generator = scaled_mask_generator(face_with_rectangle())
    generator.save(folder / "generator.keras")
    save_serving_model(generator, folder / "saved_model")
    save_serving_model(generator, folder / "batch1", batch_size=1)
    (folder / "model.tflite").write_bytes(convert_saved_model(folder / "batch1"))
    empty = Generator(width=4)  # a mask head that never fires: nothing to complete
    head = empty.coarse_network.get_layer("mask_logits")
    kernel, bias = head.get_weights()
    head.set_weights([np.zeros_like(kernel), np.full_like(bias, -50.0)])
    empty.save(folder / "empty_mask.keras")
    return folder


def test_checkpoint_saved_model_and_tflite_agree(models):
    faces = np.stack([face_with_rectangle(s) for s in range(3)])
    outputs = {name: load_runner(models / name)(faces.astype(np.float32) / 255.0)
               for name in ("generator.keras", "saved_model", "model.tflite")}
    reference = outputs["generator.keras"]
    for name in ("saved_model", "model.tflite"):
        for key in ("completed", "mask"):
            psnr = float(np.mean(tf.image.psnr(outputs[name][key], reference[key], 1.0)))
            assert not np.isfinite(psnr) or psnr >= 45, (name, key, psnr)
    mask = reference["mask"][0]  # the face the mask head was centred on
    assert 0.2 < np.mean(mask < 1e-3) < 0.8  # the mask is really on part of the face only


def run_complete(*args):
    return subprocess.run([sys.executable, "-m", "c2fdan_tf.commands.complete", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)


def write_inputs(folder):
    folder.mkdir()
    face = face_with_rectangle()
    Image.fromarray(face).save(folder / "good.png")
    Image.fromarray(face).convert("L").save(folder / "gray.png")
    rgba = Image.fromarray(face).convert("RGBA")
    rgba.putalpha(200)
    rgba.save(folder / "rgba.png")
    Image.fromarray(np.tile(face, (2, 3, 1))[:200, :300]).save(folder / "wide_photo.jpg")
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    return face


def test_complete_command_on_a_folder_with_good_and_bad_files(tmp_path, models):
    inputs, out = tmp_path / "in", tmp_path / "out"
    face = write_inputs(inputs)
    result = run_complete(f"--model={models / 'model.tflite'}", f"--input={inputs}", f"--output={out}",
                          "--side_by_side")
    assert result.returncode == 0, result.stderr[-2000:]
    written = sorted(p.name for p in out.iterdir())
    for stem in ("good", "gray", "rgba", "wide_photo"):
        for kind in ("completed", "mask", "side_by_side"):
            assert f"{stem}_{kind}.png" in written
    assert not any(name.startswith("corrupt") for name in written)
    assert "skipped" in result.stderr and "corrupt.png" in result.stderr
    assert "wide_photo.jpg is not 112x112 and was resized" in result.stderr
    assert "4 of 5 image(s) processed" in result.stdout
    # The completed face is Eq. 2: the input wherever the mask cannot change a pixel level.
    completed = np.asarray(Image.open(out / "good_completed.png"))
    mask = np.asarray(Image.open(out / "good_mask.png"), np.float32) / 255.0
    keep = mask == 0
    assert keep.mean() > 0.2
    np.testing.assert_array_equal(completed[keep], face[keep])
    assert np.asarray(Image.open(out / "good_side_by_side.png")).shape == (112, 336, 3)
    # Existing outputs are kept without --overwrite.
    before = (out / "good_completed.png").stat().st_mtime_ns
    again = run_complete(f"--model={models / 'model.tflite'}", f"--input={inputs / 'good.png'}", f"--output={out}")
    assert again.returncode == 1 and "exists (use --overwrite)" in again.stderr
    assert (out / "good_completed.png").stat().st_mtime_ns == before
    forced = run_complete(f"--model={models / 'model.tflite'}", f"--input={inputs / 'good.png'}",
                          f"--output={out}", "--overwrite")
    assert forced.returncode == 0


def test_complete_command_globs_and_errors(tmp_path, models):
    inputs = tmp_path / "in"
    write_inputs(inputs)
    result = run_complete(f"--model={models / 'generator.keras'}", f"--input={inputs}/g*.png",
                          f"--output={tmp_path / 'out'}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "good_completed.png", "good_mask.png", "gray_completed.png", "gray_mask.png"]
    only_bad = run_complete(f"--model={models / 'generator.keras'}", f"--input={inputs / 'corrupt.png'}",
                            f"--output={tmp_path / 'out2'}")
    assert only_bad.returncode == 1 and "0 of 1 image(s) processed" in only_bad.stdout
    missing = run_complete(f"--model={tmp_path / 'none.tflite'}", f"--input={inputs}", f"--output={tmp_path}")
    assert missing.returncode == 1 and missing.stderr.strip().splitlines()[-1].startswith("error: Model")


def test_empty_mask_returns_the_image_untouched(tmp_path, models):
    face = face_with_rectangle()
    Image.fromarray(face).save(tmp_path / "face.png")
    result = run_complete(f"--model={models / 'empty_mask.keras'}", f"--input={tmp_path / 'face.png'}",
                          f"--output={tmp_path / 'out'}")
    assert result.returncode == 0 and "no occlusion found; written unchanged" in result.stdout
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out" / "face_completed.png")), face)
    [direct] = complete_faces(load_runner(models / "empty_mask.keras"), face[None])
    assert direct.empty_mask


def test_similarity_transform_recovers_a_known_transform():
    angle, scale, shift = 0.3, 1.7, np.array([12.0, -5.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    source = RNG.uniform(0, 100, size=(5, 2))
    target = source @ (scale * rotation).T + shift
    matrix = similarity_transform(source, target)
    np.testing.assert_allclose(matrix[:, :2], scale * rotation, atol=1e-9)
    np.testing.assert_allclose(matrix[:, 2], shift, atol=1e-9)


def test_align_puts_landmarks_on_the_template_and_paste_back_keeps_the_rest():
    photo = RNG.integers(0, 256, size=(300, 260, 3), dtype=np.uint8)
    angle, scale = -0.2, 2.3
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    landmarks = TEMPLATE @ (scale * rotation).T + np.array([40.0, 70.0])  # an exact similarity of the template
    aligned, matrix = align(photo, landmarks)
    assert aligned.shape == (112, 112, 3)
    np.testing.assert_allclose(landmarks @ matrix[:, :2].T + matrix[:, 2], TEMPLATE, atol=1e-6)
    mask = np.zeros((112, 112, 1), np.float32)
    mask[40:60, 30:80] = 1.0
    completed = np.ones((112, 112, 3), np.float32)  # white where completed
    result, photo_mask = paste_back(photo, completed, mask, matrix)
    assert result.shape == photo.shape and result.dtype == np.uint8
    outside = photo_mask == 0
    assert outside.mean() > 0.8
    np.testing.assert_array_equal(result[outside], photo[outside])
    assert np.all(result[photo_mask == 1] == 255)


def hopper_with_rectangle():
    photo = np.asarray(Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
                       .convert("RGB")).copy()
    photo[172:208, 196:246] = (30, 200, 60)  # over the eye on the image's left
    return photo


def test_align_on_a_real_photo(tmp_path, models):
    photo = hopper_with_rectangle()
    faces = detect_faces(photo)
    assert len(faces) == 1 and faces[0].confidence > 0.9
    eye = faces[0].landmarks[0]
    assert 196 <= eye[0] <= 246 and 172 <= eye[1] <= 208  # the left-eye landmark is under the rectangle
    Image.fromarray(photo).save(tmp_path / "hopper.png")
    result = run_complete(f"--model={models / 'generator.keras'}", f"--input={tmp_path / 'hopper.png'}",
                          f"--output={tmp_path / 'out'}", "--align")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "1 face(s)" in result.stdout
    completed = np.asarray(Image.open(tmp_path / "out" / "hopper_completed.png"))
    mask = np.asarray(Image.open(tmp_path / "out" / "hopper_mask.png"))
    assert completed.shape == photo.shape and mask.shape == photo.shape[:2]
    # Every pixel farther than 3 pixels from the pasted (warped-back) mask is unchanged.
    import cv2

    near = cv2.dilate((mask > 0).astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    assert (~near).mean() > 0.5
    np.testing.assert_array_equal(completed[~near], photo[~near])
    assert (mask > 0).sum() > 100  # something was pasted


def test_photo_without_a_face_writes_nothing(tmp_path, models):
    Image.fromarray(RNG.integers(0, 256, size=(200, 240, 3), dtype=np.uint8)).save(tmp_path / "noise.png")
    result = run_complete(f"--model={models / 'generator.keras'}", f"--input={tmp_path / 'noise.png'}",
                          f"--output={tmp_path / 'out'}", "--align")
    assert result.returncode == 1
    assert "noise.png: no face found; nothing written" in result.stderr
    assert list((tmp_path / "out").iterdir()) == []


def test_align_command_prepares_a_training_folder(tmp_path):
    (tmp_path / "in" / "grace").mkdir(parents=True)
    Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)).save(
        tmp_path / "in" / "grace" / "hopper.jpg")
    Image.fromarray(RNG.integers(0, 256, size=(100, 100, 3), dtype=np.uint8)).save(tmp_path / "in" / "grace" / "x.png")
    result = subprocess.run([sys.executable, "-m", "c2fdan_tf.commands.align", str(tmp_path / "in"), str(tmp_path / "out")],
                            capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    aligned = np.asarray(Image.open(tmp_path / "out" / "grace" / "hopper.png"))
    assert aligned.shape == (112, 112, 3)
    assert "x.png: no face found" in result.stderr
