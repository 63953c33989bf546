"""The package's layering and the command lines' conventions, checked on the source."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.commands import ROOT

PACKAGE = ROOT / "c2fdan_tf"


def imported_modules(path):
    """Every c2fdan_tf module a file imports, at the top or inside functions."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in names if name.startswith("c2fdan_tf")}


def modules_under(*parts):
    return {path: imported_modules(path) for path in PACKAGE.joinpath(*parts).rglob("*.py")}


def defines_flags(path):
    """True when the module registers absl flags as it is imported (module-level code)."""
    for statement in ast.parse(path.read_text()).body:
        if isinstance(statement, ast.If):  # `if __name__ == "__main__":` runs only as a program
            continue
        for node in ast.walk(statement):
            if isinstance(node, ast.FunctionDef):
                break
            if isinstance(node, ast.Attribute) and node.attr.startswith("DEFINE_"):
                return True
            if isinstance(node, ast.Attribute) and node.attr == "define_verbose_flag":
                return True
    return False


def test_only_command_modules_define_flags_and_nothing_imports_a_command():
    commands = {p for p in PACKAGE.rglob("*.py") if defines_flags(p)}
    assert commands and all(p.parent == PACKAGE / "commands" for p in commands), sorted(map(str, commands))
    for path, imports in modules_under().items():
        offending = {name for name in imports if name.startswith("c2fdan_tf.commands")}
        assert not offending, (path, offending)


def test_inference_evaluation_and_training_do_not_import_export():
    for part in ("inference", "evaluation", "training"):
        for path, imports in modules_under(part).items():
            assert not {n for n in imports if n.startswith("c2fdan_tf.export")}, path


def test_data_and_layers_import_nothing_of_the_model_side():
    model_side = ("c2fdan_tf.models", "c2fdan_tf.training", "c2fdan_tf.evaluation", "c2fdan_tf.export",
                  "c2fdan_tf.inference", "c2fdan_tf.losses")
    for part in ("data", "layers"):
        for path, imports in modules_under(part).items():
            assert not {n for n in imports if n.startswith(model_side)}, path


NOISE = ("WARNING: All log messages", "I0000", "W0000", "E0000")


def noisy_lines(text):
    return [line for line in text.splitlines() if line.startswith(NOISE) or "oneDNN" in line]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    import keras

    from c2fdan_tf.models import Generator

    folder = tmp_path_factory.mktemp("quiet")
    keras.utils.set_random_seed(0)
    generator = Generator(width=4)
    generator.save(folder / "generator.keras")
    face = np.random.default_rng(0).integers(0, 255, (112, 112, 3), dtype=np.uint8)
    Image.fromarray(face).save(folder / "face.png")
    return folder


def run_complete(folder, *extra):
    """The installed console script `c2fdan-complete`, as a user runs it."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    script = Path(sys.executable).parent / "c2fdan-complete"
    assert script.exists(), f"{script} is missing: install the package (make setup)"
    return subprocess.run(
        [str(script), f"--model={folder / 'generator.keras'}",
         f"--input={folder / 'face.png'}", f"--output={folder / 'out'}", "--overwrite", *extra],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)


def test_complete_prints_only_its_own_lines_unless_verbose(tiny_model):
    quiet = run_complete(tiny_model)
    assert quiet.returncode == 0, quiet.stderr[-2000:]
    assert noisy_lines(quiet.stdout + quiet.stderr) == []
    assert "1 of 1 input(s) processed" in quiet.stdout
    # The same run with --verbose shows TensorFlow's start-up lines: the filter is what hid them.
    verbose = run_complete(tiny_model, "--verbose")
    assert verbose.returncode == 0 and noisy_lines(verbose.stderr)


FILTER_SCRIPT = """
import os, sys
from c2fdan_tf import console
console.filter_native_logs()
os.write(2, b"I0000 00:00:1795619371.390027    2235 port.cc:153] oneDNN custom operations are on.\\n")
os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n")
os.write(2, b"E0000 00:00:1795619371.390027    2235 meta_optimizer.cc:967] remapper failed: INVALID_ARG\\n")
os.write(2, b"F0000 00:00:1795619371.390027    2235 check.cc:1] a fatal line stays\\n")
os.write(2, b"W1204 03:50:24.990123 140234 image_files.py:217] faces/a.jpg is not 112x112 and was resized\\n")
os.write(2, b"step 1\\rstep 2\\r")
print("my own warning", file=sys.stderr)
sys.exit("error: the last line")
"""


def test_the_stderr_filter_drops_native_log_lines_and_keeps_the_rest():
    result = subprocess.run([sys.executable, "-c", FILTER_SCRIPT], capture_output=True, cwd=ROOT, timeout=60)
    assert result.returncode == 1
    assert result.stderr == (b"F0000 00:00:1795619371.390027    2235 check.cc:1] a fatal line stays\n"
                             # absl's Python log lines (the project's own warnings) look native but pass
                             b"W1204 03:50:24.990123 140234 image_files.py:217] faces/a.jpg is not 112x112 and was resized\n"
                             b"step 1\rstep 2\rmy own warning\nerror: the last line\n")
