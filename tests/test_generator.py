"""The generator: shapes, value range, serialisation, Eq. 2 and TFLite built-ins."""

import numpy as np
import pytest
import keras

from c2fdan_tf.export.serving import save_serving_model
from c2fdan_tf.export.tflite import convert_saved_model, tflite_op_names
from c2fdan_tf.inference import TFLiteRunner
from c2fdan_tf.models import ATTENTION_VARIANTS, CoarseNetwork, FineNetwork, Generator
from c2fdan_tf.models.checkpoints import CheckpointError, load_generator
from c2fdan_tf.models.generator import OUTPUT_KEYS
from tests.saved_files import drop_from_saved_config

RNG = np.random.default_rng(1)


def faces(n):
    return RNG.uniform(size=(n, 112, 112, 3)).astype(np.float32)


@pytest.mark.parametrize("width, batch", [(4, 1), (8, 3), (12, 2)])
def test_output_shapes_and_range(width, batch):
    outputs = Generator(width=width)(faces(batch))
    assert set(outputs) == set(OUTPUT_KEYS)
    for key in OUTPUT_KEYS:
        channels = 1 if key.startswith("mask") else 3
        assert tuple(outputs[key].shape) == (batch, 112, 112, channels), key
        assert outputs[key].dtype == "float32"


@pytest.mark.parametrize("attention", ATTENTION_VARIANTS)
def test_attention_variants_contain_exactly_their_branches(attention):
    fine = Generator(width=8, attention=attention).fine_network
    names = {layer.name for layer in fine.layers}
    assert ("cross_attention" in names) == (attention in ("both", "cross"))
    assert ("self_attention" in names) == (attention in ("both", "self"))


def test_coarse_network_has_the_papers_parameter_count():
    # Sec. IV-C: about 4.1 M. Without its DMFB the network would have 3.58 M.
    params = CoarseNetwork(width=64).count_params()
    assert abs(params - 4.1e6) <= 0.03 * 4.1e6, params


def producer(tensor):
    return tensor._keras_history.operation


def ancestors(tensor):
    """Every layer the tensor depends on, within the functional model."""
    seen, stack = set(), [tensor]
    while stack:
        layer = producer(stack.pop())
        if layer not in seen and not isinstance(layer, keras.layers.InputLayer):
            seen.add(layer)
            inputs = layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]
            stack.extend(inputs)
    return seen


def test_fine_network_resolutions_channels_and_activations_are_the_papers():
    fine = FineNetwork(width=64)
    cross, self_attention = fine.get_layer("cross_attention"), fine.get_layer("self_attention")
    features, mask = cross.input
    assert tuple(features.shape[1:]) == (56, 56, 128) and tuple(mask.shape[1:]) == (56, 56, 1)
    assert tuple(cross.output.shape[1:]) == (56, 56, 64)  # Q, K, V: 1x1 convs to 64 channels
    assert tuple(self_attention.input.shape[1:3]) == (28, 28)
    convs = [layer for layer in fine.layers if isinstance(layer, keras.layers.Conv2D)]
    body = [layer for layer in convs if layer.filters != 3]  # all but the RGB head
    assert len(body) >= 10 and all(layer.activation is keras.activations.elu for layer in body)
    assert all(layer.activation == "elu" for layer in fine.layers if type(layer).__name__ == "DenseMultiScaleFusion")
    assert tuple(fine.output.shape[1:]) == (112, 112, 3)


def test_fine_networks_self_attention_branch_ends_in_an_upsampling_block_with_the_encoder_skip():
    """'After another convolutional layer (and an upsampling block for the self-attention)':
    nearest x2, concat the encoder map at 56, three 3x3 convs (Sec. III-B1)."""
    fine = FineNetwork(width=64)
    self_attention = fine.get_layer("self_attention")
    encoder_map = fine.get_layer("cross_attention").input[0]
    fusion = next(layer for layer in fine.layers if isinstance(layer, keras.layers.Concatenate)
                  and any(self_attention in ancestors(t) for t in layer.input) and len(layer.input) == 3)
    branch = next(t for t in fusion.input if self_attention in ancestors(t) and producer(t) is not producer(encoder_map))
    convs = []
    while isinstance(producer(branch), keras.layers.Conv2D):
        convs.append(producer(branch))
        branch = producer(branch).input
    assert len(convs) == 3 and all(conv.kernel_size == (3, 3) for conv in convs)
    concat = producer(branch)
    assert isinstance(concat, keras.layers.Concatenate)
    upsampled, skip = concat.input
    assert skip is encoder_map
    upsample = producer(upsampled)
    assert isinstance(upsample, keras.layers.UpSampling2D) and upsample.interpolation == "nearest"
    assert tuple(upsample.input.shape[1:3]) == (28, 28) and self_attention in ancestors(upsampled)


def test_keras_save_and_safe_load_give_identical_outputs(tmp_path):
    generator = Generator(width=8, attention="both", cross_attention_mode="soft")
    x = faces(2)
    expected = generator(x)
    path = tmp_path / "generator.keras"
    generator.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded, Generator)
    assert loaded.get_config() == generator.get_config()
    assert isinstance(loaded.coarse_network, CoarseNetwork)
    assert isinstance(loaded.fine_network, FineNetwork)
    got = loaded(x)
    for key in OUTPUT_KEYS:
        np.testing.assert_array_equal(got[key].numpy(), expected[key].numpy(), err_msg=key)


def test_first_release_generator_checkpoint_is_refused_with_its_reason(tmp_path):
    path = tmp_path / "old_generator.keras"
    Generator(width=4).save(path)
    drop_from_saved_config(path, "architecture_version")  # as the first release wrote it
    with pytest.raises(CheckpointError, match="old_generator.keras.*layout 1.*first release.*retrain"):
        load_generator(path)


def test_model_config_round_trip():
    for model in (CoarseNetwork(width=4), FineNetwork(width=4, attention="self"), Generator(width=4)):
        clone = model.__class__.from_config(model.get_config())
        assert clone.get_config() == model.get_config()
        assert clone.count_params() == model.count_params()


def set_mask_logit(generator, value):
    """Makes the mask head output a constant logit."""
    head = generator.coarse_network.get_layer("mask_logits")
    kernel, bias = head.get_weights()
    head.set_weights([np.zeros_like(kernel), np.full_like(bias, value)])


def test_blend_keeps_the_input_exactly_where_the_mask_is_zero():
    generator = Generator(width=8)
    x = faces(2)
    set_mask_logit(generator, -200.0)  # sigmoid(-200) == 0.0 in float32
    outputs = generator(x)
    assert float(outputs["mask"].numpy().max()) == 0.0
    np.testing.assert_array_equal(outputs["completed"].numpy(), x)
    np.testing.assert_array_equal(outputs["coarse_completed"].numpy(), x)
    set_mask_logit(generator, 200.0)  # mask == 1: the network's own output everywhere
    outputs = generator(x)
    np.testing.assert_array_equal(outputs["completed"].numpy(), outputs["fine"].numpy())
    np.testing.assert_array_equal(outputs["coarse_completed"].numpy(), outputs["coarse"].numpy())


def test_blend_is_equation_2_for_a_predicted_mask():
    x = faces(2)
    outputs = {k: v.numpy() for k, v in Generator(width=8)(x).items()}
    m = outputs["mask"]
    np.testing.assert_allclose(outputs["completed"], (1 - m) * x + m * outputs["fine"], atol=1e-6)
    np.testing.assert_allclose(
        outputs["coarse_completed"], (1 - m) * x + m * outputs["coarse"], atol=1e-6
    )


@pytest.mark.parametrize("width", [8, 64])
def test_generator_converts_to_tflite_with_builtin_ops_only(tmp_path, width):
    generator = Generator(width=width)
    save_serving_model(generator, tmp_path / "saved_model", batch_size=1)
    model_content = convert_saved_model(tmp_path / "saved_model")
    ops = tflite_op_names(model_content)
    assert {"CONV_2D", "ARG_MAX", "GATHER", "BATCH_MATMUL"} <= ops
    assert not any(op.startswith("FLEX") or op == "CUSTOM" for op in ops), ops
    if width > 8:
        return  # the width-64 case checks conversion; parity is checked on the small one
    runner = TFLiteRunner(model_content=model_content)
    x = faces(1)
    got = runner(x)
    expected = generator(x)
    for name, key in (("completed", "completed"), ("mask", "mask"), ("coarse", "coarse_completed")):
        np.testing.assert_allclose(got[name], expected[key].numpy(), atol=1e-4, err_msg=name)
