"""Running the project's top-level commands in tests, as a user would."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_script(script, tmp_path, *args, timeout=600, extra_env=None):
    """Runs ROOT/script with a bare environment and a face cache of its own under tmp_path."""
    env = {"C2FDAN_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin", **(extra_env or {})}
    return subprocess.run([sys.executable, str(ROOT / script), *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=timeout)


def assert_one_line_error(result, *fragments):
    """The command failed with a single `error: ...` line (no traceback) naming every fragment."""
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "Traceback" not in result.stderr, result.stderr[-1500:]
    for fragment in fragments:
        assert fragment in last, last
