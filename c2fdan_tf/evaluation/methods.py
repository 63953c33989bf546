"""The methods compared side by side: what each one makes of an occluded face.

Each `Method` says whether it needs the generator (runs the model under test), the
coarse stage's checkpoint (Table I's "coarse network" row: stage 1 alone), and whether
it is judged on its predicted mask; methods that do not need the model under test are
evaluated once per benchmark, whatever the checkpoint.
"""

import dataclasses

import cv2
import numpy as np


@dataclasses.dataclass(frozen=True)
class Method:
    name: str
    label: str
    needs_generator: bool = False  # its output depends on the checkpoint under test
    uses_predicted_mask: bool = False  # mask IoU/F1 of the prediction are reported with it
    needs_stage1: bool = False  # runs the coarse stage's (stage 1) checkpoint


_REGISTRY = (
    Method("non_occluded", "non-occluded"),  # the clean face: recognition's upper bound
    Method("occluded", "occluded"),  # the occluded face as is
    # Table I's coarse row: I_c,r of the stage-1 checkpoint, before the GAN stage.
    Method("coarse_stage1", "Coarse network (stage 1)", uses_predicted_mask=True, needs_stage1=True),
    Method("c2fdan_coarse", "C2FDAN coarse (after stage 2)", needs_generator=True, uses_predicted_mask=True),  # I_c,r
    Method("c2fdan", "C2FDAN", needs_generator=True, uses_predicted_mask=True),  # I_f,r
    Method("telea_gt_mask", "Telea (true mask)"),  # classical inpainting given the true mask
    Method("telea_predicted_mask", "Telea (predicted mask)", needs_generator=True, uses_predicted_mask=True),
)
REGISTRY = {method.name: method for method in _REGISTRY}
METHODS = tuple(REGISTRY)
LABELS = {name: method.label for name, method in REGISTRY.items()}
TELEA_RADIUS = 3


def check_methods(names):
    """The names, or a ValueError naming the unknown ones."""
    unknown = [name for name in names if name not in REGISTRY]
    if unknown:
        raise ValueError(f"Unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}.")
    return list(names)


def needing_generator(names):
    return [name for name in names if REGISTRY[name].needs_generator]


def needing_stage1(names):
    return [name for name in names if REGISTRY[name].needs_stage1]


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


def method_outputs(runner, occluded, mask_gt, ground_truth, methods=METHODS, stage1_runner=None):
    """{method: images (N, 112, 112, 3) float32} and {method: its predicted mask (N, 112, 112, 1)}
    for the methods judged on one. `runner`: an inference runner of the model under test;
    `stage1_runner`: one of the coarse stage's checkpoint (for "coarse_stage1")."""
    check_methods(methods)
    generated = runner(occluded) if needing_generator(methods) else None
    stage1 = stage1_runner(occluded) if needing_stage1(methods) else None
    produce = {
        "non_occluded": lambda: ground_truth,
        "occluded": lambda: occluded,
        "coarse_stage1": lambda: stage1["coarse"],
        "c2fdan": lambda: generated["completed"],
        "c2fdan_coarse": lambda: generated["coarse"],
        "telea_gt_mask": lambda: telea(occluded, mask_gt),
        "telea_predicted_mask": lambda: telea(occluded, generated["mask"]),
    }
    outputs = {method: produce[method]() for method in methods}
    masks = {method: (stage1 if REGISTRY[method].needs_stage1 else generated)["mask"]
             for method in methods if REGISTRY[method].uses_predicted_mask}
    return outputs, masks
