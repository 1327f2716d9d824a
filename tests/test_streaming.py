"""Streaming counting on synthetic score traces: hits, misses, false accepts, refractory merging, edges."""

import numpy as np
import pytest

from edgeprune.errors import EdgepruneError
from edgeprune.streaming import count_events, detections

HOP = 0.1


def trace(duration, bumps):
    """Scores every HOP s from 1.3 s (first full window) to `duration`: 0.1, and `value` inside each (t0, t1, value)."""
    t = np.round(np.arange(1.3, duration + 1e-9, HOP), 6)
    s = np.full(t.shape, 0.1)
    for t0, t1, value in bumps:
        s[(t >= t0 - 1e-9) & (t <= t1 + 1e-9)] = value
    return t, s


def test_detections_merge_within_the_refractory_period():
    t, s = trace(20, [(5.0, 5.6, 0.9), (9.0, 9.0, 0.8)])
    assert detections(t, s, 0.5, refractory=1.0).tolist() == [5.0, 9.0]
    # no refractory: every firing window is a detection (7 at 5.0..5.6, 1 at 9.0)
    assert len(detections(t, s, 0.5, refractory=0.0)) == 8
    # a refractory shorter than the bump: 5.0, then 5.3 (0.3 s later), then 5.6
    assert detections(t, s, 0.5, refractory=0.3).tolist() == [5.0, 5.3, 5.6, 9.0]
    # the threshold is inclusive and the lower score never fires
    assert detections(t, s, 0.8, refractory=1.0).tolist() == [5.0, 9.0]
    assert detections(t, s, 0.85, refractory=1.0).tolist() == [5.0]


def test_refractory_counts_from_the_last_detection_not_the_last_firing():
    t, s = trace(20, [(5.0, 7.0, 0.9)])  # a long firing run: one detection per refractory period
    assert detections(t, s, 0.5, refractory=1.0).tolist() == [5.0, 6.0, 7.0]


def test_hits_misses_false_accepts_and_duplicates():
    events = [(4.0, 5.0), (10.0, 11.0), (20.0, 21.0)]
    # word 1 hit at 5.4; 6.5 is past its window [4, 6.3]: a false accept; word 2 hit at 11.2 and again at
    # 12.0 (a duplicate); word 3 missed; a false accept at 15
    found = [5.4, 6.5, 11.2, 12.0, 15.0]
    c = count_events(found, events, duration_s=3600.0, tolerance=1.3)
    assert (c["hits"], c["misses"], c["false_accepts"], c["duplicates"]) == (2, 1, 2, 1)
    assert c["hit_times"] == [5.4, 11.2, None]
    assert c["false_accept_times"] == [6.5, 15.0] and c["duplicate_times"] == [12.0]
    assert c["false_accepts_per_hour"] == pytest.approx(2.0) and c["misses_per_hour"] == pytest.approx(1.0)
    assert c["miss_rate"] == pytest.approx(1 / 3) and c["events"] == 3 and c["detections"] == 5


def test_tolerance_window_edges_are_inclusive():
    events = [(4.0, 5.0)]
    assert count_events([4.0], events, 60, 1.0)["hits"] == 1  # at the start
    assert count_events([6.0], events, 60, 1.0)["hits"] == 1  # at end + tolerance
    early = count_events([3.99], events, 60, 1.0)
    late = count_events([6.01], events, 60, 1.0)
    assert (early["hits"], early["false_accepts"], late["hits"], late["false_accepts"]) == (0, 1, 0, 1)


def test_overlapping_windows_give_each_word_one_hit():
    events = [(4.0, 5.0), (5.5, 6.5)]  # windows [4, 6.3] and [5.5, 7.8] overlap
    c = count_events([5.0, 6.0], events, 60, 1.3)
    assert c["hit_times"] == [5.0, 6.0] and c["false_accepts"] == 0


def test_planted_events_found_exactly_through_the_trace():
    """End to end on a trace: every planted word fires for a few windows after it ends; one spurious bump."""
    events = [(3.0, 4.1), (12.0, 13.0), (25.0, 26.2)]
    bumps = [(e1, e1 + 0.4, 0.95) for _, e1 in events] + [(18.0, 18.1, 0.7)]
    t, s = trace(30.0, bumps)
    found = detections(t, s, 0.6, refractory=1.0)
    c = count_events(found, events, 30.0, tolerance=1.3)
    assert (c["hits"], c["misses"], c["false_accepts"], c["duplicates"]) == (3, 0, 1, 0)
    assert c["false_accept_times"] == [18.0]
    # a higher threshold drops the spurious bump; an even higher one misses everything
    assert count_events(detections(t, s, 0.8, 1.0), events, 30.0, 1.3)["false_accepts"] == 0
    none = count_events(detections(t, s, 0.99, 1.0), events, 30.0, 1.3)
    assert (none["hits"], none["misses"], none["detections"]) == (0, 3, 0)


def test_edge_of_recording():
    """A word whose firing starts in the last window is a hit; firing in the first window is counted."""
    t, s = trace(10.0, [(1.3, 1.3, 0.9), (10.0, 10.0, 0.9)])
    found = detections(t, s, 0.5, refractory=2.0)
    assert found.tolist() == [1.3, 10.0]
    c = count_events(found, [(0.2, 1.2), (9.0, 9.9)], 10.0, tolerance=1.3)
    assert c["hits"] == 2 and c["false_accepts"] == 0
    # a word that ends after the last window (never fully heard) and never fires is a miss
    c = count_events([], [(9.5, 10.4)], 10.0, tolerance=1.3)
    assert c["misses"] == 1 and c["miss_rate"] == 1.0 and c["false_accepts_per_hour"] == 0.0


def test_empty_recording_has_no_miss_rate():
    c = count_events([1.0], [], 3600.0, 1.3)
    assert c["miss_rate"] is None and c["false_accepts"] == 1


def test_bad_traces_and_settings_are_refused():
    with pytest.raises(EdgepruneError, match="2 times but 3 scores"):
        detections([0, 1], [0.1, 0.2, 0.3], 0.5, 1.0)
    with pytest.raises(EdgepruneError, match="must increase"):
        detections([1, 1], [0.1, 0.2], 0.5, 1.0)
    with pytest.raises(EdgepruneError, match="NaN"):
        detections([0, 1], [0.1, float("nan")], 0.5, 1.0)
    with pytest.raises(EdgepruneError, match="refractory period must be >= 0"):
        detections([0, 1], [0.1, 0.2], 0.5, -1.0)
    with pytest.raises(EdgepruneError, match="tolerance must be >= 0"):
        count_events([], [(1, 2)], 10, -0.5)
    with pytest.raises(EdgepruneError, match="end after it starts"):
        count_events([], [(2, 1)], 10, 0.5)


# ---- end to end: a stand-in model over a synth stream -------------------------------------------------

STATS = {"fbank": {"mean": [-8.0] * 40, "std": [2.0] * 40}}  # raw log-mel energy e -> (e + 8) / 2


def energy_source(level=2.0, frames=128):
    """A model we control: fires when the loudest 50 ms (mean normalised log-mel) of the window exceeds
    `level`. Speech 30 dB above the background peaks above -3 raw (2.5 normalised), the background stays
    under -5 raw (1.5 normalised)."""
    import torch

    from edgeprune.streaming.source import ModelSource

    def predict(feeds):
        e = torch.as_tensor(feeds["fbank"]).mean(-1)
        e = torch.nn.functional.avg_pool1d(e[:, None], 5, 1)[:, 0]
        return torch.sigmoid(4.0 * (e.amax(1) - level)).double().numpy()

    return ModelSource(name="energy", kind="checkpoint", inputs=("fbank",), frames=frames, threshold=0.5,
                       feature_stats=STATS, predict=predict)


@pytest.fixture(scope="module")
def loud_stream():
    from edgeprune.data.synth_stream import synth_stream

    return synth_stream(seed=5, minutes=1.0, wake_per_minute=4, other_per_minute=5, snrs=(30.0,))


def test_stream_finds_exactly_the_planted_utterances(loud_stream):
    from edgeprune.streaming.evaluate import evaluate_stream

    r = evaluate_stream(energy_source(), loud_stream, hop_s=0.1, refractory_s=3.0)
    assert r["max_score"] > 0.99 and 0 < r["detections"] < r["windows"]  # the stand-in's output varies
    kinds = loud_stream["info"]["utterance_kinds"]
    assert (r["events"], kinds["wake"]) == (4, 4)
    # the energy model fires once per utterance: 4 hits on wake words, one false accept per other utterance
    assert (r["hits"], r["misses"], r["duplicates"]) == (4, 0, 0)
    assert r["false_accepts"] == sum(kinds.values()) - 4 == 5
    for (start, end), hit in zip(loud_stream["events"], r["hit_times"]):
        assert start <= hit <= start + 0.3  # the first window that hears the onset
    others = sorted(u["start"] for u in loud_stream["utterances"] if u["kind"] != "wake")
    assert all(0 <= fa - s <= 0.3 for fa, s in zip(r["false_accept_times"], others))
    assert r["false_accepts_per_hour"] == pytest.approx(5 * 60.0)
    assert r["windows"] == int((60.0 - 1.295) / 0.1 + 1e-6) + 1 and r["window_s"] == pytest.approx(1.295)
    assert r["per_snr"] == {30.0: {"events": 4, "hits": 4, "misses": 0, "miss_rate": 0.0}}


def test_stream_short_refractory_splits_detections_and_a_deaf_model_misses_all(loud_stream):
    from edgeprune.streaming.evaluate import evaluate_stream

    short = evaluate_stream(energy_source(), loud_stream, hop_s=0.1, refractory_s=0.0)
    assert short["hits"] == 4 and short["duplicates"] > 4  # every firing window is its own detection
    deaf = evaluate_stream(energy_source(level=50.0), loud_stream, hop_s=0.1, refractory_s=3.0)
    assert (deaf["hits"], deaf["misses"], deaf["false_accepts"], deaf["miss_rate"]) == (0, 4, 0, 1.0)
    assert deaf["max_score"] < 1e-6


def test_stream_uses_the_models_feature_stats(loud_stream):
    """Without the stored normalisation the raw energies (< 0) never reach the level: nothing is found."""
    from edgeprune.streaming.evaluate import evaluate_stream

    src = energy_source()
    src.feature_stats = {"fbank": {"mean": [0.0] * 40, "std": [1.0] * 40}}
    assert evaluate_stream(src, loud_stream, hop_s=0.1, refractory_s=3.0)["hits"] == 0


def test_stream_hop_must_be_whole_frames(loud_stream):
    from edgeprune.streaming.evaluate import evaluate_stream, hop_frames

    assert hop_frames(0.1) == 10 and hop_frames(0.01) == 1 and hop_frames(1.3) == 130
    for bad in (0.0, -0.1, 0.015, float("nan")):
        with pytest.raises(EdgepruneError, match="--hop must be a positive multiple of the 0.01 s"):
            evaluate_stream(energy_source(), loud_stream, hop_s=bad, refractory_s=1.0)


def test_stream_refuses_models_with_lips(loud_stream):
    from edgeprune.streaming.evaluate import evaluate_stream

    src = energy_source()
    src.inputs = ("fbank", "lips")
    with pytest.raises(EdgepruneError, match="needs an audio-only model"):
        evaluate_stream(src, loud_stream, hop_s=0.1, refractory_s=1.0)
