"""The conditions compared side by side: what each one makes of an occluded face.

- non_occluded: the clean face (the upper bound of recognition);
- occluded: the occluded face as is (the extractor on the occluded face);
- c2fdan_coarse: the coarse network's blend I_c,r;
- c2fdan: the final blend I_f,r;
- telea_gt_mask: classical inpainting (OpenCV Telea) given the true mask;
- telea_predicted_mask: Telea given the model's predicted mask (blind, like C2FDAN).
"""

import cv2
import numpy as np
import tensorflow as tf

METHODS = ("non_occluded", "occluded", "c2fdan_coarse", "c2fdan", "telea_gt_mask", "telea_predicted_mask")
LABELS = {
    "non_occluded": "non-occluded",
    "occluded": "occluded",
    "c2fdan_coarse": "C2FDAN coarse",
    "c2fdan": "C2FDAN",
    "telea_gt_mask": "Telea (true mask)",
    "telea_predicted_mask": "Telea (predicted mask)",
}
TELEA_RADIUS = 3


def telea(images, masks):
    """OpenCV Telea inpainting of float images in [0, 1] where masks > 0.5."""
    out = np.empty_like(images, dtype=np.float32)
    for i, (image, mask) in enumerate(zip(images, masks)):
        pixels = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
        hole = (mask[..., 0] > 0.5).astype(np.uint8)
        filled = cv2.inpaint(pixels, hole, TELEA_RADIUS, cv2.INPAINT_TELEA) if hole.any() else pixels
        # Telea keeps the unmasked pixels; keep them at full precision too.
        out[i] = np.where(hole[..., None].astype(bool), filled.astype(np.float32) / 255.0, image)
    return out


class GeneratorRunner:
    """Runs a generator in fixed-size batches through one traced function."""

    def __init__(self, generator, batch_size=32):
        self.batch_size = batch_size
        self._run = tf.function(lambda x: generator(x, training=False), reduce_retracing=True)

    def __call__(self, occluded):
        results = {"completed": [], "coarse_completed": [], "mask": []}
        for start in range(0, len(occluded), self.batch_size):
            outputs = self._run(tf.constant(occluded[start : start + self.batch_size], tf.float32))
            for key in results:
                results[key].append(outputs[key].numpy())
        return {key: np.concatenate(values) for key, values in results.items()}


def method_outputs(runner, occluded, mask_gt, ground_truth, methods=METHODS):
    """{method: images (N, 112, 112, 3) float32} and the predicted mask (N, 112, 112, 1)."""
    outputs = {}
    predicted = None
    needs_model = {"c2fdan", "c2fdan_coarse", "telea_predicted_mask"} & set(methods)
    if needs_model:
        generated = runner(occluded)
        predicted = generated["mask"]
    for method in methods:
        if method == "non_occluded":
            outputs[method] = ground_truth
        elif method == "occluded":
            outputs[method] = occluded
        elif method == "c2fdan":
            outputs[method] = generated["completed"]
        elif method == "c2fdan_coarse":
            outputs[method] = generated["coarse_completed"]
        elif method == "telea_gt_mask":
            outputs[method] = telea(occluded, mask_gt)
        elif method == "telea_predicted_mask":
            outputs[method] = telea(occluded, predicted)
        else:
            raise ValueError(f"Unknown method {method!r}; one of {', '.join(METHODS)}.")
    return outputs, predicted
