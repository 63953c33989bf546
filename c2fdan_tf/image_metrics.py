"""Per-example image and mask metrics, shared by training and evaluation.

Images in [0, 1]; masks with 1 = occluded, binarised at 0.5.
"""

import tensorflow as tf


def psnr(prediction, target):
    """PSNR in dB per example, max value 1 (as tf.image.psnr); inf for equal images."""
    return tf.image.psnr(tf.cast(prediction, tf.float32), tf.cast(target, tf.float32), max_val=1.0)


def ssim(prediction, target):
    """SSIM per example: Gaussian window 11, sigma 1.5 (tf.image.ssim)."""
    return tf.image.ssim(
        tf.cast(prediction, tf.float32), tf.cast(target, tf.float32), max_val=1.0,
        filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03,
    )


def _binary_counts(mask, mask_gt, threshold):
    predicted = tf.reshape(tf.cast(mask, tf.float32) > threshold, (tf.shape(mask)[0], -1))
    truth = tf.reshape(tf.cast(mask_gt, tf.float32) > 0.5, (tf.shape(mask_gt)[0], -1))
    count = lambda x: tf.reduce_sum(tf.cast(x, tf.float32), axis=-1)  # noqa: E731
    return count(predicted & truth), count(predicted & ~truth), count(~predicted & truth)


def mask_iou(mask, mask_gt, threshold=0.5):
    """Intersection over union of the thresholded masks; 1 when both are empty."""
    tp, fp, fn = _binary_counts(mask, mask_gt, threshold)
    union = tp + fp + fn
    return tf.where(union > 0, tp / tf.maximum(union, 1.0), 1.0)


def mask_f1(mask, mask_gt, threshold=0.5):
    """F1 (Dice) score of the thresholded masks; 1 when both are empty."""
    tp, fp, fn = _binary_counts(mask, mask_gt, threshold)
    denominator = 2 * tp + fp + fn
    return tf.where(denominator > 0, 2 * tp / tf.maximum(denominator, 1.0), 1.0)
