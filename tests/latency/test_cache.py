"""The latency cache: keyed by device, runtime + version, threads and architecture; points survive a re-read."""

import copy

import torch

from edgeprune.latency.cache import PointCache, architecture_hash, cache_key, device_fingerprint

from tiny_latency import TinyNet

MACHINE = {"cpu_model": "fake", "arch": "x86_64", "logical_cores": 2, "usable_cores": 2, "load_average": [1.0]}


def test_architecture_hash_follows_widths_and_inputs_not_weights():
    x = (torch.randn(1, 40, 32),)
    a, b = TinyNet(), TinyNet()
    with torch.no_grad():
        b.conv1.weight.mul_(3.0)
    assert architecture_hash(a, x) == architecture_hash(b, x)  # weights do not change latency
    assert architecture_hash(a, x) != architecture_hash(TinyNet(c1=20), x)
    assert architecture_hash(a, x) != architecture_hash(a, (torch.randn(1, 40, 64),))
    c = copy.deepcopy(a).train()
    assert architecture_hash(a, x) == architecture_hash(c, x)  # train/eval mode is not architecture


def test_device_fingerprint_ignores_load_and_names_the_target():
    here = device_fingerprint(MACHINE, "local")
    assert "load_average" not in here and here["cpu_model"] == "fake"
    assert device_fingerprint(MACHINE, "ssh://pi@board")["target"] == "ssh://pi@board"


def test_each_part_of_the_key_has_its_own_file(tmp_path):
    dev = device_fingerprint(MACHINE, "local")
    base = cache_key(dev, "ort", "1.0", 1, "abc")
    variants = [cache_key(dev, "ort", "1.1", 1, "abc"), cache_key(dev, "ort", "1.0", 2, "abc"),
                cache_key(dev, "ort", "1.0", 1, "abd"), cache_key(dev, "litert", "1.0", 1, "abc"),
                cache_key(device_fingerprint({**MACHINE, "cpu_model": "other"}, "local"), "ort", "1.0", 1, "abc")]
    paths = {PointCache(k, tmp_path).path for k in [base, *variants]}
    assert len(paths) == 6


def test_points_are_written_at_once_and_read_back(tmp_path):
    key = cache_key(device_fingerprint(MACHINE, "local"), "ort", "1.0", 1, "abc")
    cache = PointCache(key, tmp_path)
    cache.put({PointCache.label("conv1", 12): {"width": 12, "p50": 1.5}}, groups={"conv1": {"width": 24}})
    again = PointCache(key, tmp_path)
    assert again.get("conv1", 12) == {"width": 12, "p50": 1.5}
    assert again.get("conv1", 13) is None and again.meta["groups"] == {"conv1": {"width": 24}}
    other = PointCache(cache_key(device_fingerprint(MACHINE, "local"), "ort", "1.0", 4, "abc"), tmp_path)
    assert other.get("conv1", 12) is None
