"""Losses (Eq. 5-12) against values computed by hand in NumPy."""

import numpy as np
import pytest
import tensorflow as tf

from c2fdan_tf import losses
from c2fdan_tf.models.discriminators import DISCRIMINATOR_NAMES

RNG = np.random.default_rng(7)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_mask_bce_is_equation_5():
    logits = RNG.normal(size=(2, 4, 4, 1)).astype(np.float32) * 3
    mask_gt = (RNG.uniform(size=(2, 4, 4, 1)) > 0.5).astype(np.float32)
    m = sigmoid(logits.astype(np.float64))
    expected = -(mask_gt * np.log(m) + (1 - mask_gt) * np.log(1 - m)).reshape(2, -1).mean(1)
    np.testing.assert_allclose(losses.mask_bce(logits, mask_gt).numpy(), expected, rtol=1e-5)
    # Saturated logits stay finite (from logits, not from the sigmoid).
    extreme = np.full((1, 4, 4, 1), 200.0, np.float32)
    assert np.isfinite(losses.mask_bce(extreme, np.zeros_like(extreme)).numpy()).all()
    np.testing.assert_allclose(losses.mask_bce(extreme, np.zeros_like(extreme)).numpy(), [200.0], rtol=1e-5)


def equation_6(prediction, truth, region):
    """||(I - I_gt) ⊙ R||_1 / ||R||_1 with R the one-channel (N, H, W, 1) region, per example."""
    n = len(prediction)
    numerator = (np.abs(prediction - truth) * region).reshape(n, -1).sum(1)
    area = region.reshape(n, -1).sum(1)
    return np.where(area > 0, numerator / np.maximum(area, 1e-12), 0.0)


def test_region_l1_is_equations_6_and_7_with_a_one_channel_mask():
    # Hand-computed: a 2x2 image, the top-left pixel occluded.
    truth = np.zeros((1, 2, 2, 3), np.float32)
    prediction = np.zeros((1, 2, 2, 3), np.float32)
    prediction[0, 0, 0] = (0.1, 0.2, 0.3)  # occluded pixel: |error|_1 = 0.6
    prediction[0, 1, 1] = (0.4, 0.0, 0.2)  # visible pixel: |error|_1 = 0.6, the others 0
    mask = np.zeros((1, 2, 2, 1), np.float32)
    mask[0, 0, 0] = 1.0
    # Eq. 6: 0.6 / 1 pixel (not 0.6 / 3 values); Eq. 7: 0.6 / 3 visible pixels.
    np.testing.assert_allclose(losses.region_l1(prediction, truth, mask).numpy(), [0.6], rtol=1e-6)
    np.testing.assert_allclose(losses.region_l1(prediction, truth, 1.0 - mask).numpy(), [0.2], rtol=1e-6)

    prediction = RNG.uniform(size=(2, 3, 3, 3)).astype(np.float32)
    truth = RNG.uniform(size=(2, 3, 3, 3)).astype(np.float32)
    mask = np.zeros((2, 3, 3, 1), np.float32)
    mask[0, 0, :2] = 1.0  # two pixels
    mask[1] = 1.0  # everything
    np.testing.assert_allclose(losses.region_l1(prediction, truth, mask).numpy(),
                               equation_6(prediction, truth, mask), rtol=1e-6)
    non_occluded = losses.region_l1(prediction, truth, 1.0 - mask).numpy()
    np.testing.assert_allclose(non_occluded, equation_6(prediction, truth, 1.0 - mask), rtol=1e-6)
    assert non_occluded[1] == 0.0  # empty region: 0, not NaN
    # The normalisation by area makes a small and a large occlusion weigh the same:
    # 0.25 on each of the three channels is 0.75 per pixel.
    constant_error = truth + 0.25
    np.testing.assert_allclose(losses.region_l1(constant_error, truth, mask).numpy(), [0.75, 0.75], rtol=1e-5)


def features(batch, seed):
    rng = np.random.default_rng(seed)
    return {
        "block1": rng.normal(size=(batch, 4, 4, 3)).astype(np.float32),
        "block3": rng.normal(size=(batch, 2, 2, 5)).astype(np.float32),
    }


def test_perceptual_distance_is_equation_8():
    a, b = features(2, 1), features(2, 2)
    expected = sum(np.abs(a[d] - b[d]).reshape(2, -1).mean(1) for d in ("block1", "block3"))
    np.testing.assert_allclose(losses.perceptual_distance(a, b).numpy(), expected, rtol=1e-5)


def test_gram_matrix_is_equation_10():
    fmap = RNG.normal(size=(1, 2, 3, 4)).astype(np.float32)
    gram = losses.gram_matrix(fmap).numpy()[0]
    expected = np.zeros((4, 4))
    for i in range(4):
        for j in range(4):
            expected[i, j] = sum(fmap[0, y, x, i] * fmap[0, y, x, j] for y in range(2) for x in range(3))
    np.testing.assert_allclose(gram, expected / (2 * 3 * 4), rtol=1e-5)


def test_style_distance_compares_gram_matrices():
    a, b = features(2, 3), features(2, 4)

    def gram(x):
        phi = x.reshape(x.shape[0], -1, x.shape[-1]).astype(np.float64)
        return np.einsum("bpi,bpj->bij", phi, phi) / np.prod(x.shape[1:])

    expected = sum(np.abs(gram(a[d]) - gram(b[d])).reshape(2, -1).mean(1) for d in ("block1", "block3"))
    np.testing.assert_allclose(losses.style_distance(a, b).numpy(), expected, rtol=1e-5)
    # A spatially shuffled feature map has the same style, not the same content.
    shuffled = {d: np.flip(a[d], axis=(1, 2)).copy() for d in a}
    np.testing.assert_allclose(losses.style_distance(a, shuffled).numpy(), 0.0, atol=1e-6)
    assert np.all(losses.perceptual_distance(a, shuffled).numpy() > 0.1)


def discriminator_logits(batch, seed, scale=2.0):
    rng = np.random.default_rng(seed)
    shapes = {"global": (1,), "face": (28, 28, 1)}
    return {
        name: (rng.normal(size=(batch,) + shapes.get(name, (7, 7, 1))) * scale).astype(np.float32)
        for name in DISCRIMINATOR_NAMES
    }


def numpy_log_d(logits, real=True):
    p = sigmoid(logits.reshape(logits.shape[0], -1).astype(np.float64))
    return np.log(p.mean(1) if real else (1 - p).mean(1))


def test_adversarial_losses_are_equations_11_and_12():
    fake, real = discriminator_logits(3, 1), discriminator_logits(3, 2)
    g_expected = -np.mean([numpy_log_d(fake[n]) for n in DISCRIMINATOR_NAMES], axis=0)
    np.testing.assert_allclose(losses.generator_adversarial(fake).numpy(), g_expected, rtol=1e-5)
    d_expected = -np.mean(
        [numpy_log_d(fake[n], real=False) + numpy_log_d(real[n]) for n in DISCRIMINATOR_NAMES], axis=0
    )
    total, terms = losses.discriminator_loss(real, fake)
    np.testing.assert_allclose(total.numpy(), d_expected, rtol=1e-5)
    np.testing.assert_allclose((terms["d_real"] + terms["d_fake"]).numpy(), d_expected, rtol=1e-5)


def test_adversarial_losses_are_stable_for_extreme_logits():
    fake = discriminator_logits(2, 3, scale=500.0)
    real = discriminator_logits(2, 4, scale=500.0)
    total, _ = losses.discriminator_loss(real, fake)
    assert np.isfinite(total.numpy()).all() and np.isfinite(losses.generator_adversarial(fake).numpy()).all()
    # A confident, wrong discriminator costs about |logit| (log-sigmoid's asymptote).
    confident = {n: np.full_like(v, -300.0) for n, v in fake.items()}
    np.testing.assert_allclose(losses.generator_adversarial(confident).numpy(), 300.0, rtol=1e-4)


def full_batch_and_outputs(batch=2):
    rng = np.random.default_rng(9)
    image = lambda c=3: rng.uniform(size=(batch, 112, 112, c)).astype(np.float32)  # noqa: E731
    mask = (rng.uniform(size=(batch, 112, 112, 1)) > 0.7).astype(np.float32)
    batch_dict = {"mask": mask, "ground_truth": image()}
    outputs = {"coarse": image(), "fine": image(), "completed": image(),
               "mask_logits": rng.normal(size=(batch, 112, 112, 1)).astype(np.float32)}
    feats = {k: features(batch, i) for i, k in enumerate(("fine", "completed", "ground_truth"))}
    return batch_dict, outputs, feats, discriminator_logits(batch, 5)


def test_generator_loss_is_the_weighted_sum_of_equation_4():
    batch, outputs, feats, fake = full_batch_and_outputs()
    weights = losses.LossWeights()
    total, terms = losses.generator_loss(weights, batch, outputs, feats, fake)
    assert set(terms) == {"mask_bce", "occluded_l1", "non_occluded_l1", "perceptual", "style", "g_adversarial"}
    expected = (10 * terms["mask_bce"] + 3 * terms["occluded_l1"] + 1 * terms["non_occluded_l1"]
                + 0.1 * terms["perceptual"] + 240 * terms["style"] + 1 * terms["g_adversarial"])
    np.testing.assert_allclose(total.numpy(), expected.numpy(), rtol=1e-6)
    # Eq. 9: the perceptual term sums I_f and I_f,r.
    np.testing.assert_allclose(
        terms["perceptual"].numpy(),
        (losses.perceptual_distance(feats["fine"], feats["ground_truth"])
         + losses.perceptual_distance(feats["completed"], feats["ground_truth"])).numpy(), rtol=1e-6)
    truth, mask = (np.asarray(batch[k]) for k in ("ground_truth", "mask"))
    coarse = np.asarray(outputs["coarse"])
    np.testing.assert_allclose(terms["occluded_l1"].numpy(), equation_6(coarse, truth, mask), rtol=1e-5)
    np.testing.assert_allclose(terms["non_occluded_l1"].numpy(), equation_6(coarse, truth, 1.0 - mask), rtol=1e-5)


@pytest.mark.parametrize("switch_off", ["perceptual", "style", "adversarial", "occluded", "non_occluded", "mask"])
def test_every_term_can_be_switched_off(switch_off):
    batch, outputs, feats, fake = full_batch_and_outputs()
    import dataclasses

    weights = dataclasses.replace(losses.LossWeights(), **{switch_off: 0.0})
    _, terms = losses.generator_loss(weights, batch, outputs, feats, fake)
    names = {"perceptual": "perceptual", "style": "style", "adversarial": "g_adversarial",
             "occluded": "occluded_l1", "non_occluded": "non_occluded_l1", "mask": "mask_bce"}
    assert names[switch_off] not in terms and len(terms) == 5


def test_star_configuration_adds_the_occluded_l1_on_the_fine_image():
    batch, outputs, feats, fake = full_batch_and_outputs()
    weights = losses.LossWeights(occluded_on_fine=True)
    total, terms = losses.generator_loss(weights, batch, outputs, feats, fake)
    expected = equation_6(*(np.asarray(x) for x in (outputs["fine"], batch["ground_truth"], batch["mask"])))
    np.testing.assert_allclose(terms["occluded_l1_fine"].numpy(), expected, rtol=1e-5)
    plain_total, _ = losses.generator_loss(losses.LossWeights(), batch, outputs, feats, fake)
    np.testing.assert_allclose((total - plain_total).numpy(), 3 * expected, rtol=1e-5)


def test_coarse_stage_weights_are_the_papers():
    w = losses.LossWeights.coarse_stage()
    assert (w.mask, w.occluded, w.non_occluded, w.perceptual, w.style, w.adversarial) == (1, 3, 1, 0, 0, 0)
    assert not w.needs_extractor and losses.LossWeights().needs_extractor


def test_losses_are_per_example_for_global_batch_scaling():
    batch, outputs, feats, fake = full_batch_and_outputs(batch=3)
    total, terms = losses.generator_loss(losses.LossWeights(), batch, outputs, feats, fake)
    assert total.shape == (3,) and all(v.shape == (3,) for v in terms.values())
    # The average over a global batch of 6 on one replica is a sum / 6.
    np.testing.assert_allclose(
        tf.nn.compute_average_loss(total, global_batch_size=6).numpy(), total.numpy().sum() / 6, rtol=1e-6)


def test_mask_dice_counts_a_missed_thin_stroke_by_the_occluders_area():
    # Two occluders the BCE of Eq. 5 cannot tell apart: each mask misses 8 of the 112x112 pixels.
    # Dice: 1 - 2|M n M_gt| / (|M| + |M_gt|) (+1 smoothing); the small occluder loses far more.
    truth = np.zeros((2, 112, 112, 1), np.float32)
    truth[0, 10:20, 10:50] = 1  # a 400-pixel block
    truth[1, 50, 10:26] = 1  # a 16-pixel stroke
    predicted = truth.copy()
    predicted[0, 10, 10:18] = 0
    predicted[1, 50, 10:18] = 0
    logits = np.where(predicted > 0, 30.0, -30.0).astype(np.float32)
    dice = losses.mask_dice(logits, truth).numpy()
    np.testing.assert_allclose(dice, [1 - (2 * 392 + 1) / (392 + 400 + 1), 1 - (2 * 8 + 1) / (8 + 16 + 1)], rtol=1e-5)
    bce = losses.mask_bce(logits, truth).numpy()
    np.testing.assert_allclose(bce[0], bce[1], rtol=1e-6)
    assert dice[1] > 30 * dice[0]
    # Soft masks: the sigmoid's values enter the sums.
    soft = RNG.normal(size=(2, 6, 6, 1)).astype(np.float32)
    m, g = sigmoid(soft.astype(np.float64)), (RNG.uniform(size=(2, 6, 6, 1)) > 0.6).astype(np.float32)
    expected = 1 - (2 * (m * g).reshape(2, -1).sum(1) + 1) / (m.reshape(2, -1).sum(1) + g.reshape(2, -1).sum(1) + 1)
    np.testing.assert_allclose(losses.mask_dice(soft, g).numpy(), expected, rtol=1e-5)
    weights = losses.LossWeights(mask_dice=2.0, perceptual=0.0, style=0.0, adversarial=0.0)
    batch = {"mask": truth, "ground_truth": np.zeros((2, 112, 112, 3), np.float32)}
    outputs = {"mask_logits": logits, "coarse": np.zeros((2, 112, 112, 3), np.float32)}
    total, terms = losses.generator_loss(weights, batch, outputs)
    np.testing.assert_allclose(terms["mask_dice"].numpy(), dice, rtol=1e-6)
    np.testing.assert_allclose(total.numpy(), 10 * bce + 2 * dice, rtol=1e-5)  # the L1 terms are 0 here
