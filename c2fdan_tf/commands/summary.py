"""Prints parameters and multiply-accumulates per sub-network of the generator.

    python -m c2fdan_tf.commands.summary --width=64 --attention=both
"""

import sys

from absl import app, flags

from c2fdan_tf import console

_WIDTH = flags.DEFINE_integer("width", 64, "Base channel count (64 = paper).")
_ATTENTION = flags.DEFINE_enum("attention", "both", ["both", "self", "cross", "none"], "Attention branches.")
console.define_verbose_flag()


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    from c2fdan_tf.compute_cost import cost_table, generator_cost_rows

    print(f"C2FDAN generator, width {_WIDTH.value}, attention {_ATTENTION.value}, 112x112 input")
    print(cost_table(generator_cost_rows(_WIDTH.value, _ATTENTION.value)))
    print("Paper (width 64): coarse network ~4.1 M parameters; BVMR baseline 20.5 M.")


if __name__ == "__main__":
    console.start(sys.argv)
    app.run(main)
