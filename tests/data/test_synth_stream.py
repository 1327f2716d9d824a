"""The synth stream: deterministic from its seed, wake words where it says they are, speakers of its own."""

import numpy as np
import pytest

from edgeprune.data.synth_corpus import SPLIT_CODES
from edgeprune.data.synth_speech import SR, WAKE
from edgeprune.data.synth_stream import STREAM_CODE, synth_stream
from edgeprune.errors import EdgepruneError


@pytest.fixture(scope="module")
def loud():
    """Speech 30 dB above the background, so speech and silence are told apart by energy alone."""
    return synth_stream(seed=3, minutes=1.0, wake_per_minute=4, other_per_minute=4, snrs=(30.0,))


def _rms(wave, a, b):
    x = wave[int(a * SR) : int(b * SR)].astype(np.float64)
    return float(np.sqrt(np.mean(x**2)))


def test_same_seed_same_stream_other_seed_other_stream():
    a = synth_stream(seed=1, minutes=0.5)
    b = synth_stream(seed=1, minutes=0.5)
    c = synth_stream(seed=2, minutes=0.5)
    assert a["wave"].dtype == np.int16 and a["wave"].shape == (30 * SR,)
    np.testing.assert_array_equal(a["wave"], b["wave"])
    np.testing.assert_array_equal(a["events"], b["events"])
    assert a["utterances"] == b["utterances"]
    assert not np.array_equal(a["wave"], c["wave"])
    assert not np.array_equal(a["events"], c["events"])


def test_wake_words_are_where_the_stream_says(loud):
    wave, events = loud["wave"], loud["events"]
    assert events.shape == (4, 2) and np.all(np.diff(events[:, 0]) > 0)
    wakes = [u for u in loud["utterances"] if u["kind"] == "wake"]
    assert [tuple(u["syllables"]) for u in wakes] == [WAKE] * 4
    others = sorted(u["kind"] for u in loud["utterances"] if u["kind"] != "wake")
    assert others == ["once", "other", "partial", "rhythm"]
    for u in loud["utterances"]:
        inside = _rms(wave, u["start"], u["end"])
        before = _rms(wave, u["start"] - 0.3, u["start"] - 0.03)
        after = _rms(wave, u["end"] + 0.06, u["end"] + 0.3)
        # speech is 30 dB up: at least 10x the RMS of the background just before and after the stated times
        assert inside > 10 * before and inside > 10 * after, (u, inside, before, after)
    # and nowhere else: between utterances there is only background
    spans = sorted((u["start"], u["end"]) for u in loud["utterances"])
    quiet = [_rms(wave, e0 + 0.1, s1 - 0.1) for (_, e0), (s1, _) in zip(spans, spans[1:])]
    assert max(quiet) * 10 < min(_rms(wave, s, e) for s, e in spans)


def test_snrs_are_balanced_and_margins_leave_room_for_a_window():
    s = synth_stream(seed=0, minutes=2.0, wake_per_minute=3, other_per_minute=3)
    assert sorted(s["event_snr"].tolist()) == [-5.0, -5.0, 0.0, 0.0, 5.0, 5.0]
    duration = len(s["wave"]) / SR
    assert s["events"][0, 0] >= 1.0 and s["events"][-1, 1] <= duration - 2.5
    spans = sorted((u["start"], u["end"]) for u in s["utterances"])
    assert all(b[0] - a[1] > 1.5 for a, b in zip(spans, spans[1:]))


def test_speakers_come_from_a_seed_stream_of_their_own():
    assert STREAM_CODE not in SPLIT_CODES.values()
    assert synth_stream(seed=0, minutes=0.5)["info"]["seed_stream"] == STREAM_CODE


def test_impossible_plans_are_refused():
    with pytest.raises(EdgepruneError, match="do not fit 1 minutes"):
        synth_stream(minutes=1.0, wake_per_minute=20, other_per_minute=0)
    with pytest.raises(EdgepruneError, match="minutes must be between"):
        synth_stream(minutes=0.1)
