import keras

from c2fdan_tf.face_template import IMAGE_SIZE

ARCHITECTURES = ("resnet50v2", "resnet_v2_small")
# The feature maps of the identity losses (Eq. 8-10): after the first and the
# third ResNet stage [decision, see architecture.md].
_RESNET50V2_BLOCKS = ("conv2_block3_out", "conv4_block6_out")


def _preactivation_block(x, filters, strides, name):
    """ResNet-v2 basic block: BN-ReLU-conv3x3-BN-ReLU-conv3x3 plus the shortcut."""
    preact = keras.layers.BatchNormalization(name=f"{name}_preact_bn")(x)
    preact = keras.layers.ReLU(name=f"{name}_preact_relu")(preact)
    if strides != 1 or x.shape[-1] != filters:
        # Subsample, then a 1x1 conv: the same as a strided 1x1 conv, whose gradient
        # segfaults under oneDNN (TF 2.21) for inputs of 8 channels or fewer.
        subsampled = keras.layers.MaxPooling2D(1, strides=strides, name=f"{name}_subsample")(preact)
        shortcut = keras.layers.Conv2D(filters, 1, name=f"{name}_shortcut")(subsampled)
    else:
        shortcut = x
    y = keras.layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False, name=f"{name}_conv1")(preact)
    y = keras.layers.BatchNormalization(name=f"{name}_bn")(y)
    y = keras.layers.ReLU(name=f"{name}_relu")(y)
    y = keras.layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv2")(y)
    return keras.layers.Add(name=f"{name}_out")([shortcut, y])


def _small_resnet_v2(x, width, blocks_per_stage):
    """A compact pre-activation ResNet-v2 (stem stride 2, four stages) for CPUs."""
    x = keras.layers.Conv2D(width, 3, strides=2, padding="same", name="stem_conv")(x)
    stage_outputs = []
    for stage, blocks in enumerate(blocks_per_stage):
        filters = width * 2**stage
        for block in range(blocks):
            strides = 2 if stage > 0 and block == 0 else 1
            x = _preactivation_block(x, filters, strides, f"stage{stage + 1}_block{block + 1}")
        stage_outputs.append(x)
    x = keras.layers.BatchNormalization(name="post_bn")(x)
    x = keras.layers.ReLU(name="post_relu")(x)
    return stage_outputs[0], stage_outputs[2], x


@keras.saving.register_keras_serializable(package="c2fdan_tf")
class FaceFeatureExtractor(keras.Model):
    """Face recognition network: identity embedding, logits and style features.

    ResNet50-v2 at 112x112 (the paper) or a compact ResNet-v2 for CPU presets,
    then global average pooling, a 256-d bottleneck (dense + batch norm) and a
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
        after the first and third stage, for the perceptual and style losses).

    Example:
    >>> extractor = FaceFeatureExtractor(num_classes=10, architecture="resnet_v2_small", width=8)
    >>> extractor(keras.ops.zeros((2, 112, 112, 3)))["embedding"].shape
    (2, 256)

    Reference:
        C2FDAN Sec. III-B3 (ResNet50-v2, 256-d bottleneck, VGGFace2); He et al.,
        "Identity Mappings in Deep Residual Networks", 2016.
    """

    def __init__(
        self,
        num_classes,
        architecture="resnet50v2",
        embedding_size=256,
        width=32,
        blocks_per_stage=(1, 1, 1, 1),
        **kwargs,
    ):
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}.")
        # === Functional model ===
        images = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), name="images")
        x = keras.layers.Rescaling(2.0, offset=-1.0, name="to_signed")(images)
        if architecture == "resnet50v2":
            backbone = keras.applications.ResNet50V2(
                weights=None, include_top=False, input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3)
            )
            block1, block3, top = keras.Model(
                backbone.input,
                [backbone.get_layer(n).output for n in _RESNET50V2_BLOCKS] + [backbone.output],
                name="resnet50v2",
            )(x)
        else:
            block1, block3, top = _small_resnet_v2(x, width, tuple(blocks_per_stage))
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

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "num_classes": self.num_classes,
            "architecture": self.architecture,
            "embedding_size": self.embedding_size,
            "width": self.width,
            "blocks_per_stage": list(self.blocks_per_stage),
        }
