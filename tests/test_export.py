"""Export: every format in its real runtime, parity, blend invariant, manifest, errors."""

import hashlib
import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from c2fdan_tf.export.exporter import FILE_NAMES, FLOAT_PARITY_DB, GIVEN_MASK_FILE, export_artifacts, sha256_of
from c2fdan_tf.export.serving import save_serving_model
from c2fdan_tf.export.tflite import NonBuiltinOpError, convert_saved_model
from c2fdan_tf.inference import KerasRunner, load_runner
from c2fdan_tf.inference.contract import OUTPUT_NAMES
from c2fdan_tf.models import Generator
from tests.commands import assert_one_line_error, run_script


def parity_batch(n=4, seed=0):
    rng = np.random.default_rng(seed)
    truth = rng.uniform(size=(n, 112, 112, 3)).astype(np.float32)
    mask = np.zeros((n, 112, 112, 1), np.float32)
    mask[:, 40:70, 30:80] = 1.0
    color = rng.uniform(size=(n, 1, 1, 3)).astype(np.float32)
    return {"occluded": (1 - mask) * truth + mask * color, "ground_truth": truth, "mask": mask}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("export")
    keras.utils.set_random_seed(0)
    generator = Generator(width=4)
    batch = parity_batch()
    representative = parity_batch(16, seed=1)["occluded"]
    manifest = export_artifacts(generator, out, batch, representative_images=representative,
                                source={"random_weights": True}, log=lambda message: None)
    return out, generator, batch, manifest


def artifact_outputs(out, fmt, images):
    return load_runner(out / FILE_NAMES[fmt])(images)


def psnr(a, b):
    return float(np.mean(tf.image.psnr(a, b, 1.0).numpy()))


@pytest.mark.long(minutes=1.0)
def test_every_format_is_written_and_matches_keras_in_its_runtime(exported):
    out, generator, batch, manifest = exported
    assert set(manifest["artifacts"]) == set(FILE_NAMES)
    images = parity_batch(3, seed=5)["occluded"]  # images the export's own check never saw
    reference = {k: v.numpy() for k, v in generator(images).items()}
    for fmt in ("saved_model", "tflite", "onnx"):
        got = artifact_outputs(out, fmt, images)
        assert set(got) == {"completed", "mask", "coarse"}, fmt
        for name, key in (("completed", "completed"), ("mask", "mask"), ("coarse", "coarse_completed")):
            value = psnr(got[name], reference[key])
            assert not np.isfinite(value) or value >= FLOAT_PARITY_DB, (fmt, name, value)
    for fmt in ("tflite_fp16", "tflite_int8"):
        got = artifact_outputs(out, fmt, images)
        assert got["completed"].shape == (3, 112, 112, 3)
        assert psnr(got["completed"], reference["completed"]) > 25, fmt  # quantised: close, not equal


def test_every_runner_keeps_the_output_contract_in_any_batch_size(exported):
    out, generator, batch, _ = exported
    images = parity_batch(5, seed=7)["occluded"]
    runners = {fmt: load_runner(out / FILE_NAMES[fmt]) for fmt in FILE_NAMES}
    runners["keras"] = KerasRunner(generator, batch_size=2)  # 5 faces in chunks of 2, 2 and 1
    direct = {k: v.numpy() for k, v in generator(images).items()}
    for fmt, runner in runners.items():
        got = runner(images)
        assert tuple(got) == OUTPUT_NAMES, fmt
        for name in OUTPUT_NAMES:
            channels = 1 if name == "mask" else 3
            assert got[name].shape == (5, 112, 112, channels) and got[name].dtype == np.float32, (fmt, name)
            slack = 0.01 if fmt == "tflite_int8" else 0.0  # int8 output steps may straddle the range ends
            assert got[name].min() >= -slack and got[name].max() <= 1.0 + slack, (fmt, name)
        assert psnr(got["coarse"], direct["coarse_completed"]) > 25, fmt  # "coarse" is I_c,r, not I_c
        empty = runner(images[:0])
        assert {name: value.shape[0] for name, value in empty.items()} == dict.fromkeys(OUTPUT_NAMES, 0), fmt
    with pytest.raises(ValueError, match=r"\(N, 112, 112, 3\)"):
        runners["onnx"](images[..., :1])


def test_the_coarse_network_runner_gives_the_generators_coarse_outputs(exported, tmp_path):
    from c2fdan_tf.inference.runners import CoarseNetworkRunner, ModelError, as_coarse_runner

    out, generator, _, _ = exported
    images = parity_batch(5, seed=3)["occluded"]
    direct = {k: v.numpy() for k, v in generator(images).items()}
    generator.save(tmp_path / "stage1.keras")
    for runner in (CoarseNetworkRunner(generator, batch_size=2), as_coarse_runner(tmp_path / "stage1.keras")):
        got = runner(images)
        assert tuple(got) == ("coarse", "mask")
        np.testing.assert_allclose(got["coarse"], direct["coarse_completed"], atol=1e-5)  # I_c,r
        np.testing.assert_allclose(got["mask"], direct["mask"], atol=1e-6)
    assert tuple(as_coarse_runner(out / FILE_NAMES["tflite"])(images[:1])) == OUTPUT_NAMES  # runs whole
    (tmp_path / "corrupt.keras").write_bytes(b"not a zip")
    with pytest.raises(ModelError, match=r"corrupt\.keras is not a Keras \.keras archive"):
        as_coarse_runner(tmp_path / "corrupt.keras")


def test_blend_invariant_holds_in_every_artifact(exported):
    """Eq. 2: the output departs from the input at most by the predicted mask."""
    out, _, batch, _ = exported
    images = batch["occluded"]
    tolerance = {"tflite_int8": 3 / 255, "tflite_fp16": 2e-3}
    for fmt in FILE_NAMES:
        got = artifact_outputs(out, fmt, images)
        deviation = np.abs(got["completed"] - images).max(axis=-1)
        allowed = got["mask"][..., 0] + tolerance.get(fmt, 1e-5)
        assert np.all(deviation <= allowed), (fmt, float((deviation - allowed).max()))


def test_manifest_hashes_sizes_and_io(exported):
    out, _, _, manifest = exported
    written = json.loads((out / "manifest.json").read_text())
    assert written == json.loads(json.dumps(manifest))
    for fmt, entry in written["artifacts"].items():
        path = out / entry["file"]
        assert entry["sha256"] == sha256_of(path), fmt
        assert entry["size_bytes"] > 0
        inputs = entry["inputs"] if "inputs" in entry else entry["signatures"]["serving_default"]["inputs"]
        assert inputs[0]["name"] == "image" and inputs[0]["range"] == [0.0, 1.0]
    assert written["artifacts"]["tflite"]["inputs"][0]["shape"] == [1, 112, 112, 3]
    assert written["artifacts"]["onnx"]["opset"] >= 17
    assert not any(op.startswith("FLEX") for op in written["artifacts"]["tflite_int8"]["ops"])
    decision = written["artifacts"]["tflite_int8"]["int8_decision"]
    assert decision["chosen"] in ("int8_full", "int8_dynamic") and set(decision["measured"]) == {"full", "dynamic"}
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no workspace left behind
    # Every file written has its own SHA-256 in the manifest, the face detector's TFLite nets and
    # the SavedModel's files included (checked against hashlib here, file by file).
    listed = {}
    for entry in [*written["artifacts"].values(), written["given_mask"], written["face_detector"]]:
        listed[entry["file"]] = entry["sha256"]
        for relative, digest in entry.get("files_sha256", {}).items():
            listed[f"{entry['file']}/{relative}"] = digest
    on_disk = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.name != "manifest.json"}
    assert on_disk <= set(listed), on_disk - set(listed)
    assert {"face_detector/rnet.tflite", "face_detector/onet.tflite"} <= on_disk
    for relative in on_disk:
        assert listed[relative] == hashlib.sha256((out / relative).read_bytes()).hexdigest(), relative


def test_uint8_signature_equals_the_float_one(exported):
    out, _, _, manifest = exported
    pixels = np.random.default_rng(3).integers(0, 256, size=(2, 112, 112, 3), dtype=np.uint8)
    loaded = tf.saved_model.load(str(out / "saved_model"))
    from_uint8 = loaded.signatures["serving_uint8"](image=tf.constant(pixels))
    from_float = loaded.signatures["serving_default"](image=tf.constant(pixels.astype(np.float32) / 255.0))
    for key in ("completed", "mask", "coarse"):
        np.testing.assert_allclose(from_uint8[key].numpy(), from_float[key].numpy(), atol=1e-6)
    assert manifest["artifacts"]["saved_model"]["uint8_signature_max_abs_difference"] <= 1e-6


def test_a_flex_op_fails_the_export_with_its_name(tmp_path):
    class KerasArgmax(keras.layers.Layer):  # keras.ops.argmax lowers to tf.BitwiseAnd (Flex only)
        def call(self, x):
            return ops.cast(ops.argmax(x, axis=-1), "float32")

    inputs = keras.Input((8,), name="image")
    model = keras.Model(inputs, KerasArgmax(name="keras_argmax")(inputs))
    model(np.zeros((1, 8), np.float32))
    model.export(str(tmp_path / "flex"), format="tf_saved_model", verbose=False)
    with pytest.raises(NonBuiltinOpError, match=r"BitwiseAnd \(in .*keras_argmax"):
        convert_saved_model(tmp_path / "flex")


def test_generator_saved_model_keeps_batch_dynamic(tmp_path):
    generator = Generator(width=4)
    save_serving_model(generator, tmp_path / "sm")
    signature = tf.saved_model.load(str(tmp_path / "sm")).signatures["serving_default"]
    for n in (1, 3):
        assert signature(image=tf.zeros((n, 112, 112, 3)))["completed"].shape == (n, 112, 112, 3)


def run_export(tmp_path, *args):
    return run_script("export.py", tmp_path, *args)


def test_export_errors_are_one_line_and_leave_no_files(tmp_path):
    out = tmp_path / "out"
    assert_one_line_error(run_export(tmp_path, f"--checkpoint={tmp_path / 'missing.keras'}", f"--out={out}"),
                          "missing.keras does not exist")
    assert not out.exists()
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(b"PK\x03\x04 this is not really a zip")
    assert_one_line_error(run_export(tmp_path, f"--checkpoint={corrupt}", f"--out={out}"), "corrupt.keras")
    assert not out.exists()
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert_one_line_error(run_export(tmp_path, "--width=4", f"--out={blocker / 'export'}", "--formats=tflite"),
                          "not writable")
    assert blocker.read_text() == "not a folder"


@pytest.mark.long(minutes=0.6)
def test_export_command_smoke(tmp_path):
    out = tmp_path / "out"
    result = run_export(tmp_path, "--width=4", f"--out={out}", "--formats=tflite,onnx", "--noface_detector")
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == ["c2fdan.onnx", "c2fdan_fp32.tflite", GIVEN_MASK_FILE,
                                                     "manifest.json"]
    assert f"{GIVEN_MASK_FILE}: " in result.stdout and "completes inside a given mask" in result.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["source"]["random_weights"] and manifest["source"]["config"]["width"] == 4


def test_the_given_mask_model_converts_to_builtin_tflite_and_completes_inside_a_hand_mask(exported):
    """The phone app's second model: image and a (corrected) mask in, Eq. 2 with that mask."""
    from c2fdan_tf.inference import ModelError
    from c2fdan_tf.models.generator import completion_with_given_mask

    out, generator, _, manifest = exported
    entry, path = manifest["given_mask"], out / GIVEN_MASK_FILE
    assert entry["file"] == GIVEN_MASK_FILE and entry["sha256"] == sha256_of(path)
    assert [i["name"] for i in entry["inputs"]] == ["image", "mask"] and entry["inputs"][1]["shape"] == [1, 112, 112, 1]
    assert entry["ops"] and not any("FLEX" in op.upper() for op in entry["ops"])
    images = parity_batch(3, seed=9)["occluded"]
    masks = np.zeros((3, 112, 112, 1), np.float32)
    masks[:, 20:60, 30:90] = 1.0  # a mask drawn by hand, unlike any the network predicts
    runner = load_runner(path)
    got = runner.with_masks(images, masks)
    expected = {k: v.numpy() for k, v in completion_with_given_mask(generator)([images, masks]).items()}
    for name, key in (("completed", "completed"), ("coarse", "coarse_completed")):
        assert psnr(got[name], expected[key]) >= FLOAT_PARITY_DB, name
    np.testing.assert_array_equal(got["mask"], masks)
    outside = masks[..., 0] == 0
    assert np.abs(got["completed"] - images).max(axis=-1)[outside].max() <= 1e-5  # untouched outside
    assert np.abs(got["completed"] - images).max(axis=-1)[~outside].mean() > 1e-3  # completed inside
    with pytest.raises(ModelError, match="given mask"):
        runner(images)
