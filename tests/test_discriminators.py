"""The seven discriminators: inputs, crops, flips, shapes and regional dependence."""

import keras
import numpy as np
import pytest

from c2fdan_tf.face_template import REGION_BOXES, REGION_SIZE
from c2fdan_tf.layers import RegionCrop
from c2fdan_tf.models import DISCRIMINATOR_NAMES, Discriminators

RNG = np.random.default_rng(3)


def crop(x, region):
    y0, x0 = REGION_BOXES[region]
    return x[:, y0 : y0 + REGION_SIZE, x0 : x0 + REGION_SIZE]


@pytest.fixture(scope="module")
def model():
    return Discriminators(width=4)


def images(n=2):
    return [RNG.uniform(size=(n, 112, 112, 3)).astype(np.float32) for _ in range(2)]


def test_output_shapes(model):
    outputs = model(images())
    assert set(outputs) == set(DISCRIMINATOR_NAMES)
    assert outputs["global"].shape == (2, 1) and outputs["face"].shape == (2, 28, 28, 1)
    for name in ("left_eye", "right_eye", "nose", "mouth", "eye_pair"):
        assert outputs[name].shape == (2, 7, 7, 1)
    convs = [l for l in model.layers if l.name.startswith("face_conv")]
    assert [c.strides for c in convs] == [(2, 2), (2, 2), (1, 1)]
    assert not any("normalization" in type(l).__name__.lower() for l in model.layers)


@pytest.mark.parametrize("region", sorted(REGION_BOXES))
def test_region_inputs_are_the_candidate_and_occluded_crops(model, region):
    candidate, occluded = images()
    probe = keras.Model(model.inputs, model.get_layer(f"crop_{region}").output)
    got = probe([candidate, occluded]).numpy()
    np.testing.assert_array_equal(got[..., :3], crop(candidate, region))
    np.testing.assert_array_equal(got[..., 3:], crop(occluded, region))


def test_eye_pair_input_is_left_eye_with_flipped_right_eye(model):
    candidate, occluded = images()
    probe = keras.Model(model.inputs, model.get_layer("eye_pair_concat").output)
    got = probe([candidate, occluded]).numpy()
    assert got.shape == (2, 28, 28, 12)
    np.testing.assert_array_equal(got[..., :3], crop(candidate, "left_eye"))
    np.testing.assert_array_equal(got[..., 3:6], crop(occluded, "left_eye"))
    np.testing.assert_array_equal(got[..., 6:9], crop(candidate, "right_eye")[:, :, ::-1])
    np.testing.assert_array_equal(got[..., 9:], crop(occluded, "right_eye")[:, :, ::-1])


def test_regional_discriminators_see_only_their_region(model):
    candidate, occluded = images()
    before = {k: v.numpy() for k, v in model([candidate, occluded]).items()}
    # The boxes overlap; change the part of the nose box that is in no other box.
    only_nose = np.zeros((112, 112), bool)
    y0, x0 = REGION_BOXES["nose"]
    only_nose[y0 : y0 + REGION_SIZE, x0 : x0 + REGION_SIZE] = True
    for other in ("left_eye", "right_eye", "mouth"):
        oy, ox = REGION_BOXES[other]
        only_nose[oy : oy + REGION_SIZE, ox : ox + REGION_SIZE] = False
    assert only_nose.sum() > 200
    changed = candidate.copy()
    changed[:, only_nose] += 0.5
    after = {k: v.numpy() for k, v in model([changed, occluded]).items()}
    for name in ("left_eye", "right_eye", "mouth", "eye_pair"):
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)
    for name in ("nose", "face", "global"):
        assert np.abs(after[name] - before[name]).max() > 0, name


def test_region_crop_config_and_errors():
    layer = RegionCrop("mouth", flip=True)
    clone = RegionCrop.from_config(layer.get_config())
    x = RNG.uniform(size=(1, 112, 112, 2)).astype(np.float32)
    np.testing.assert_array_equal(clone(x).numpy(), crop(x, "mouth")[:, :, ::-1])
    with pytest.raises(ValueError, match="Unknown region"):
        RegionCrop("ear")


def test_save_and_load(tmp_path, model):
    inputs = images(1)
    path = tmp_path / "d.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    for name, value in model(inputs).items():
        np.testing.assert_array_equal(loaded(inputs)[name].numpy(), value.numpy())
