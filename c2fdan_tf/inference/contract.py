"""The generator's serving contract, defined once: input and output names,
dtypes, shapes and value ranges.

Every form of the generator (Keras, SavedModel, TFLite, ONNX) takes `image`
and returns these named outputs; `serving_outputs` maps the Keras generator's
output dict onto them, and `io_spec` describes them for manifests.
"""

import dataclasses

from c2fdan_tf.face_template import IMAGE_SIZE

INPUT_NAME = "image"
MASK_INPUT_NAME = "mask"  # the given-mask model's second input (1 = complete here)


@dataclasses.dataclass(frozen=True)
class ServingOutput:
    name: str  # the name in every exported signature
    generator_key: str  # the key in the Keras Generator's output dict
    channels: int
    meaning: str


OUTPUTS = (
    ServingOutput("completed", "completed", 3, "final completed face I_f,r (Eq. 2)"),
    ServingOutput("mask", "mask", 1, "predicted occlusion mask M, 1 = occluded"),
    ServingOutput("coarse", "coarse_completed", 3, "coarse completed face I_c,r"),
)
OUTPUT_NAMES = tuple(output.name for output in OUTPUTS)
VALUE_RANGE = (0.0, 1.0)  # float32, inputs and outputs alike


def serving_outputs(generator_outputs):
    """{serving name: tensor} from the Keras Generator's output dict."""
    return {output.name: generator_outputs[output.generator_key] for output in OUTPUTS}


def io_spec(batch, given_mask=False):
    """(inputs, outputs) descriptions for a manifest; `batch` None = any. `given_mask`: the
    model completing inside a mask it is given (a second input `mask`)."""
    shape = [batch, IMAGE_SIZE, IMAGE_SIZE]
    inputs = [{"name": INPUT_NAME, "shape": shape + [3], "dtype": "float32", "range": list(VALUE_RANGE)}]
    if given_mask:
        inputs.append({"name": MASK_INPUT_NAME, "shape": shape + [1], "dtype": "float32", "range": list(VALUE_RANGE),
                       "meaning": "where to complete, 1 = occluded (e.g. the predicted mask, corrected)"})
    outputs = [
        {"name": o.name, "shape": shape + [o.channels], "dtype": "float32", "range": list(VALUE_RANGE),
         "meaning": o.meaning}
        for o in OUTPUTS
    ]
    return inputs, outputs
