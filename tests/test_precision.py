"""Precision: the `auto` choice, and every part of C2FDAN under mixed_bfloat16."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from c2fdan_tf.export.serving import save_serving_model
from c2fdan_tf.export.tflite import convert_saved_model
from c2fdan_tf.inference import TFLiteRunner
from c2fdan_tf.layers import DenseMultiScaleFusion, MaskedBlend, PatchCrossAttention, SelfAttention
from c2fdan_tf.losses import LossWeights
from c2fdan_tf.models import Discriminators, FaceFeatureExtractor, Generator
from c2fdan_tf.models.checkpoints import load_generator
from c2fdan_tf.precision import cpu_flags, policy_scope, resolve_precision
from c2fdan_tf.training.c2fdan import C2FDAN

SAPPHIRE_RAPIDS = "processor\t: 0\nflags\t\t: fpu sse avx512f avx512_bf16 amx_bf16 amx_tile amx_int8\n"
ZEN4 = "processor\t: 0\nflags\t\t: fpu sse avx512f avx512_bf16 avx512_vnni\n"
SKYLAKE = "processor\t: 0\nflags\t\t: fpu sse avx2 fma avx512f avx512bw\n"


def test_auto_picks_bfloat16_only_with_bfloat16_instructions_and_float16_on_a_gpu():
    assert "amx_bf16" in cpu_flags(SAPPHIRE_RAPIDS) and "amx_bf16" not in cpu_flags(ZEN4)
    assert resolve_precision("auto", cpu_flags(SAPPHIRE_RAPIDS), gpus=0) == (
        "mixed_bfloat16", "auto: the CPU has AMX-BF16")
    assert resolve_precision("auto", cpu_flags(ZEN4), gpus=0)[0] == "mixed_bfloat16"
    policy, reason = resolve_precision("auto", cpu_flags(SKYLAKE), gpus=0)  # bf16 emulated: slower than fp32
    assert policy == "float32" and "no bfloat16 instructions" in reason
    assert resolve_precision("auto", cpu_flags(SAPPHIRE_RAPIDS), gpus=1)[0] == "mixed_float16"
    assert resolve_precision("mixed_bfloat16", cpu_flags(SKYLAKE), gpus=0)[0] == "mixed_bfloat16"  # as asked
    assert cpu_flags("") == set()
    with pytest.raises(ValueError, match="Unknown precision 'bf16'"):
        resolve_precision("bf16")


RNG = np.random.default_rng(0)
LAYERS = [
    (lambda: DenseMultiScaleFusion(activation="elu"), [(1, 8, 8, 16)], 0.05),
    (lambda: PatchCrossAttention(channels=8, mode="soft"), [(1, 8, 8, 16), (1, 8, 8, 1)], 0.05),
    (lambda: PatchCrossAttention(channels=8, mode="hard"), [(1, 8, 8, 16), (1, 8, 8, 1)], None),
    (lambda: SelfAttention(), [(1, 8, 8, 16)], 0.05),
    (lambda: MaskedBlend(), [(1, 8, 8, 3), (1, 8, 8, 3), (1, 8, 8, 1)], 0.02),
]


def _inputs(shapes):
    arrays = [RNG.uniform(size=s).astype(np.float32) for s in shapes]
    if len(shapes) >= 2 and shapes[-1][-1] == 1:
        arrays[-1] = (arrays[-1] > 0.6).astype(np.float32)  # a binary mask
    return arrays


def _call(layer, arrays):
    return layer(arrays) if isinstance(layer, MaskedBlend) else layer(*arrays)


@pytest.mark.parametrize("make_layer, shapes, tolerance", LAYERS)
def test_every_layer_runs_in_bfloat16_close_to_float32(make_layer, shapes, tolerance):
    arrays = _inputs(shapes)
    reference_layer = make_layer()
    reference = _call(reference_layer, arrays).numpy()
    if isinstance(reference_layer, SelfAttention):
        reference_layer.gamma.assign(0.5)  # gamma = 0 would hide the attention path
        reference = _call(reference_layer, arrays).numpy()
    with policy_scope("mixed_bfloat16"):
        layer = make_layer()
        out = _call(layer, arrays)
    layer.set_weights(reference_layer.get_weights())
    out = _call(layer, arrays)
    assert layer.compute_dtype == "bfloat16" and all(w.dtype == "float32" for w in layer.weights)
    out = tf.cast(out, tf.float32).numpy()
    assert np.all(np.isfinite(out)) and out.shape == reference.shape
    if tolerance is not None:
        scale = max(1.0, float(np.abs(reference).max()))
        assert np.abs(out - reference).max() <= tolerance * scale, np.abs(out - reference).max()


def test_generator_discriminators_and_extractor_in_bfloat16_return_float32(tmp_path):
    x = RNG.uniform(size=(2, 112, 112, 3)).astype(np.float32)
    with policy_scope("mixed_bfloat16"):
        generator = Generator(width=4)
        discriminators = Discriminators(4)
        extractor = FaceFeatureExtractor(5, "resnet_v2_small", width=4)
    outputs = generator(x)
    assert generator.get_layer("coarse_network").compute_dtype == "bfloat16"
    for name, value in outputs.items():
        assert value.dtype == "float32" and np.all(np.isfinite(value.numpy())), name
    # Eq. 2 in float32: outside the predicted mask the input comes back exactly.
    mask = outputs["mask"].numpy()
    outside = np.broadcast_to(mask == 0.0, x.shape)
    np.testing.assert_array_equal(outputs["completed"].numpy()[outside], x[outside])
    logits = discriminators([outputs["completed"], tf.constant(x)])
    assert all(v.dtype == "float32" for v in logits.values())
    features = extractor(x)
    assert features["embedding"].dtype == "float32"
    np.testing.assert_allclose(np.linalg.norm(features["embedding"].numpy(), axis=-1), 1.0, atol=1e-5)
    # A .keras round trip: loaded under the same policy it gives the same outputs; the
    # checkpoint loader rebuilds it in any policy asked for.
    generator.save(tmp_path / "g.keras")
    with policy_scope("mixed_bfloat16"):
        loaded = keras.saving.load_model(tmp_path / "g.keras", safe_mode=True)
    assert loaded.get_layer("coarse_network").compute_dtype == "bfloat16"
    np.testing.assert_array_equal(loaded(x)["completed"].numpy(), outputs["completed"].numpy())
    for policy, dtype in (("mixed_bfloat16", "bfloat16"), ("float32", "float32")):
        rebuilt = load_generator(tmp_path / "g.keras", policy)
        assert rebuilt.get_layer("fine_network").compute_dtype == dtype
        psnr = float(np.mean(tf.image.psnr(rebuilt(x)["completed"], outputs["completed"], 1.0)))
        assert not np.isfinite(psnr) or psnr >= 30, (policy, psnr)


@pytest.mark.long(minutes=0.9)
def test_bfloat16_training_steps_are_finite_and_export_matches_float32_keras(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.uniform(size=(4, 112, 112, 3)).astype(np.float32)
    masks = (rng.uniform(size=(4, 112, 112, 1)) > 0.85).astype(np.float32)
    batch = {"occluded": images * (1 - masks) + masks * 0.5, "mask": masks, "ground_truth": images}
    data = tf.data.Dataset.from_tensors(batch).repeat()
    with policy_scope("mixed_bfloat16"):
        keras.utils.set_random_seed(0)
        generator = Generator(width=4)
        model = C2FDAN(generator, "full", Discriminators(4), FaceFeatureExtractor(4, "resnet_v2_small", width=4),
                       LossWeights())
        model.compile(keras.optimizers.Adam(1e-3), pretrained_optimizer=keras.optimizers.Adam(1e-3),
                      discriminator_optimizer=keras.optimizers.Adam(1e-3))
        before = [v.numpy().copy() for v in generator.trainable_variables]
        history = model.fit(data, epochs=1, steps_per_epoch=3, verbose=0)
    assert not isinstance(model.generator_optimizer, keras.optimizers.LossScaleOptimizer)  # bf16: no scaling
    assert all(np.isfinite(values[-1]) for values in history.history.values()), history.history
    moved = [not np.array_equal(b, v.numpy()) for b, v in zip(before, generator.trainable_variables)]
    assert sum(moved) > len(moved) // 2
    generator.save(tmp_path / "bf16.keras")
    # Exports are float32 graphs: the bf16-trained weights in a float32 generator.
    float_generator = load_generator(tmp_path / "bf16.keras")
    assert float_generator.get_layer("coarse_network").compute_dtype == "float32"
    save_serving_model(float_generator, tmp_path / "saved_model", batch_size=1)
    runner = TFLiteRunner(model_content=convert_saved_model(tmp_path / "saved_model"))
    got, expected = runner(images), float_generator(images)
    for name, key in (("completed", "completed"), ("mask", "mask"), ("coarse", "coarse_completed")):
        psnr = float(np.mean(tf.image.psnr(got[name], expected[key].numpy(), 1.0)))
        assert not np.isfinite(psnr) or psnr >= 45, (name, psnr)
