"""face-api.js' face recognition net (dlib's ResNet-34-like descriptor net) in Keras.

Ported from `src/faceRecognitionNet/` of @vladmandic/face-api 1.7.15 (MIT): the layer
shapes, weight names and pre-processing are the original's; the code is ours.
"""

import keras

from c2fdan_tf.face_template import IMAGE_SIZE
from c2fdan_tf.layers import PadChannels, ResizeBilinearLegacy
from c2fdan_tf.models.face_api.weights import RECOGNITION_MODEL, WeightTaker, read_face_api_weights

INPUT_SIZE = 150  # the net's input: dlib's 150x150 face chip
# The square of the 112x112 template that the net is given, (top, left, size): face-api.js
# feeds it a face detector's box, which sits higher and tighter on the face than the ArcFace
# template (MTCNN's square box maps to about x 6-104, y 17-115 of the template on the test
# photos). Measured on the astronaut and Grace Hopper photos (README): descriptor distance
# between the two 0.549 with the whole template, 0.795 with this crop (dlib: same person < 0.6).
RECOGNITION_CROP = (16, 8, 96)
MEAN_RGB = (122.782, 117.001, 104.298)  # subtracted from 0..255 pixels, then / 255
DESCRIPTOR_SIZE = 128
# (stage, residual blocks after its down-sampling block); stage 32 has none (a stem instead).
_STAGES = ((32, 3), (64, 3), (128, 2), (256, 2))


def pixels_to_net_input(images, crop, size):
    """[0, 1] RGB -> the original's input: 0..255, the `crop` (top, left, side) of the frame,
    resized to `size` as TensorFlow.js does, minus the mean, / 255."""
    top, left, side = crop
    x = keras.layers.Rescaling(255.0, name="to_pixels")(images)
    bottom, right = images.shape[1] - top - side, images.shape[2] - left - side
    x = keras.layers.Cropping2D(((top, bottom), (left, right)), name="crop")(x)
    if size != side:
        x = ResizeBilinearLegacy(size, size, name="resize")(x)
    return keras.layers.Normalization(mean=list(MEAN_RGB), variance=[255.0**2] * 3, name="normalize")(x)


def _conv(x, filters, kernel, strides, padding, relu, name):
    """conv + bias, then the per-channel scale layer (folded into the conv when loaded)."""
    x = keras.layers.Conv2D(filters, kernel, strides=strides, padding=padding, name=name)(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x) if relu else x


def _residual(x, name):
    y = _conv(x, x.shape[-1], 3, 1, "same", True, f"{name}_conv1")
    y = _conv(y, x.shape[-1], 3, 1, "same", False, f"{name}_conv2")
    return keras.layers.ReLU(name=f"{name}_out")(keras.layers.Add(name=f"{name}_add")([y, x]))


def _residual_down(x, filters, name):
    """Stride-2 'valid' conv; the shortcut is a 2x2 average pool, zero-padded in channels, and
    the residual is zero-padded at the bottom/right where the pool is one pixel larger."""
    y = _conv(x, filters, 3, 2, "valid", True, f"{name}_conv1")
    y = _conv(y, filters, 3, 1, "same", False, f"{name}_conv2")
    pooled = keras.layers.AveragePooling2D(2, name=f"{name}_pool")(x)
    rows, cols = pooled.shape[1] - y.shape[1], pooled.shape[2] - y.shape[2]
    if rows or cols:
        y = keras.layers.ZeroPadding2D(((0, rows), (0, cols)), name=f"{name}_pad")(y)
    pooled = PadChannels(filters, name=f"{name}_pad_channels")(pooled)
    return keras.layers.ReLU(name=f"{name}_out")(keras.layers.Add(name=f"{name}_add")([pooled, y]))


@keras.saving.register_keras_serializable(package="c2fdan_tf")
class FaceApiRecognizer(keras.Model):
    """Pretrained face descriptors (dlib's net, 99.38 % on LFW) for aligned 112x112 faces.

    The original takes a face box, pads it to a square and resizes it to 150x150; here the
    input is an aligned 112x112 face in [0, 1], of which the square `RECOGNITION_CROP`
    (where a face detector's box falls on the template) is resized to 150x150 the same way.

    Returns:
        dict: "descriptor" `(N, 128)` (the original's output; same person below 0.6
        Euclidean distance), "embedding" (the descriptor L2-normalised), and "block1" /
        "block3" (the outputs of the first and third residual stages, 35x35x32 and 8x8x128,
        for the perceptual and style losses of Eq. 8-10).

    Use `load_face_api_recognizer()` for the pretrained weights; the constructor alone
    gives random ones.
    """

    def __init__(self, **kwargs):
        images = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), name="images")
        x = pixels_to_net_input(images, RECOGNITION_CROP, INPUT_SIZE)
        x = _conv(x, 32, 7, 2, "valid", True, "conv32_down")
        x = keras.layers.MaxPooling2D(3, strides=2, name="conv32_down_pool")(x)
        taps = []
        for filters, blocks in _STAGES:
            if filters != 32:
                x = _residual_down(x, filters, f"conv{filters}_down")
            for index in range(1, blocks + 1):
                x = _residual(x, f"conv{filters}_{index}")
            taps.append(x)
        x = _residual_down(x, 256, "conv256_down_out")
        pooled = keras.layers.GlobalAveragePooling2D(name="pool")(x)
        descriptor = keras.layers.Dense(DESCRIPTOR_SIZE, use_bias=False, dtype="float32", name="fc")(pooled)
        embedding = keras.layers.UnitNormalization(dtype="float32", name="embedding")(descriptor)
        block1 = keras.layers.Activation("linear", dtype="float32", name="block1")(taps[0])
        block3 = keras.layers.Activation("linear", dtype="float32", name="block3")(taps[2])
        super().__init__(inputs=images, outputs={"descriptor": descriptor, "embedding": embedding,
                                                 "block1": block1, "block3": block3}, **kwargs)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable}

    def load_face_api_weights(self, weights):
        """Sets the weights from `read_face_api_weights(RECOGNITION_MODEL)`'s mapping."""
        take = WeightTaker(weights, RECOGNITION_MODEL)
        for layer in self.layers:
            if isinstance(layer, keras.layers.Conv2D):
                prefix = layer.name.replace("_conv", "/conv")  # conv64_1_conv1 -> conv64_1/conv1
                filters, bias = take(f"{prefix}/conv/filters"), take(f"{prefix}/conv/bias")
                scale, shift = take(f"{prefix}/scale/weights"), take(f"{prefix}/scale/biases")
                layer.set_weights([filters * scale, bias * scale + shift])  # (conv + b) * s + t
        self.get_layer("fc").set_weights([take("fc")])
        take.check_all_taken()
        return self


def load_face_api_recognizer(model_dir=None):
    """The recognizer with face-api.js' pretrained weights read from the npm package's shards."""
    return FaceApiRecognizer(name="face_api_recognizer").load_face_api_weights(
        read_face_api_weights(RECOGNITION_MODEL, model_dir))
