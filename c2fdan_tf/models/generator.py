import keras

from c2fdan_tf.face_template import IMAGE_SIZE
from c2fdan_tf.layers import MaskedBlend
from c2fdan_tf.models.architecture_version import ARCHITECTURE_VERSION, check_architecture_version
from c2fdan_tf.models.coarse_network import CoarseNetwork
from c2fdan_tf.models.fine_network import FineNetwork

OUTPUT_KEYS = ("coarse", "mask", "mask_logits", "coarse_completed", "fine", "completed")


@keras.saving.register_keras_serializable(package="c2fdan_tf")
class Generator(keras.Model):
    """The blind C2FDAN generator: occluded face in, mask and completed face out.

    The coarse network predicts I_c and M from the occluded image alone (no
    mask is given); I_c,r = (1 - M) I + M I_c (Eq. 2); the fine network refines
    concat(I_c,r, M) into I_f; I_f,r = (1 - M) I + M I_f (Eq. 2).

    Args:
        width: base channel count (64 in the paper).
        attention: "both", "self", "cross" or "none" (Table I ablation).
        cross_attention_mode: "hard" (paper) or "soft".
        exclude_partially_masked_keys: the cross-attention never copies a key
            patch that touches the mask (an option; the paper does not).

    Call arguments:
        image: `(N, 112, 112, 3)` occluded face in [0, 1].

    Returns:
        dict of float32 tensors: "coarse" (I_c), "mask" (M, `(N, 112, 112, 1)`),
        "mask_logits", "coarse_completed" (I_c,r), "fine" (I_f) and
        "completed" (I_f,r, the result).

    Example:
    >>> generator = Generator(width=8)
    >>> generator(keras.ops.zeros((2, 112, 112, 3)))["completed"].shape
    (2, 112, 112, 3)

    Reference:
        C2FDAN Sec. III-B1, Fig. 2 and 5, Eq. 2.
    """

    def __init__(self, width=64, attention="both", cross_attention_mode="hard",
                 exclude_partially_masked_keys=False, architecture_version=ARCHITECTURE_VERSION, **kwargs):
        check_architecture_version(architecture_version, "generator")
        coarse_network = CoarseNetwork(width=width, name="coarse_network")
        fine_network = FineNetwork(
            width=width,
            attention=attention,
            cross_attention_mode=cross_attention_mode,
            exclude_partially_masked_keys=exclude_partially_masked_keys,
            name="fine_network",
        )
        # === Functional model ===
        image = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), name="image")
        coarse_outputs = coarse_network(image)
        mask = coarse_outputs["mask"]
        coarse_completed = MaskedBlend(dtype="float32", name="coarse_completed")(
            [image, coarse_outputs["coarse"], mask]
        )
        fine = fine_network([coarse_completed, mask])
        completed = MaskedBlend(dtype="float32", name="completed")([image, fine, mask])
        outputs = {
            "coarse": coarse_outputs["coarse"],
            "mask": mask,
            "mask_logits": coarse_outputs["mask_logits"],
            "coarse_completed": coarse_completed,
            "fine": fine,
            "completed": completed,
        }
        super().__init__(inputs=image, outputs=outputs, **kwargs)

        # === Config ===
        self.width = width
        self.attention = attention
        self.cross_attention_mode = cross_attention_mode
        self.exclude_partially_masked_keys = bool(exclude_partially_masked_keys)
        self.coarse_network = coarse_network
        self.fine_network = fine_network

    @classmethod
    def from_config(cls, config):
        # A first-release config has no version: check_architecture_version names it.
        return cls(**{"architecture_version": None, **config})

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "width": self.width,
            "attention": self.attention,
            "cross_attention_mode": self.cross_attention_mode,
            "exclude_partially_masked_keys": self.exclude_partially_masked_keys,
            "architecture_version": ARCHITECTURE_VERSION,
        }


def completion_with_given_mask(generator):
    """The trained `generator` completing inside a mask it is given instead of the one it
    predicts: a hand-corrected mask, fed back as the fine network's input (Sec. III-B: the
    fine network takes the coarse result and the mask).

    Inputs `image` (N, 112, 112, 3) and `mask` (N, 112, 112, 1) in [0, 1]; outputs as the
    generator's ("coarse", "mask" = the given one, "coarse_completed", "fine", "completed"),
    without "mask_logits". Given the generator's own mask, it returns the generator's outputs.
    The layers are the generator's (shared weights, nothing new to train)."""
    image = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), name="image")
    mask = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 1), name="mask")
    coarse = generator.coarse_network(image)["coarse"]
    coarse_completed = MaskedBlend(dtype="float32", name="coarse_completed")([image, coarse, mask])  # Eq. 2
    fine = generator.fine_network([coarse_completed, mask])
    completed = MaskedBlend(dtype="float32", name="completed")([image, fine, mask])  # Eq. 2
    outputs = {"coarse": coarse, "mask": keras.layers.Identity(name="given_mask")(mask),
               "coarse_completed": coarse_completed, "fine": fine, "completed": completed}
    return keras.Model([image, mask], outputs, name="completion_with_given_mask")
