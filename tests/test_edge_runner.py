"""mobile/edge/complete.py: LiteRT only (TensorFlow must not be imported), same outputs."""

import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from c2fdan_tf.export.serving import save_serving_model
from c2fdan_tf.export.tflite import convert_saved_model
from c2fdan_tf.inference import TFLiteRunner
from c2fdan_tf.models import Generator

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ROOT / "mobile" / "edge" / "complete.py"

# Runs the edge runner with TensorFlow and Keras made unimportable.
NO_TENSORFLOW = textwrap.dedent(
    """
    import sys, runpy
    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("tensorflow", "keras", "tf_keras"):
                raise ImportError(f"the edge runner imported {name}")
    sys.meta_path.insert(0, Block())
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
    """
)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("edge")
    keras.utils.set_random_seed(0)
    save_serving_model(Generator(width=4), folder / "sm", batch_size=1)
    path = folder / "model.tflite"
    path.write_bytes(convert_saved_model(folder / "sm"))
    return path


def run_edge(*args):
    return subprocess.run([sys.executable, "-c", NO_TENSORFLOW, str(RUNNER), *args], capture_output=True, text=True,
                          timeout=300)


def test_edge_runner_completes_a_folder_without_tensorflow(tmp_path, model):
    faces = tmp_path / "faces"
    faces.mkdir()
    rng = np.random.default_rng(0)
    good = rng.integers(0, 256, size=(112, 112, 3), dtype=np.uint8)
    Image.fromarray(good).save(faces / "a.png")
    Image.fromarray(rng.integers(0, 256, size=(200, 300, 3), dtype=np.uint8)).save(faces / "b.jpg")
    (faces / "c.png").write_bytes(b"not an image")
    out = tmp_path / "out"
    result = run_edge(f"--model={model}", f"--input={faces}", f"--output={out}", "--threads=1")
    assert result.returncode == 0, result.stderr
    assert "imported tensorflow" not in result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "a_completed.png", "a_mask.png", "b_completed.png", "b_mask.png"]
    assert "skipped" in result.stderr and "c.png" in result.stderr
    assert "b.jpg is not 112x112" in result.stderr
    assert "median latency" in result.stdout and "(1 threads)" in result.stdout
    # The written PNGs are LiteRT's outputs for the same pixels, rounded to 8 bits.
    expected = TFLiteRunner(model_path=model)(good[None].astype(np.float32) / 255.0)
    written = np.asarray(Image.open(out / "a_completed.png"), np.float32) / 255.0
    assert np.abs(written - expected["completed"][0]).max() <= 0.5 / 255 + 1e-6
    mask = np.asarray(Image.open(out / "a_mask.png"), np.float32) / 255.0
    assert np.abs(mask - expected["mask"][0, ..., 0]).max() <= 0.5 / 255 + 1e-6


def test_edge_runner_errors(tmp_path, model):
    result = run_edge(f"--model={tmp_path / 'missing.tflite'}", f"--input={tmp_path}", f"--output={tmp_path}")
    assert result.returncode == 2 and "missing.tflite does not exist" in result.stderr
    result = run_edge(f"--model={model}", f"--input={tmp_path / 'nothing.png'}", f"--output={tmp_path}")
    assert result.returncode == 2 and "no input image" in result.stderr
    (tmp_path / "bad.png").write_bytes(b"xx")
    result = run_edge(f"--model={model}", f"--input={tmp_path / 'bad.png'}", f"--output={tmp_path / 'o'}")
    assert result.returncode == 1 and "skipped" in result.stderr


def test_the_block_really_blocks_tensorflow(tmp_path):
    script = tmp_path / "uses_tf.py"
    script.write_text("import tensorflow\n")
    result = subprocess.run([sys.executable, "-c", NO_TENSORFLOW, str(script)], capture_output=True, text=True)
    assert result.returncode != 0 and "imported tensorflow" in result.stderr


def test_edge_runner_takes_the_packaged_int8_model_by_default(tmp_path):
    """Run from the repository without --model: the model shipped in c2fdan_tf/pretrained/, its
    output LiteRT's for that file, on a real aligned face."""
    from c2fdan_tf.pretrained_model import pretrained_path
    from tests.real_photos import aligned_face

    face = aligned_face("astronaut")[0]
    Image.fromarray(face).save(tmp_path / "face.png")
    result = run_edge(f"--input={tmp_path / 'face.png'}", f"--output={tmp_path / 'out'}", "--threads=1")
    assert result.returncode == 0, result.stderr
    assert "model: the packaged int8 model" in result.stdout and "imported tensorflow" not in result.stderr
    expected = TFLiteRunner(model_path=pretrained_path("tflite_int8"))(face[None].astype(np.float32) / 255.0)
    written = np.asarray(Image.open(tmp_path / "out" / "face_completed.png"), np.float32) / 255.0
    assert np.abs(written - expected["completed"][0]).max() <= 0.5 / 255 + 1e-6
