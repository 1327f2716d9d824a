"""Lip .npy pixel types: uint8 and float in [0, 1] are read as the same picture; anything else is refused by name."""

import numpy as np
import pytest

from edgeprune.errors import EdgepruneError
from edgeprune.features.lips import prepare_lips


def _ramp_u8():
    return (np.arange(8 * 24 * 24) % 256).astype(np.uint8).reshape(8, 24, 24)


def test_float_in_unit_range_is_the_same_picture_as_uint8():
    u8 = _ramp_u8()
    a = prepare_lips(u8, 88, count=8, name="u8.npy")
    b = prepare_lips(u8.astype(np.float32) / 255.0, 88, count=8, name="f32.npy")
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
    assert a.std() > 10  # the picture varies, so the comparison means something


def test_colour_uint8_keeps_its_brightness():
    grey = np.full((4, 24, 24, 3), 100, np.uint8)
    out = prepare_lips(grey, 88, count=4, name="rgb.npy")
    assert abs(int(out[0, 40, 40]) - 100) <= 1  # not clamped to white (255)


@pytest.mark.parametrize("frames, match", [
    (np.full((4, 24, 24), 200.0), r"clip\.npy: float lip frames must lie in \[0, 1\], got 200\.\.200"),
    (np.where(np.eye(24, dtype=bool), np.nan, 0.5)[None].repeat(4, 0), r"clip\.npy: lip frames contain NaN or inf"),
    (np.full((4, 24, 24), 300, np.int16),
     r"clip\.npy: lip frames must be uint8 \(0-255\) or float in \[0, 1\], got dtype int16"),
    (np.full((4, 24, 24), 0.5 + 0.5j), r"clip\.npy: .* got dtype complex128"),
    (np.ones((4, 24, 24), bool), r"clip\.npy: .* got dtype bool"),
])
def test_other_pixel_types_are_refused_by_name(frames, match):
    with pytest.raises(EdgepruneError, match=match):
        prepare_lips(frames, 88, count=4, name="clip.npy")
