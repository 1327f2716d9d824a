"""device_bench.bench() end to end with fake runners on a fake clock: run counts sized by each model's own
latency (issue 15), and --max-seconds bounding warm-up and timed runs together (no real timings asserted)."""

import pytest

from edgeprune.device_bench import bench as bench_module
from edgeprune.device_bench.measure import Budget
from edgeprune.device_bench.runners import Runner


class FakeClock:
    def __init__(self):
        self.now = 0

    def __call__(self):
        return self.now


class FakeRunner(Runner):
    """A "model" whose every inference advances the fake clock by `cost_ms` and is counted."""

    runtime = "ort"
    version = "fake"

    def __init__(self, path, clock, cost_ms):
        super().__init__(path, [], [], {})
        self.clock, self.cost_ns, self.calls = clock, int(cost_ms * 1e6), 0

    def run(self):
        self.calls += 1
        self.clock.now += self.cost_ns


@pytest.fixture
def fake_session(tmp_path, monkeypatch):
    """bench_on(costs_ms, budget) -> (result, clock, runners): fake models a.onnx, b.onnx, ... with those
    latencies, measured by the real bench() loop."""

    def bench_on(costs_ms, budget, clock_name="wall"):
        clock, runners = FakeClock(), {}
        paths = []
        for i, cost in enumerate(costs_ms):
            path = tmp_path / f"m{i}.onnx"
            path.write_bytes(b"fake")
            paths.append(str(path))
            runners[str(path)] = FakeRunner(str(path), clock, cost)
        monkeypatch.setattr(bench_module, "import_runtime", lambda rt: None)
        monkeypatch.setattr(bench_module, "runtime_version", lambda rt: "fake")
        monkeypatch.setattr(bench_module, "open_runner", lambda path, *a: runners[path])
        if clock_name == "thread-cpu":  # the runners advance the thread CPU clock; the wall clock stands still
            monkeypatch.setattr(bench_module.time, "thread_time_ns", clock)
            result = bench_module.bench(paths, "ort", 1, budget, clock=FakeClock(), clock_name=clock_name)
        else:
            result = bench_module.bench(paths, "ort", 1, budget, clock=clock)
        return result, clock, [runners[p] for p in paths]

    return bench_on


def test_models_ten_times_apart_end_near_min_seconds_each(fake_session):
    budget = Budget(warmup=10, min_runs=50, min_seconds=2.0, max_seconds=120, block=10)
    result, clock, runners = fake_session([1.0, 10.0], budget)
    fast, slow = result["models"]
    assert fast["latency_ms"]["count"] == 2000 and slow["latency_ms"]["count"] == 200
    assert fast["stopped_by"] == slow["stopped_by"] == "min_runs_and_min_seconds"
    assert fast["measured_s"] >= 2.0 and slow["measured_s"] >= 2.0
    # The whole call (first runs, warm-up, timed runs) on the fake clock: within 1.5x of min-seconds x models.
    assert clock.now <= 1.5 * 2.0 * 2 * 1e9
    # Every inference the runners did is accounted for: first run + warm-up + timed runs.
    for entry, runner in zip(result["models"], runners):
        assert runner.calls == 1 + entry["warmup_runs"] + entry["latency_ms"]["count"]


def test_max_seconds_bounds_warm_up_and_timed_runs(fake_session):
    # Two 1 s models, 10 warm-up runs and min 50 runs each: with equal blocks and an unbounded warm-up this
    # took 40 s of a `--max-seconds 1` budget; now: one first run and one timed run each.
    budget = Budget(warmup=10, min_runs=50, min_seconds=2.0, max_seconds=1.0, block=10)
    result, clock, runners = fake_session([1000.0, 1000.0], budget)
    assert [m["warmup_runs"] for m in result["models"]] == [0, 0]
    assert [m["latency_ms"]["count"] for m in result["models"]] == [1, 1]
    assert {m["stopped_by"] for m in result["models"]} == {"max_seconds"}
    assert clock.now == 4 * 1e9
    assert [r.calls for r in runners] == [2, 2]


def test_max_seconds_cuts_warm_up_short(fake_session):
    budget = Budget(warmup=10, min_runs=5, min_seconds=0, max_seconds=0.0305, block=5)
    result, clock, _ = fake_session([10.0], budget)
    entry = result["models"][0]
    # 10 ms first run, then warm-up until 30.5 ms (3 runs), then the one timed run the result needs.
    assert entry["warmup_runs"] == 3 and entry["latency_ms"]["count"] == 1 and entry["stopped_by"] == "max_seconds"


def test_thread_cpu_clock_times_with_the_threads_cpu_time(fake_session):
    budget = Budget(warmup=2, min_runs=20, min_seconds=0.05, max_seconds=120, block=5)
    result, clock, runners = fake_session([2.0, 4.0], budget, clock_name="thread-cpu")
    assert result["settings"]["clock"] == "thread-cpu"
    assert [m["latency_ms"]["p50"] for m in result["models"]] == [pytest.approx(2.0), pytest.approx(4.0)]
    assert clock.now > 0 and all(r.calls >= 20 for r in runners)


@pytest.mark.parametrize("threads, runtime, path", [(2, "ort", "m.onnx"), (1, "litert", "m.tflite")])
def test_thread_cpu_clock_is_refused_where_it_misses_compute(tmp_path, threads, runtime, path):
    from edgeprune.device_bench.errors import BenchError

    model = tmp_path / path
    model.write_bytes(b"fake")
    with pytest.raises(BenchError, match="--clock thread-cpu needs onnxruntime .* and --threads 1"):
        bench_module.bench([str(model)], runtime, threads, Budget(), clock_name="thread-cpu")
