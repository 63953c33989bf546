"""A stage's folder in the work directory: what is finished, what can resume.

    WORKDIR/<stage>/  config.json (the resolved configuration), done.json (written
                      last: the stage finished), backup/ (while running: weights,
                      optimizer states and epoch for BackupAndRestore), log.csv,
                      samples/, tensorboard/, <prefix>_best.keras, <prefix>_last.keras
                      workers/<task>/ (--strategy=multi_worker, every worker but the
                      chief: its own backup/ and done.json; the chief writes the rest)
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
    """WORKDIR/<stage> as seen by one process: `worker` is the name of a multi-worker task
    that is not the chief (None: the chief or a single process, which write the stage's files)."""

    def __init__(self, workdir, stage, worker=None):
        self.workdir = Path(workdir)
        self.stage = stage
        self.path = self.workdir / stage
        self.writes_results = worker is None
        self.own = self.path if worker is None else self.path / "workers" / worker

    @property
    def backup(self):
        return self.own / "backup"

    def finished(self):
        """The summary of a finished stage, or None."""
        done = self.own / "done.json"
        return json.loads(done.read_text()) if done.exists() else None

    def prepare(self, config, restart=False):
        """Creates the folder (emptied first with `restart`) and writes config.json."""
        if restart and self.own.exists():
            shutil.rmtree(self.own)
        self.own.mkdir(parents=True, exist_ok=True)
        if self.writes_results:
            (self.path / "config.json").write_text(config.to_json())

    def finish(self, summary):
        (self.own / "done.json").write_text(json.dumps(summary, indent=1, default=float))
        return StageResult(self.stage, self.path, False, summary)


# The network each stage saves, as WORKDIR/<stage>/<prefix>_best.keras and <prefix>_last.keras.
CHECKPOINT_PREFIX = {"extractor": "extractor", "coarse": "generator", "full": "generator", "bvmr": "bvmr",
                     "extractor_occ": "extractor"}


def stage_checkpoint(workdir, stage, which="best"):
    """The path of stage `stage`'s best (or "last") checkpoint in `workdir`, existing or not."""
    return Path(workdir) / stage / f"{CHECKPOINT_PREFIX[stage]}_{which}.keras"


def best_checkpoint(workdir, stage):
    """WORKDIR/<stage>/<prefix>_best.keras if a previous stage left one, else None."""
    path = stage_checkpoint(workdir, stage)
    return path if path.exists() else None
