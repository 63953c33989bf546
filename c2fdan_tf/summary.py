"""Prints parameters and multiply-accumulates per sub-network of the generator.

    python -m c2fdan_tf.summary --width=64 --attention=both
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

from c2fdan_tf.face_template import IMAGE_SIZE  # noqa: E402
from c2fdan_tf.models import ATTENTION_VARIANTS  # noqa: E402

_WIDTH = flags.DEFINE_integer("width", 64, "Base channel count (64 = paper).")
_ATTENTION = flags.DEFINE_enum("attention", "both", ATTENTION_VARIANTS, "Attention branches.")

IMAGE = (IMAGE_SIZE, IMAGE_SIZE, 3)
MASK = (IMAGE_SIZE, IMAGE_SIZE, 1)


def summary_rows(width=64, attention="both"):
    """[(name, parameters, MACs)] for the coarse net, the fine net and the whole generator."""
    from c2fdan_tf.compute_cost import forward_flops
    from c2fdan_tf.models import Generator

    generator = Generator(width=width, attention=attention)
    parts = [
        ("coarse network", generator.coarse_network, [IMAGE]),
        ("fine network", generator.fine_network, [IMAGE, MASK]),
        ("generator", generator, [IMAGE]),
    ]
    return [(name, m.count_params(), forward_flops(m, shapes) // 2) for name, m, shapes in parts]


def format_table(rows):
    lines = ["| sub-network | parameters | GMACs / image |", "|---|---:|---:|"]
    lines += [f"| {name} | {params:,} | {macs / 1e9:.2f} |" for name, params, macs in rows]
    return "\n".join(lines)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    print(f"C2FDAN generator, width {_WIDTH.value}, attention {_ATTENTION.value}, 112x112 input")
    print(format_table(summary_rows(_WIDTH.value, _ATTENTION.value)))
    print("Paper (width 64): coarse network ~4.1 M parameters; BVMR baseline 20.5 M.")


if __name__ == "__main__":
    app.run(main)
