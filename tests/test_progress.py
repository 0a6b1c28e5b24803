"""Progress that tells the truth: a job's phases in order, and a sweep's time left from measured job times."""

from __future__ import annotations


from lambda_hat import progress
from lambda_hat.config import load
from lambda_hat.config.plan import sampler_document, target_document
from lambda_hat.sampling import sample
from lambda_hat.targets import build


def test_a_job_reports_compiling_warmup_then_its_draws(write_yaml, tmp_path):
    config = load(write_yaml("targets: [{ model: tiny, data: tiny, seed: 1 }]\n"
                             "samplers: [{ name: hmc, overrides: { draws: 40, warmup: 20, chains: 2 } }]\n"))
    folder, _ = build(target_document(config.targets[0]), tmp_path / "store")
    calls = []
    sample(folder, sampler_document(config.samplers[0]), progress=lambda *call: calls.append(call))
    phases = [phase for _, _, phase in calls]
    assert phases[:3] == ["compiling", "warm-up", "compiling draws"] and set(phases[3:]) == {"sampling"}
    draws = [done for done, _, phase in calls if phase == "sampling"]
    assert draws == sorted(draws) and draws[-1] == 40 and all(total == 40 for _, total, _ in calls)


def test_sweep_time_left_comes_from_each_kind_of_job():
    assert progress.eta({"build": 1, "sample": 4}, {"build": [], "sample": [10.0]}) is None    # no build measured
    assert progress.eta({"build": 1, "sample": 4}, {"build": [2.0, 4.0], "sample": [10.0, 30.0]}) == 83.0
    assert progress.eta({"build": 0, "sample": 4}, {"build": [], "sample": [10.0]}, workers=2) == 20.0


def test_a_jobs_time_left_follows_its_draw_rate(monkeypatch):
    clock = iter([0.0, 10.0, 20.0])
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))
    rate = progress.JobRate()
    assert rate(0, 100, "warm-up") == ""
    assert rate(10, 100, "sampling") == ""                 # the first chunk only starts the clock
    assert rate(20, 100, "sampling") == "0:01:20 left"     # 1 s per draw, 80 to go
    assert rate(30, 100, "sampling") == "0:01:10 left"
