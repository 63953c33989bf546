"""face-api.js' 68-point face landmark net in Keras.

Ported from `src/faceLandmarkNet/` and `src/faceFeatureExtractor/` of @vladmandic/face-api
1.7.15 (MIT): four dense blocks of depthwise-separable convolutions, a 7x7 average pool
and a fully connected layer to 68 (x, y) pairs relative to the input. Layer shapes, weight
names and pre-processing are the original's; the code is ours.
"""

import keras
import numpy as np

from c2fdan_tf.face_template import IMAGE_SIZE
from c2fdan_tf.models.face_api.recognition_net import pixels_to_net_input
from c2fdan_tf.models.face_api.weights import LANDMARK_MODEL, WeightTaker, read_face_api_weights

_BLOCK_CHANNELS = (32, 64, 128, 256)
INPUT_SIZE = 112
# The square of the 112x112 template the net sees, (top, left, size): like the recognizer's
# crop, where a face detector's box falls; measured on the two test photos, the largest
# distance of the derived five points from MTCNN's is 7.8 % of the inter-ocular distance with
# the whole template and 4.5 % with this crop.
LANDMARK_CROP = (12, 6, 100)
# iBUG 68-point indices of the five template points: the eye on the image's left is the
# subject's right eye (points 36-41).
LEFT_EYE, RIGHT_EYE, NOSE_TIP, LEFT_MOUTH, RIGHT_MOUTH = range(36, 42), range(42, 48), 30, 48, 54


def _dense_block(x, channels, name, first):
    """out1 = relu(conv0(x)) at stride 2; out_k = sepconv(relu(out1 + ... + out_{k-1}))."""
    if first:
        conv0 = keras.layers.Conv2D(channels, 3, strides=2, padding="same", name=f"{name}_conv0")
    else:
        conv0 = keras.layers.SeparableConv2D(channels, 3, strides=2, padding="same", name=f"{name}_conv0")
    outputs = [keras.layers.ReLU(name=f"{name}_conv0_relu")(conv0(x))]
    for index in (1, 2, 3):
        total = outputs[0] if index == 1 else keras.layers.ReLU(name=f"{name}_in{index}")(
            keras.layers.Add(name=f"{name}_sum{index}")(outputs))
        outputs.append(keras.layers.SeparableConv2D(channels, 3, padding="same", name=f"{name}_conv{index}")(total))
    return keras.layers.ReLU(name=f"{name}_out")(keras.layers.Add(name=f"{name}_sum4")(outputs))


@keras.saving.register_keras_serializable(package="c2fdan_tf")
class FaceApiLandmarks68(keras.Model):
    """68 face landmarks (iBUG 300-W order) of aligned 112x112 faces in [0, 1].

    Returns:
        `(N, 68, 2)` float32 (x, y) in pixels of the 112x112 frame.

    Use `load_face_api_landmarks()` for the pretrained weights.
    """

    def __init__(self, **kwargs):
        images = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), name="images")
        x = pixels_to_net_input(images, LANDMARK_CROP, INPUT_SIZE)
        for index, channels in enumerate(_BLOCK_CHANNELS):
            x = _dense_block(x, channels, f"dense{index}", first=index == 0)
        x = keras.layers.AveragePooling2D(7, strides=2, name="pool")(x)
        x = keras.layers.Flatten(name="flatten")(x)
        relative = keras.layers.Dense(136, dtype="float32", name="fc")(x)
        points = keras.layers.Reshape((68, 2), name="relative_points")(relative)
        top, left, side = LANDMARK_CROP  # relative to the crop -> pixels of the 112x112 frame
        landmarks = keras.layers.Rescaling(float(side), offset=[float(left), float(top)], dtype="float32",
                                           name="landmarks")(points)
        super().__init__(inputs=images, outputs=landmarks, **kwargs)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable}

    def load_face_api_weights(self, weights):
        """Sets the weights from `read_face_api_weights(LANDMARK_MODEL)`'s mapping."""
        take = WeightTaker(weights, LANDMARK_MODEL)
        for layer in self.layers:
            key = layer.name.replace("_conv", "/conv")  # dense1_conv2 -> dense1/conv2
            if isinstance(layer, keras.layers.SeparableConv2D):
                layer.set_weights([take(f"{key}/depthwise_filter"), take(f"{key}/pointwise_filter"), take(f"{key}/bias")])
            elif isinstance(layer, keras.layers.Conv2D):
                layer.set_weights([take(f"{key}/filters"), take(f"{key}/bias")])
        self.get_layer("fc").set_weights([take("fc/weights"), take("fc/bias")])
        take.check_all_taken()
        return self


def load_face_api_landmarks(model_dir=None):
    """The landmark net with face-api.js' pretrained weights read from the npm package's shards."""
    return FaceApiLandmarks68(name="face_api_landmarks68").load_face_api_weights(
        read_face_api_weights(LANDMARK_MODEL, model_dir))


def five_points(landmarks):
    """(N, 68, 2) -> (N, 5, 2): left eye centre, right eye centre, nose tip, left and right
    mouth corner (the order of `face_template`'s five points)."""
    landmarks = np.asarray(landmarks)
    return np.stack([landmarks[:, list(LEFT_EYE)].mean(1), landmarks[:, list(RIGHT_EYE)].mean(1),
                     landmarks[:, NOSE_TIP], landmarks[:, LEFT_MOUTH], landmarks[:, RIGHT_MOUTH]], axis=1)
