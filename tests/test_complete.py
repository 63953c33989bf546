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
    assert "4 of 5 input(s) processed" in result.stdout
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
    assert only_bad.returncode == 1 and "0 of 1 input(s) processed" in only_bad.stdout
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


def test_align_with_a_corrected_photo_mask(tmp_path, models):
    """--align with --mask: the photo-sized <name>_mask.png of a first run, corrected by hand, is
    warped into each face's aligned frame; only the painted region (and the paste's 2-pixel growth
    and bilinear edge) changes."""
    import cv2

    photo = hopper_with_rectangle()
    (tmp_path / "in").mkdir()
    Image.fromarray(photo).save(tmp_path / "in" / "hopper.png")
    keras_model = f"--model={models / 'generator.keras'}"
    first = run_complete(keras_model, f"--input={tmp_path / 'in'}", f"--output={tmp_path / 'first'}", "--align")
    assert first.returncode == 0, first.stderr[-2000:]
    corrected = np.zeros(photo.shape[:2], np.uint8)
    corrected[172:208, 196:246] = 255  # the user keeps only the rectangle over the eye
    Image.fromarray(corrected).save(tmp_path / "first" / "hopper_mask.png")
    second = run_complete(keras_model, f"--input={tmp_path / 'in'}", f"--output={tmp_path / 'second'}", "--align",
                          f"--mask={tmp_path / 'first'}")
    assert second.returncode == 0, second.stderr[-2000:]
    completed = np.asarray(Image.open(tmp_path / "second" / "hopper_completed.png"))
    assert completed.shape == photo.shape
    # The paste: the aligned mask grown by 2 aligned pixels and warped back (the face is scaled
    # by under 2 here), so nothing changes farther than 7 photo pixels from the painted box.
    near = cv2.dilate(corrected, np.ones((15, 15), np.uint8)).astype(bool)
    np.testing.assert_array_equal(completed[~near], photo[~near])
    changed = np.abs(completed.astype(int) - photo).max(axis=-1) > 0
    assert changed[172:208, 196:246].mean() > 0.9  # the painted rectangle is redrawn
    pasted = np.asarray(Image.open(tmp_path / "second" / "hopper_mask.png")) > 0
    assert pasted[172:208, 196:246].all() and pasted.sum() < 2 * (corrected > 0).sum()


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


def test_given_mask_model_reproduces_the_generator_with_its_own_mask_and_obeys_another():
    """Fed back its own predicted mask, the given-mask model is the generator (another graph
    over the same layers); fed a hand-made mask, Eq. 2 holds with that mask."""
    from c2fdan_tf.models.generator import completion_with_given_mask

    face = face_with_rectangle().astype(np.float32)[None] / 255.0
    generator = scaled_mask_generator(face_with_rectangle())
    given = completion_with_given_mask(generator)
    own = generator(face)
    again = given([face, own["mask"].numpy()])
    for key in ("coarse", "coarse_completed", "fine", "completed"):
        np.testing.assert_allclose(again[key].numpy(), own[key].numpy(), atol=1e-6, err_msg=key)
    painted = np.zeros((1, 112, 112, 1), np.float32)
    painted[:, 30:70, 20:90] = 1.0  # a region the user painted
    out = {k: v.numpy() for k, v in given([face, painted]).items()}
    outside = painted[0, ..., 0] == 0
    np.testing.assert_array_equal(out["completed"][0][outside], face[0][outside])  # exactly the input
    inside = ~outside
    np.testing.assert_allclose(out["completed"][0][inside], out["fine"][0][inside], atol=1e-6)  # I_f there
    assert np.abs(out["completed"][0][inside] - face[0][inside]).mean() > 0.05  # and really changed


def test_complete_command_with_a_corrected_mask(tmp_path, models):
    """The workflow: a first run writes <name>_mask.png; the user erases half of it and paints
    a new region; the second run completes exactly there."""
    face = face_with_rectangle()
    (tmp_path / "in").mkdir()
    Image.fromarray(face).save(tmp_path / "in" / "face.png")
    keras_model = f"--model={models / 'generator.keras'}"
    first = run_complete(keras_model, "--precision=float32", f"--input={tmp_path / 'in'}", f"--output={tmp_path / 'first'}")
    assert first.returncode == 0, first.stderr[-2000:]
    predicted = np.asarray(Image.open(tmp_path / "first" / "face_mask.png"))
    corrected = predicted.copy()
    corrected[:, :56] = 0  # erased: the left half
    corrected[80:100, 70:100] = 255  # painted: a region the prediction missed
    Image.fromarray(corrected).save(tmp_path / "first" / "face_mask.png")
    second = run_complete(keras_model, "--precision=float32", f"--input={tmp_path / 'in'}", f"--output={tmp_path / 'second'}",
                          f"--mask={tmp_path / 'first'}")
    assert second.returncode == 0, second.stderr[-2000:]
    assert "masked by" in second.stdout
    completed = np.asarray(Image.open(tmp_path / "second" / "face_completed.png"))
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "second" / "face_mask.png")), corrected)
    off = corrected == 0
    np.testing.assert_array_equal(completed[off], face[off])  # erased and never-masked pixels: the input
    assert np.abs(completed[80:100, 70:100].astype(int) - face[80:100, 70:100]).mean() > 5  # painted: changed
    # A single mask file works for a single input; the same through the Python API (float32 both).
    single = run_complete(keras_model, "--precision=float32", f"--input={tmp_path / 'in' / 'face.png'}", f"--output={tmp_path / 'single'}",
                          f"--mask={tmp_path / 'first' / 'face_mask.png'}")
    assert single.returncode == 0, single.stderr[-2000:]
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "single" / "face_completed.png")), completed)
    [direct] = complete_faces(load_runner(models / "generator.keras"), face[None], corrected[None] / 255.0)
    np.testing.assert_array_equal(np.round(np.clip(direct.completed, 0, 1) * 255).astype(np.uint8), completed)


def test_complete_command_mask_errors_are_one_line(tmp_path, models):
    face = face_with_rectangle()
    Image.fromarray(face).save(tmp_path / "face.png")
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(tmp_path / "small_mask.png")
    wrong_size = run_complete(f"--model={models / 'generator.keras'}", f"--input={tmp_path / 'face.png'}",
                              f"--output={tmp_path / 'out'}", f"--mask={tmp_path / 'small_mask.png'}")
    assert wrong_size.returncode == 1 and "small_mask.png" in wrong_size.stderr and "64x64" in wrong_size.stderr
    assert not (tmp_path / "out" / "face_completed.png").exists()
    (tmp_path / "masks").mkdir()
    missing = run_complete(f"--model={models / 'generator.keras'}", f"--input={tmp_path / 'face.png'}",
                           f"--output={tmp_path / 'out'}", f"--mask={tmp_path / 'masks'}")
    assert missing.returncode == 1 and "no mask" in missing.stderr and "face_mask.png" in missing.stderr
    image_only = run_complete(f"--model={models / 'model.tflite'}", f"--input={tmp_path / 'face.png'}",
                              f"--output={tmp_path / 'out'}", f"--mask={tmp_path / 'small_mask.png'}")
    last = image_only.stderr.strip().splitlines()[-1]
    assert image_only.returncode == 1 and last.startswith("error: ") and "needs a .keras checkpoint" in last
    # With --align the mask covers the photo (112x112 here): a wrong size skips that photo, by name.
    aligned = run_complete(f"--model={models / 'generator.keras'}", "--align", f"--input={tmp_path / 'face.png'}",
                           f"--output={tmp_path / 'out'}", f"--mask={tmp_path / 'small_mask.png'}")
    assert aligned.returncode == 1
    assert "small_mask.png: is 64x64, a mask must be 112x112 like the photo" in aligned.stderr, aligned.stderr[-800:]
    assert "Traceback" not in aligned.stderr and not (tmp_path / "out" / "face_completed.png").exists()
