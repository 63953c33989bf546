"""Counts a model's forward floating-point operations from its TF graph.

Uses TensorFlow's graph profiler on the frozen graph, so the count is independent
of how the layers are written (convolutions, batched matmuls of the attention).
One multiply-accumulate = 2 FLOPs.
"""

import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2
from tensorflow.python.util import deprecation


def forward_flops(model, input_shapes, batch_size=1):
    """FLOPs of one forward pass of `model` on inputs of the given shapes (no batch)."""
    specs = [tf.TensorSpec((batch_size,) + tuple(shape), tf.float32) for shape in input_shapes]

    def forward(*inputs):
        return model(list(inputs) if len(inputs) > 1 else inputs[0], training=False)

    frozen = convert_variables_to_constants_v2(tf.function(forward).get_concrete_function(*specs))
    with deprecation.silence():  # the profiler is a v1 API and says so on every call
        options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
        options["output"] = "none"
        return tf.compat.v1.profiler.profile(graph=frozen.graph, options=options).total_float_ops


def generator_cost_rows(width=64, attention="both"):
    """[(name, parameters, MACs per image)] of the coarse net, the fine net and the whole generator."""
    from c2fdan_tf.face_template import IMAGE_SIZE
    from c2fdan_tf.models import Generator

    image, mask = (IMAGE_SIZE, IMAGE_SIZE, 3), (IMAGE_SIZE, IMAGE_SIZE, 1)
    generator = Generator(width=width, attention=attention)
    parts = [
        ("coarse network", generator.coarse_network, [image]),
        ("fine network", generator.fine_network, [image, mask]),
        ("generator", generator, [image]),
    ]
    return [(name, m.count_params(), forward_flops(m, shapes) // 2) for name, m, shapes in parts]


def cost_table(rows):
    lines = ["| sub-network | parameters | GMACs / image |", "|---|---:|---:|"]
    lines += [f"| {name} | {params:,} | {macs / 1e9:.2f} |" for name, params, macs in rows]
    return "\n".join(lines)
