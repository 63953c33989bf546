"""C2FDAN losses (paper Sec. III-C, Eq. 4-12), per example.

Every function returns one value per example, shape (B,), so that the training
step can average over the *global* batch under `tf.distribute`
(`tf.nn.compute_average_loss`). `generator_loss` and `discriminator_loss` return
`(total, terms)` with config-weighted terms (LaMa style).
"""

import dataclasses
import math

import tensorflow as tf
from keras import ops

from c2fdan_tf.models.discriminators import DISCRIMINATOR_NAMES

FEATURE_LEVELS = ("block1", "block3")


@dataclasses.dataclass(frozen=True)
class LossWeights:
    """λ of Eq. 4; a weight of 0 switches its term off (Table I rows).

    `occluded_on_fine` is Table I's `*`: L_pix^occ also computed on I_f.
    `mask_dice` weighs a soft Dice term on M beside Eq. 5's BCE (not in the paper; 0 = off).
    Defaults: the paper's stage-2 weights (Sec. IV-A).
    """

    mask: float = 10.0
    mask_dice: float = 0.0
    occluded: float = 3.0
    non_occluded: float = 1.0
    perceptual: float = 0.1
    style: float = 240.0
    adversarial: float = 1.0
    occluded_on_fine: bool = False

    @classmethod
    def coarse_stage(cls):
        """Stage 1: pixel-wise losses only (λ_occ = 3, λ_m = λ_noocc = 1)."""
        return cls(mask=1.0, occluded=3.0, non_occluded=1.0, perceptual=0.0, style=0.0, adversarial=0.0)

    @property
    def needs_extractor(self):
        return self.perceptual > 0 or self.style > 0


def _flatten(x):
    """(B, ...) -> (B, elements), with the element count static even when B is not."""
    return ops.reshape(x, (-1, math.prod(x.shape[1:])))


def _per_example_mean(x):
    return ops.mean(_flatten(x), axis=-1)


def _per_example_sum(x):
    return ops.sum(_flatten(x), axis=-1)


def mask_bce(mask_logits, mask_gt):
    """Eq. 5: binary cross-entropy of M against M_gt, mean over the 112x112 pixels.

    Computed from the logits of M (stable for saturated masks)."""
    bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=ops.cast(mask_gt, "float32"), logits=mask_logits)
    return _per_example_mean(bce)


def mask_dice(mask_logits, mask_gt):
    """1 - soft Dice of sigmoid(logits) and M_gt per example: 1 - (2 sum(M M_gt) + 1) /
    (sum(M) + sum(M_gt) + 1). Not in the paper [decision]: unlike the pixel mean of Eq. 5, it
    weighs a missed pixel by the occluder's area, so the few pixels of thin strokes count."""
    mask = _flatten(ops.sigmoid(ops.cast(mask_logits, "float32")))
    truth = _flatten(ops.cast(mask_gt, "float32"))
    overlap = ops.sum(mask * truth, axis=-1)
    return 1.0 - (2.0 * overlap + 1.0) / (ops.sum(mask, axis=-1) + ops.sum(truth, axis=-1) + 1.0)


def region_l1(prediction, ground_truth, region):
    """Eq. 6/7: ||(I - I_gt) * R||_1 / ||R||_1 per example, R the one-channel region.

    The numerator sums the absolute error over the three channels, the
    denominator is the area of R (pixels, not pixels x channels), as the
    equations read: the mean over R of the per-pixel L1 distance of the RGB
    vectors; 0 where R is empty.
    """
    region = ops.cast(region, "float32")
    error = _per_example_sum(ops.abs(prediction - ground_truth) * region)  # R broadcast over RGB
    return tf.math.divide_no_nan(error, _per_example_sum(region))


def perceptual_distance(features, reference):
    """Eq. 8: Σ_d ||Ψ_d(I) - Ψ_d(I_gt)||_1 / N(Ψ_d(I_gt)) over the feature levels."""
    return sum(_per_example_mean(ops.abs(features[d] - reference[d])) for d in FEATURE_LEVELS)


def gram_matrix(feature_map):
    """Eq. 10: Φᵀ Φ / N(Ψ) for a (B, H, W, C) map, Φ the (HW, C) reshaping."""
    b, h, w, c = ops.shape(feature_map)[0], *feature_map.shape[1:]
    phi = ops.reshape(ops.cast(feature_map, "float32"), (b, h * w, c))
    return ops.matmul(ops.transpose(phi, (0, 2, 1)), phi) / float(h * w * c)


def style_distance(features, reference):
    """Eq. 8 with every feature map replaced by its Gram matrix (Eq. 10)."""
    return sum(
        _per_example_mean(ops.abs(gram_matrix(features[d]) - gram_matrix(reference[d])))
        for d in FEATURE_LEVELS
    )


def log_discriminator_probability(logits, real=True):
    """log D (or log(1 - D) with real=False), D = the mean sigmoid probability.

    Patch discriminators average their pixel-wise probabilities (Sec. III-B2);
    log(mean sigmoid(l)) = logsumexp(log_sigmoid(l)) - log(P), exact and stable
    for any logits. For one logit this is log_sigmoid(±l).
    """
    flat = _flatten(ops.cast(logits, "float32"))
    log_p = tf.math.log_sigmoid(flat if real else -flat)
    return tf.reduce_logsumexp(log_p, axis=-1) - math.log(flat.shape[-1])


def generator_adversarial(fake_logits):
    """Eq. 11: -1/7 Σ_i log D_i(C_i(I_f,r) ⊕ C_i(I))."""
    terms = [log_discriminator_probability(fake_logits[name], real=True) for name in DISCRIMINATOR_NAMES]
    return -ops.mean(ops.stack(terms, axis=-1), axis=-1)


def discriminator_loss(real_logits, fake_logits):
    """Eq. 12: -1/7 Σ_i [log(1 - D_i(fake)) + log D_i(real)], per example.

    Returns (total, terms) with "d_real" and "d_fake" (each half of the sum)."""
    real = ops.stack(
        [log_discriminator_probability(real_logits[n], real=True) for n in DISCRIMINATOR_NAMES], -1
    )
    fake = ops.stack(
        [log_discriminator_probability(fake_logits[n], real=False) for n in DISCRIMINATOR_NAMES], -1
    )
    terms = {"d_real": -ops.mean(real, axis=-1), "d_fake": -ops.mean(fake, axis=-1)}
    return terms["d_real"] + terms["d_fake"], terms


def generator_loss(weights, batch, outputs, features=None, fake_logits=None):
    """Eq. 4: the weighted sum of the active terms, per example.

    Args:
        weights: LossWeights.
        batch: dict with "mask" (M_gt) and "ground_truth" (I_gt).
        outputs: generator (or coarse network) outputs: "coarse", "mask_logits",
            and for the full generator "fine" and "completed".
        features: for the identity losses, {"fine", "completed", "ground_truth"}
            -> {"block1", "block3"} feature maps of the frozen extractor.
        fake_logits: discriminator logits on the completed face (Eq. 11).

    Returns:
        (total, terms): per-example tensors; terms are unweighted.
    """
    mask_gt, truth = batch["mask"], batch["ground_truth"]
    terms = {}
    if weights.mask:
        terms["mask_bce"] = mask_bce(outputs["mask_logits"], mask_gt)
    if weights.mask_dice:
        terms["mask_dice"] = mask_dice(outputs["mask_logits"], mask_gt)
    if weights.occluded:
        terms["occluded_l1"] = region_l1(outputs["coarse"], truth, mask_gt)
        if weights.occluded_on_fine:
            terms["occluded_l1_fine"] = region_l1(outputs["fine"], truth, mask_gt)
    if weights.non_occluded:
        terms["non_occluded_l1"] = region_l1(outputs["coarse"], truth, 1.0 - mask_gt)
    if weights.perceptual:  # Eq. 9: on I_f and on I_f,r
        reference = features["ground_truth"]
        terms["perceptual"] = perceptual_distance(features["fine"], reference) + perceptual_distance(
            features["completed"], reference
        )
    if weights.style:
        reference = features["ground_truth"]
        terms["style"] = style_distance(features["fine"], reference) + style_distance(
            features["completed"], reference
        )
    if weights.adversarial:
        terms["g_adversarial"] = generator_adversarial(fake_logits)
    scale = {
        "mask_bce": weights.mask,
        "mask_dice": weights.mask_dice,
        "occluded_l1": weights.occluded,
        "occluded_l1_fine": weights.occluded,
        "non_occluded_l1": weights.non_occluded,
        "perceptual": weights.perceptual,
        "style": weights.style,
        "g_adversarial": weights.adversarial,
    }
    total = sum(scale[name] * value for name, value in terms.items())
    return total, terms


# BVMR's weights (its train_main.py): gamma1 on the image, gamma2 on the motif, 1 on the mask.
BVMR_IMAGE_WEIGHT, BVMR_MOTIF_WEIGHT = 2.0, 1.0


def motif_removal_loss(batch, outputs):
    """The BVMR baseline's loss (Hertz et al. 2019, as its code computes it), per example:
    2 L1(image inside M_gt) + 1 L1(motif inside M_gt) + BCE(mask), each L1 summed over the
    masked pixels' RGB values and divided by the mask area, in the original's [-1, 1] pixel
    range (twice our [0, 1] differences). Inside M_gt the occluded image *is* the motif.

    Returns (total, terms), per-example tensors; terms are unweighted."""
    mask_gt = batch["mask"]
    terms = {
        "image_l1": 2.0 * region_l1(outputs["image"], batch["ground_truth"], mask_gt),
        "motif_l1": 2.0 * region_l1(outputs["motif"], batch["occluded"], mask_gt),
        "mask_bce": mask_bce(outputs["mask_logits"], mask_gt),
    }
    total = BVMR_IMAGE_WEIGHT * terms["image_l1"] + BVMR_MOTIF_WEIGHT * terms["motif_l1"] + terms["mask_bce"]
    return total, terms
