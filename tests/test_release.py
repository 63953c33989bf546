"""The release recipe (release.py): its wall-time ledger across interruptions and its preset. The
package it writes is tested as shipped, in test_pretrained."""

import json

import pytest

from c2fdan_tf import release
from c2fdan_tf.data.occluders.families import parse_mix
from c2fdan_tf.training.config import resolve_config


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_the_ledger_counts_work_across_runs_and_leaves_pauses_out(tmp_path, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(release.time, "monotonic", clock)
    monkeypatch.setattr(release, "_TICK_SECONDS", 3600.0)  # the test ticks by hand
    path = tmp_path / "wall_time.json"
    with release.WallTimeLedger(path) as first:
        first.set_stage("coarse")
        for _ in range(4):  # 4 x 5 s of work
            clock.now += 5.0
            first._tick()
        clock.now += 600.0  # suspended for 10 minutes (SIGSTOP): one tick's worth counted, not 600 s
        first._tick()
        first.set_stage("full")
        clock.now += 7.0
        first._tick()
    recorded = json.loads(path.read_text())
    assert recorded["invocations"][0]["stages"] == {"coarse": pytest.approx(20.0 + release._TICK_SECONDS),
                                                     "full": pytest.approx(7.0)}
    # A second run of the command (after a kill) adds its own invocation; the totals sum both.
    with release.WallTimeLedger(path) as second:
        second.set_stage("full")
        clock.now += 11.0
        second._tick()
        totals = second.totals()
    assert len(json.loads(path.read_text())["invocations"]) == 2
    assert totals["full"] == pytest.approx(18.0)
    assert totals["total"] == pytest.approx(20.0 + release._TICK_SECONDS + 7.0 + 11.0)
    path.write_text("{not json")  # a damaged ledger starts afresh instead of failing the run
    with release.WallTimeLedger(path) as fresh:
        assert fresh.totals()["total"] == 0.0


def test_the_release_preset_trains_on_clean_faces_too_and_backs_up_often():
    for stage in release.RELEASE_STAGES:
        config = resolve_config("release", stage, {})
        assert config.runtime.backup_every_steps == 300
    mix = parse_mix(config.data.occluders)
    assert mix["clean"] == pytest.approx(0.1 / 1.1) and mix["paper"] == pytest.approx(0.5 / 1.1)
    small = resolve_config("small", "full", {})
    steps = lambda c: sum(s.epochs * s.steps_per_epoch for s in (c.schedule.coarse, c.schedule.full))  # noqa: E731
    assert steps(config) >= 6 * steps(small)
