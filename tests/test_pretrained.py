"""The model shipped in the package (c2fdan_tf/pretrained/, written by release.py): intact
against its manifest, loadable in safe mode, c2fdan-complete's default on a real photo, and
still giving the figures its manifest records on the fixed benchmark."""

import hashlib
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
from PIL import Image

from c2fdan_tf.data.face_renderers import renderer
from c2fdan_tf.evaluation.fixed_benchmark import compare_figures
from c2fdan_tf.models import Generator
from c2fdan_tf.pretrained_model import PRETRAINED_DIR, PretrainedError, pretrained_path, read_manifest, verify
from tests.commands import ROOT, assert_one_line_error
from tests.real_photos import aligned_face, photo

PACKAGE_LIMIT_BYTES = 25_000_000  # issue 31


def test_every_packaged_file_is_listed_with_its_checksum_and_the_package_is_small():
    manifest = verify()
    on_disk = {str(p.relative_to(PRETRAINED_DIR)) for p in PRETRAINED_DIR.rglob("*") if p.is_file()}
    assert on_disk - {"manifest.json"} == set(manifest["files"])
    for relative, entry in manifest["files"].items():
        content = (PRETRAINED_DIR / relative).read_bytes()
        assert entry["sha256"] == hashlib.sha256(content).hexdigest() and entry["size_bytes"] == len(content), relative
    assert sum(entry["size_bytes"] for entry in manifest["files"].values()) <= PACKAGE_LIMIT_BYTES
    assert manifest["training"]["data"].startswith("the project's synthetic faces only")
    assert manifest["renderer"]["faces"] == "v2" and "clean" in manifest["occlusions"]["mix"]


def test_the_packaged_generator_loads_in_safe_mode_and_its_int8_file_agrees_on_a_real_photo():
    from c2fdan_tf.inference import load_runner

    manifest = read_manifest()
    generator = keras.saving.load_model(pretrained_path("keras"), safe_mode=True)
    assert isinstance(generator, Generator) and generator.width == manifest["model"]["width"]
    assert generator.count_params() == manifest["model"]["parameters"]
    face, _ = aligned_face("astronaut")
    face = face.astype(np.float32) / 255.0
    face[78:90, 20:92] = 0.85  # the bar release.real_photo_agreement draws
    keras_out = generator(face[None], training=False)["completed"].numpy()
    int8_out = load_runner(str(pretrained_path("tflite_int8")))(face[None])["completed"]
    agreement = 10 * np.log10(1.0 / np.mean((int8_out - keras_out) ** 2))
    assert agreement == pytest.approx(manifest["benchmarks"]["fixed"]["int8_vs_keras_real_photo_db"], abs=0.5)


@pytest.mark.long(minutes=0.8)
def test_the_fixed_benchmark_gives_the_figures_of_the_manifest(tmp_path):
    """Recomputed the way `release.py --rerecord_fixed_benchmark` does (float32, into a copy's
    manifest): the figures are the recorded ones and the copy's files still match their checksums."""
    from c2fdan_tf.release import rerecord_fixed_benchmark

    manifest = read_manifest()
    recorded = manifest["benchmarks"]["fixed"]
    drawn_by = renderer(recorded["renderer"]["faces"]).RENDERER_VERSION
    assert recorded["renderer"]["version"] == drawn_by, (
        f"the figures are of renderer version {recorded['renderer']['version']}, the faces now of {drawn_by}: "
        "python release.py --rerecord_fixed_benchmark")
    copy = tmp_path / "pretrained"
    shutil.copytree(PRETRAINED_DIR, copy)
    measured = rerecord_fixed_benchmark(copy, log=lambda line: None)
    assert measured["images"] == recorded["images"]
    assert compare_figures(measured, recorded) == []
    rewritten = verify(copy)
    assert rewritten["benchmarks"]["fixed"] == measured and rewritten["files"] == manifest["files"]


def run_complete(*args, env=None):
    environment = None if env is None else {"PATH": "/usr/bin:/bin", **env}
    return subprocess.run([sys.executable, "-m", "c2fdan_tf.commands.complete", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=600, env=environment)


@pytest.mark.long(minutes=0.5)
def test_complete_without_a_model_takes_the_packaged_one_and_changes_only_masked_pixels(tmp_path):
    import cv2

    picture = photo("astronaut").copy()
    cv2.putText(picture, "MISSION STS-93", (150, 150), cv2.FONT_HERSHEY_DUPLEX, 0.9, (255, 230, 0), 2)  # over the mouth
    Image.fromarray(picture).save(tmp_path / "astronaut.png")
    result = run_complete(f"--input={tmp_path / 'astronaut.png'}", f"--output={tmp_path / 'out'}", "--align")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("model: the packaged model") == 1 and "1 face(s)" in result.stdout
    completed = np.asarray(Image.open(tmp_path / "out" / "astronaut_completed.png"))
    mask = np.asarray(Image.open(tmp_path / "out" / "astronaut_mask.png"))
    near = cv2.dilate((mask > 0).astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    np.testing.assert_array_equal(completed[~near], picture[~near])  # the paste's 3-pixel feather aside
    assert (mask > 0).sum() > 100  # the letters over the face were found


def test_a_changed_or_truncated_packaged_file_is_refused_naming_it(tmp_path):
    copy = tmp_path / "pretrained"
    shutil.copytree(PRETRAINED_DIR, copy)
    assert pretrained_path("tflite_int8", copy) == copy / "c2fdan_int8.tflite"
    int8 = copy / "c2fdan_int8.tflite"
    int8.write_bytes(int8.read_bytes()[:-10])
    with pytest.raises(PretrainedError, match=r"c2fdan_int8\.tflite has \d+ bytes, the manifest \d+: truncated"):
        verify(copy)
    onet = copy / "face_detector" / "onet.tflite"
    content = bytearray(onet.read_bytes())
    content[100] ^= 1  # one bit, same size
    onet.write_bytes(bytes(content))
    with pytest.raises(PretrainedError, match=r"onet\.tflite does not match its SHA-256"):
        verify(copy, ["face_detector"])
    assert pretrained_path("keras", copy) == copy / "c2fdan.keras"  # the file asked for is intact: accepted
    (copy / "manifest.json").unlink()
    with pytest.raises(PretrainedError, match=r"manifest\.json does not exist"):
        pretrained_path("keras", copy)


def test_a_truncated_packaged_model_is_refused_in_one_line(tmp_path):
    copy = tmp_path / "pretrained"
    shutil.copytree(PRETRAINED_DIR, copy)
    keras_file = copy / "c2fdan.keras"
    keras_file.write_bytes(keras_file.read_bytes()[:1000])
    Image.fromarray(aligned_face("astronaut")[0]).save(tmp_path / "face.png")
    result = run_complete(f"--input={tmp_path / 'face.png'}", f"--output={tmp_path / 'out'}",
                          env={"C2FDAN_PRETRAINED_DIR": str(copy)})
    assert_one_line_error(result, "c2fdan.keras has 1000 bytes", "truncated")
    assert not (tmp_path / "out").exists()
