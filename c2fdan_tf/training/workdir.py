"""A stage's folder in the work directory: what is finished, what can resume.

    WORKDIR/<stage>/  config.json (the resolved configuration), done.json (written
                      last: the stage finished), backup/ (while running: weights,
                      optimizer states and epoch for BackupAndRestore), log.csv,
                      samples/, tensorboard/, <prefix>_best.keras, <prefix>_last.keras
"""

import dataclasses
import json
import shutil
from pathlib import Path


@dataclasses.dataclass
class StageResult:
    stage: str
    directory: Path
    skipped: bool
    summary: dict


class StageDirectory:
    def __init__(self, workdir, stage):
        self.workdir = Path(workdir)
        self.stage = stage
        self.path = self.workdir / stage

    @property
    def backup(self):
        return self.path / "backup"

    def finished(self):
        """The summary of a finished stage, or None."""
        done = self.path / "done.json"
        return json.loads(done.read_text()) if done.exists() else None

    def prepare(self, config, restart=False):
        """Creates the folder (emptied first with `restart`) and writes config.json."""
        if restart and self.path.exists():
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / "config.json").write_text(config.to_json())

    def resume_epoch(self):
        """Epochs already trained by an interrupted run (0 for a fresh one)."""
        try:
            return int(json.loads((self.backup / "training_metadata.json").read_text())["epoch"])
        except (OSError, ValueError, KeyError):
            return 0

    def finish(self, summary):
        (self.path / "done.json").write_text(json.dumps(summary, indent=1, default=float))
        return StageResult(self.stage, self.path, False, summary)


def best_checkpoint(workdir, stage, prefix):
    """WORKDIR/<stage>/<prefix>_best.keras if a previous stage left one, else None."""
    path = Path(workdir) / stage / f"{prefix}_best.keras"
    return path if path.exists() else None
