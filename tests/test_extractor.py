"""The face feature extractor: a ResNet-v2 with a face-recognition stem for 112x112."""

import numpy as np
import pytest
import keras

from c2fdan_tf.models import FaceFeatureExtractor
from c2fdan_tf.models.checkpoints import CheckpointError, load_extractor
from tests.saved_files import drop_from_saved_config


@pytest.mark.parametrize("architecture, block1_channels, block3_channels",
                         [("resnet50v2", 256, 1024), ("resnet_v2_small", 8, 32)])
def test_feature_maps_keep_spatial_detail_at_112(architecture, block1_channels, block3_channels):
    """Eq. 8-10 use 'block1' and 'block3'; with the ImageNet stem they would be 14x14 and 4x4."""
    extractor = FaceFeatureExtractor(10, architecture, width=8)
    outputs = extractor(np.zeros((1, 112, 112, 3), np.float32))
    assert tuple(outputs["block1"].shape) == (1, 56, 56, block1_channels)
    assert tuple(outputs["block3"].shape) == (1, 14, 14, block3_channels)
    assert tuple(outputs["embedding"].shape) == (1, 256)
    np.testing.assert_allclose(np.linalg.norm(outputs["embedding"].numpy(), axis=-1), 1.0, rtol=1e-5)


def test_resnet50v2_is_keras_resnet50v2_but_for_the_stem():
    """Bottleneck blocks [3, 4, 6, 3] with the weights of Keras' ResNet50V2; only the stem
    differs (3x3 instead of 7x7 kernels, 64 filters on RGB)."""
    extractor = FaceFeatureExtractor(10, "resnet50v2")
    head = sum(extractor.get_layer(name).count_params() for name in ("bottleneck", "bottleneck_bn", "logits"))
    reference = keras.applications.ResNet50V2(weights=None, include_top=False, input_shape=(112, 112, 3))
    assert extractor.count_params() - head == reference.count_params() - (7 * 7 - 3 * 3) * 3 * 64
    blocks = [layer.name for layer in extractor.layers if isinstance(layer, keras.layers.Add)]
    assert [sum(name.startswith(f"stage{s}_") for name in blocks) for s in (1, 2, 3, 4)] == [3, 4, 6, 3]
    assert not any(isinstance(layer, keras.layers.MaxPooling2D) and layer.pool_size != (1, 1)
                   for layer in extractor.layers)


def test_first_release_extractor_checkpoint_is_refused_with_its_reason(tmp_path):
    extractor = FaceFeatureExtractor(4, "resnet_v2_small", width=4)
    path = tmp_path / "old.keras"
    extractor.save(path)
    drop_from_saved_config(path, "architecture_version")  # as the first release wrote it
    with pytest.raises(CheckpointError, match="old.keras.*layout 1.*first release.*retrain"):
        load_extractor(path)
