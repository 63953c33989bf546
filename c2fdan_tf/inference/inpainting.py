"""Telea's classical inpainting (OpenCV), the project's non-learned fill: a baseline of the
evaluation and the video path's fallback where the network gives no fill."""

import cv2
import numpy as np

TELEA_RADIUS = 3  # pixels of neighbourhood (OpenCV's inpaintRadius)


def telea_fill(image, hole):
    """`image` (H, W, 3) float in [0, 1] with the pixels where `hole` (H, W) is true filled by
    Telea's method; every other pixel as it was, at full precision."""
    image = np.asarray(image, np.float32)
    hole = np.asarray(hole, bool)
    if not hole.any():
        return image.copy()
    pixels = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
    filled = cv2.inpaint(pixels, hole.astype(np.uint8), TELEA_RADIUS, cv2.INPAINT_TELEA)
    return np.where(hole[..., None], filled.astype(np.float32) / 255.0, image)
