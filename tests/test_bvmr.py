"""The BVMR baseline (Hertz et al. 2019) against its released code's structure and loss."""

import keras
import numpy as np
import pytest

from c2fdan_tf.losses import motif_removal_loss
from c2fdan_tf.models import BlindMotifRemoval
from c2fdan_tf.models.checkpoints import CheckpointError, load_motif_removal, save_model
from c2fdan_tf.training.motif_removal import MotifRemovalTraining

RNG = np.random.default_rng(5)


def released_parameter_count(start_filters=32, depth=5, blocks=3, shared_depth=2):
    """Trainable parameters of amirhertz/visual_motif_removal's UnetBaselineD(shared_depth=2,
    use_vm_decoder=True, blocks=3), counted from its layer list: conv3x3 and conv1x1 with
    bias, ConvTranspose2d(2x2) with bias, BatchNorm2d (gamma, beta)."""
    conv = lambda k, cin, cout: k * k * cin * cout + cout  # noqa: E731
    bn = lambda c: 2 * c  # noqa: E731

    def down(cin, cout):  # DownConvD
        return conv(3, cin, cout) + blocks * (conv(3, cout, cout) + bn(cout))

    def up(cin, cout):  # UpConvD with concat
        return conv(2, cin, cout) + conv(3, 2 * cout, cout) + blocks * (conv(3, cout, cout) + bn(cout))

    def decoder(cin, levels, out_channels=None):  # UnetDecoderD
        total, c = 0, cin
        for _ in range(levels - 1):
            total, c = total + up(c, c // 2), c // 2
        return total + (conv(1, c, out_channels) if out_channels else up(c, c // 2))

    encoder = sum(down(3 if i == 0 else start_filters * 2 ** (i - 1), start_filters * 2**i) for i in range(depth))
    top = start_filters * 2 ** (depth - 1)
    split = start_filters * 2 ** (depth - shared_depth - 1)
    shared = decoder(top, shared_depth)  # is_final=False: shared_depth up-convolutions
    image = decoder(split, depth - shared_depth, 3)
    mask = decoder(top, depth, 1)
    motif = decoder(split, depth - shared_depth, 3)
    return encoder + shared + image + mask + motif


def trainable_count(model):
    return int(sum(np.prod(v.shape) for v in model.trainable_variables))


def test_paper_width_has_the_released_layout_and_about_20_5_million_parameters():
    net = BlindMotifRemoval()  # width 32, depth 5, 3 blocks, shared depth 2: its released configuration
    assert trainable_count(net) == released_parameter_count()
    assert trainable_count(net) == pytest.approx(20.5e6, rel=0.10)  # the C2FDAN paper's figure
    # The CPU width of the small preset: 1/16 of the parameters (they grow with width squared).
    assert trainable_count(BlindMotifRemoval(width=8)) == released_parameter_count(start_filters=8)


def test_three_outputs_and_the_blend_by_its_own_mask():
    net = BlindMotifRemoval(width=4)
    images = RNG.uniform(size=(2, 112, 112, 3)).astype(np.float32)
    outputs = {key: np.asarray(value) for key, value in net(images).items()}
    assert outputs["image"].shape == outputs["motif"].shape == outputs["completed"].shape == (2, 112, 112, 3)
    assert outputs["mask"].shape == (2, 112, 112, 1)
    for key in ("image", "mask", "motif"):
        assert 0.0 <= outputs[key].min() and outputs[key].max() <= 1.0
    mask = outputs["mask"]
    np.testing.assert_allclose(outputs["completed"], (1 - mask) * images + mask * outputs["image"], atol=1e-6)
    np.testing.assert_allclose(mask, 1 / (1 + np.exp(-outputs["mask_logits"])), atol=1e-6)


def reference_loss(synthesized, images, vm_mask, motif, guess_image, guess_mask, guess_vm):
    """train_main.py's loss on one batch, in its [-1, 1] pixel range (inputs in [0, 1])."""
    to_code = lambda x: 2 * x - 1  # noqa: E731  MotifDS.trans: x / 127.5 - 1
    batch = len(images)
    area = np.maximum(vm_mask.reshape(batch, -1).sum(1), 1)

    def l1_relative(reconstructed, real):
        return np.sum(np.abs(reconstructed - real).reshape(batch, -1).sum(1) / area) / batch

    expanded = np.repeat(vm_mask, 3, axis=-1)
    loss_images = l1_relative(to_code(guess_image) * expanded, to_code(images) * expanded)
    loss_vm = l1_relative(to_code(guess_vm) * expanded, to_code(motif) * expanded)
    p = np.clip(guess_mask, 1e-12, 1 - 1e-12)
    bce = -np.mean(vm_mask * np.log(p) + (1 - vm_mask) * np.log(1 - p))
    return 2 * loss_images + 1 * loss_vm + bce


def test_loss_matches_the_released_training_code():
    faces = RNG.uniform(size=(3, 112, 112, 3)).astype(np.float32)
    mask = (RNG.uniform(size=(3, 112, 112, 1)) > 0.7).astype(np.float32)
    mask[2] = 0.0  # an image without occlusion: the L1 terms are 0 there
    color = RNG.uniform(size=(3, 1, 1, 3)).astype(np.float32)
    occluded = (1 - mask) * faces + mask * color
    motif = np.broadcast_to(color, faces.shape)  # the occluder's colour image
    logits = RNG.normal(size=(3, 112, 112, 1)).astype(np.float32)
    outputs = {"image": RNG.uniform(size=faces.shape).astype(np.float32), "mask_logits": logits,
               "motif": RNG.uniform(size=faces.shape).astype(np.float32)}
    total, terms = motif_removal_loss({"occluded": occluded, "mask": mask, "ground_truth": faces}, outputs)
    expected = reference_loss(occluded, faces, mask, motif, outputs["image"], 1 / (1 + np.exp(-logits)),
                              outputs["motif"])
    assert float(np.mean(total)) == pytest.approx(expected, rel=1e-4)
    assert float(terms["image_l1"][2]) == 0.0 and float(terms["motif_l1"][2]) == 0.0


def occluded_batch():
    from c2fdan_tf.data.occluders.paper import OcclusionSynthesizer
    from c2fdan_tf.data.synthetic_faces import render_faces

    synthesizer = OcclusionSynthesizer()
    faces = render_faces(0, [0, 1, 2, 3], [0, 0, 0, 0])
    params = synthesizer.training_parameters(0, np.arange(4))
    return {key: np.asarray(value) for key, value in synthesizer.occlude(faces, params).items()}


def test_a_few_training_steps_lower_the_loss_on_a_fixed_batch():
    keras.utils.set_random_seed(0)
    model = MotifRemovalTraining(BlindMotifRemoval(width=4))
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    batch = occluded_batch()

    def loss():  # batch statistics, as in training (12 steps do not settle the moving averages)
        return float(np.mean(motif_removal_loss(batch, model.network(batch["occluded"], training=True))[0]))

    first = loss()
    for _ in range(12):
        model.train_step(batch)
    last = loss()
    assert last < 0.8 * first, (first, last)


def test_keras_round_trip_and_wrong_checkpoints(tmp_path):
    net = BlindMotifRemoval(width=4)
    path = save_model(net, tmp_path / "bvmr.keras")
    loaded = load_motif_removal(path)
    assert (loaded.width, loaded.depth, loaded.blocks, loaded.shared_depth) == (4, 5, 3, 2)
    images = RNG.uniform(size=(1, 112, 112, 3)).astype(np.float32)
    for key in ("completed", "mask", "motif"):
        np.testing.assert_allclose(np.asarray(loaded(images)[key]), np.asarray(net(images)[key]), atol=1e-6)
    in_bf16 = load_motif_removal(path, "mixed_bfloat16")
    np.testing.assert_allclose(np.asarray(in_bf16(images)["completed"]), np.asarray(net(images)["completed"]),
                               atol=0.05)
    other = keras.Sequential([keras.Input((112, 112, 3)), keras.layers.Conv2D(1, 1)])
    other.save(tmp_path / "other.keras")
    with pytest.raises(CheckpointError, match="other.keras holds a Sequential, expected a BlindMotifRemoval"):
        load_motif_removal(tmp_path / "other.keras")
