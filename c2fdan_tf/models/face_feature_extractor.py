import keras

from c2fdan_tf.face_template import IMAGE_SIZE
from c2fdan_tf.models.architecture_version import ARCHITECTURE_VERSION, check_architecture_version

ARCHITECTURES = ("resnet50v2", "resnet_v2_small")
# ResNet50-v2 (He et al. 2016): pre-activation bottleneck blocks, [3, 4, 6, 3] per stage.
_RESNET50V2_STAGES = ((64, 3), (128, 4), (256, 6), (512, 3))  # (bottleneck filters, blocks)


def _shortcut(preact, x, filters, strides, name):
    """The identity, or (when the shape changes) a 1x1 conv of the pre-activation."""
    if strides == 1 and x.shape[-1] == filters:
        return x
    # Subsample, then a 1x1 conv: the same as a strided 1x1 conv, whose gradient
    # segfaults under oneDNN (TF 2.21) for inputs of 8 channels or fewer.
    subsampled = keras.layers.MaxPooling2D(1, strides=strides, name=f"{name}_subsample")(preact)
    return keras.layers.Conv2D(filters, 1, name=f"{name}_shortcut")(subsampled)


def _preactivation(x, name):
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def _basic_block(x, filters, strides, name):
    """ResNet-v2 basic block: BN-ReLU-conv3x3-BN-ReLU-conv3x3 plus the shortcut."""
    preact = _preactivation(x, f"{name}_preact")
    shortcut = _shortcut(preact, x, filters, strides, name)
    y = keras.layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False, name=f"{name}_conv1")(preact)
    y = _preactivation(y, f"{name}_mid")
    y = keras.layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv2")(y)
    return keras.layers.Add(name=f"{name}_out")([shortcut, y])


def _bottleneck_block(x, filters, strides, name):
    """ResNet-v2 bottleneck: BN-ReLU-conv1x1(f)-BN-ReLU-conv3x3(f, stride)-BN-ReLU-conv1x1(4f)
    plus the shortcut (the stride in the 3x3 conv, as Keras' ResNet50V2)."""
    preact = _preactivation(x, f"{name}_preact")
    shortcut = _shortcut(preact, x, 4 * filters, strides, name)
    y = keras.layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_conv1")(preact)
    y = _preactivation(y, f"{name}_mid1")
    y = keras.layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False, name=f"{name}_conv2")(y)
    y = _preactivation(y, f"{name}_mid2")
    y = keras.layers.Conv2D(4 * filters, 1, name=f"{name}_conv3")(y)
    return keras.layers.Add(name=f"{name}_out")([shortcut, y])


def face_resnet_v2(x, stem_width, stages, block):
    """A pre-activation ResNet-v2 with a face-recognition stem for 112x112 inputs.

    Stem: one 3x3 conv, stride 1, no max-pool (as the ArcFace/insightface "IR"
    ResNets; the ImageNet stem's 7x7 stride 2 + max-pool would leave 14x14 after
    the first stage at 112 px). Every stage starts with a stride-2 block, so the
    four stage outputs are 56x56, 28x28, 14x14 and 7x7 for a 112x112 input.

    Returns (block1, block3, top): the outputs of the first and third stage
    (56x56 and 14x14, the feature maps of Eq. 8-10) and the last stage after
    the final BN-ReLU (7x7).
    """
    x = keras.layers.Conv2D(stem_width, 3, padding="same", name="stem_conv")(x)
    stage_outputs = []
    for stage, (filters, blocks) in enumerate(stages):
        for index in range(blocks):
            x = block(x, filters, 2 if index == 0 else 1, f"stage{stage + 1}_block{index + 1}")
        stage_outputs.append(x)
    top = _preactivation(x, "post")
    return stage_outputs[0], stage_outputs[2], top


@keras.saving.register_keras_serializable(package="c2fdan_tf")
class FaceFeatureExtractor(keras.Model):
    """Face recognition network: identity embedding, logits and style features.

    ResNet50-v2 (the paper; bottleneck blocks [3, 4, 6, 3], 64..512 filters)
    or a compact ResNet-v2 of basic blocks for CPU presets, both with the
    face-recognition stem of `face_resnet_v2` (stage outputs 56/28/14/7 at
    112x112), then global average pooling, a 256-d bottleneck (dense + batch norm) and a
    `num_classes` logits layer, trained with softmax cross-entropy. Inputs are
    images in [0, 1] (rescaled to [-1, 1] inside).

    Args:
        num_classes: identities of the training set (8631 for VGGFace2).
        architecture: "resnet50v2" (paper) or "resnet_v2_small".
        embedding_size: bottleneck size (256 in the paper).
        width: first-stage channels of "resnet_v2_small".
        blocks_per_stage: blocks of each of the four stages of "resnet_v2_small".

    Call arguments:
        images: `(N, 112, 112, 3)` in [0, 1].

    Returns:
        dict: "logits" `(N, num_classes)`, "embedding" (L2-normalised
        bottleneck, `(N, embedding_size)`), "block1" and "block3" (feature maps
        after the first and third stage, for the perceptual and style losses:
        56x56 and 14x14; 256 and 1024 channels for ResNet50-v2, width and
        4 * width for the compact one).

    Example:
    >>> extractor = FaceFeatureExtractor(num_classes=10, architecture="resnet_v2_small", width=8)
    >>> extractor(keras.ops.zeros((2, 112, 112, 3)))["embedding"].shape
    (2, 256)

    Reference:
        C2FDAN Sec. III-B3 (ResNet50-v2, 256-d bottleneck, VGGFace2); He et al.,
        "Identity Mappings in Deep Residual Networks", 2016; Deng et al.,
        "ArcFace", 2019 (the stem of its 112x112 "IR" ResNets).
    """

    def __init__(
        self,
        num_classes,
        architecture="resnet50v2",
        embedding_size=256,
        width=32,
        blocks_per_stage=(1, 1, 1, 1),
        architecture_version=ARCHITECTURE_VERSION,
        **kwargs,
    ):
        check_architecture_version(architecture_version, "face feature extractor")
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}.")
        # === Functional model ===
        images = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), name="images")
        x = keras.layers.Rescaling(2.0, offset=-1.0, name="to_signed")(images)
        if architecture == "resnet50v2":
            block1, block3, top = face_resnet_v2(x, 64, _RESNET50V2_STAGES, _bottleneck_block)
        else:
            stages = [(width * 2**stage, blocks) for stage, blocks in enumerate(blocks_per_stage)]
            block1, block3, top = face_resnet_v2(x, width, stages, _basic_block)
        pooled = keras.layers.GlobalAveragePooling2D(name="pool")(top)
        bottleneck = keras.layers.Dense(embedding_size, name="bottleneck")(pooled)
        bottleneck = keras.layers.BatchNormalization(name="bottleneck_bn")(bottleneck)
        logits = keras.layers.Dense(num_classes, dtype="float32", name="logits")(bottleneck)
        embedding = keras.layers.UnitNormalization(dtype="float32", name="embedding")(bottleneck)
        block1 = keras.layers.Activation("linear", dtype="float32", name="block1")(block1)
        block3 = keras.layers.Activation("linear", dtype="float32", name="block3")(block3)
        super().__init__(
            inputs=images,
            outputs={"logits": logits, "embedding": embedding, "block1": block1, "block3": block3},
            **kwargs,
        )

        # === Config ===
        self.num_classes = num_classes
        self.architecture = architecture
        self.embedding_size = embedding_size
        self.width = width
        self.blocks_per_stage = tuple(blocks_per_stage)

    @classmethod
    def from_config(cls, config):
        # A first-release config has no version: check_architecture_version names it.
        return cls(**{"architecture_version": None, **config})

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "num_classes": self.num_classes,
            "architecture": self.architecture,
            "embedding_size": self.embedding_size,
            "width": self.width,
            "blocks_per_stage": list(self.blocks_per_stage),
            "architecture_version": ARCHITECTURE_VERSION,
        }
