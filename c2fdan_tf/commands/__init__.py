"""Command lines other than the top-level binaries (train.py, eval.py, export.py, demo.py).

Each is run with `python -m c2fdan_tf.commands.<name>`; each module holds only
flags, argument checks and printing, and calls the library. No module of the
library, and no other command, imports one of them (importing a command would
register its flags in the importer).
"""
