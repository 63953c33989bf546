"""The methods compared side by side: what each one makes of an occluded face.

Each `Method` says whether it needs the generator (runs the model under test), which
other trained network it runs ("stage1": the coarse stage's checkpoint, Table I's "coarse
network" row; "bvmr": the BVMR baseline), which recognizer embeds its images for the
identity metrics, whether it has reconstruction metrics at all, and whether it is judged
on its predicted mask. Methods that do not need the model under test are evaluated once
per benchmark, whatever the checkpoint.
"""

import dataclasses

import numpy as np

from c2fdan_tf.inference.inpainting import telea_fill

DEFAULT_RECOGNIZER = "default"
OCCLUSION_ROBUST = "occlusion_robust"  # ResNet-50-occ: the extractor trained with occlusion augmentation


@dataclasses.dataclass(frozen=True)
class Method:
    name: str
    label: str
    needs_generator: bool = False  # its output depends on the checkpoint under test
    uses_predicted_mask: bool = False  # mask IoU/F1 of the prediction are reported with it
    network: str = ""  # another trained network it runs: "stage1" or "bvmr"
    recognizer: str = DEFAULT_RECOGNIZER  # the recognizer of its identity metrics
    reconstructs: bool = True  # False: a recognition-only row (no PSNR, SSIM, landmarks)


_REGISTRY = (
    Method("non_occluded", "non-occluded"),  # the clean face: recognition's upper bound
    Method("occluded", "occluded"),  # the occluded face as is
    # Hertz et al. 2019, blind: its reconstruction blended by its own mask.
    Method("bvmr", "BVMR", uses_predicted_mask=True, network="bvmr"),
    # The occluded face as is, recognized by the extractor trained with occlusion augmentation.
    Method("resnet50_occ", "ResNet-50-occ", recognizer=OCCLUSION_ROBUST, reconstructs=False),
    # Table I's coarse row: I_c,r of the stage-1 checkpoint, before the GAN stage.
    Method("coarse_stage1", "Coarse network (stage 1)", uses_predicted_mask=True, network="stage1"),
    Method("c2fdan_coarse", "C2FDAN coarse (after stage 2)", needs_generator=True, uses_predicted_mask=True),  # I_c,r
    Method("c2fdan", "C2FDAN", needs_generator=True, uses_predicted_mask=True),  # I_f,r
    Method("telea_gt_mask", "Telea (true mask)"),  # classical inpainting given the true mask
    Method("telea_predicted_mask", "Telea (predicted mask)", needs_generator=True, uses_predicted_mask=True),
)
REGISTRY = {method.name: method for method in _REGISTRY}
METHODS = tuple(REGISTRY)
LABELS = {name: method.label for name, method in REGISTRY.items()}


def check_methods(names):
    """The names, or a ValueError naming the unknown ones."""
    unknown = [name for name in names if name not in REGISTRY]
    if unknown:
        raise ValueError(f"Unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}.")
    return list(names)


def needing_generator(names):
    return [name for name in names if REGISTRY[name].needs_generator]


def needing_network(names, network):
    """The methods among `names` that run the trained network `network` ("stage1", "bvmr")."""
    return [name for name in names if REGISTRY[name].network == network]


def needing_recognizer(names, recognizer):
    return [name for name in names if REGISTRY[name].recognizer == recognizer]


def telea(images, masks):
    """OpenCV Telea inpainting of float images in [0, 1] where masks > 0.5."""
    out = np.empty_like(images, dtype=np.float32)
    for i, (image, mask) in enumerate(zip(images, masks)):
        out[i] = telea_fill(image, mask[..., 0] > 0.5)
    return out


def method_outputs(runner, occluded, mask_gt, ground_truth, methods=METHODS, networks=None):
    """{method: images (N, 112, 112, 3) float32} and {method: its predicted mask (N, 112, 112, 1)}
    for the methods judged on one. `runner`: an inference runner of the model under test;
    `networks`: {"stage1": runner of the coarse stage's checkpoint, "bvmr": runner of the
    BVMR baseline}, for the methods that need them."""
    check_methods(methods)
    networks = networks or {}
    run = {"generator": runner(occluded) if needing_generator(methods) else None}
    for network in ("stage1", "bvmr"):
        if needing_network(methods, network):
            if networks.get(network) is None:
                raise ValueError(f"{', '.join(needing_network(methods, network))} need(s) the {network} network.")
            run[network] = networks[network](occluded)
    produce = {
        "non_occluded": lambda: ground_truth,
        "occluded": lambda: occluded,
        "bvmr": lambda: run["bvmr"]["completed"],
        "resnet50_occ": lambda: occluded,
        "coarse_stage1": lambda: run["stage1"]["coarse"],
        "c2fdan": lambda: run["generator"]["completed"],
        "c2fdan_coarse": lambda: run["generator"]["coarse"],
        "telea_gt_mask": lambda: telea(occluded, mask_gt),
        "telea_predicted_mask": lambda: telea(occluded, run["generator"]["mask"]),
    }
    outputs = {method: produce[method]() for method in methods}
    masks = {method: run[REGISTRY[method].network or "generator"]["mask"]
             for method in methods if REGISTRY[method].uses_predicted_mask}
    return outputs, masks
