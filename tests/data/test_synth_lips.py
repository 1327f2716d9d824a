"""The lips' own Gaussian blur equals scipy.ndimage.gaussian_filter bit for bit (so cached corpora stay valid)."""

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter  # the reference; scipy comes with the dev extra, not the core

from edgeprune.data.synth_lips import gaussian_blur


@pytest.mark.parametrize("size", [22, 44, 88, 96])
def test_blur_equals_scipy_bit_for_bit(size):
    rng = np.random.default_rng(size)
    for sigma in (0.21, 0.5, 0.77, 1.0, 1.3, 1.5 * size / 88.0):
        img = rng.uniform(0.0, 1.6, (4, size, size)).astype(np.float32)
        img[:, size // 3 :, : size // 4] = 0.8  # flat patches and edges, as the rendered mouths have
        ref = gaussian_filter(img, sigma=(0, sigma, sigma), mode="nearest")
        out = gaussian_blur(img, sigma)
        assert out.dtype == np.float32 and out.shape == img.shape
        assert np.array_equal(out, ref), f"sigma {sigma}: max difference {np.abs(out - ref).max()}"


def test_blur_smooths_within_each_frame_only():
    img = np.zeros((3, 21, 21), np.float32)
    img[1, 10, 10] = 1.0  # one bright pixel in the middle frame
    out = gaussian_blur(img, 1.0)
    assert out[0].max() == 0 and out[2].max() == 0  # frames are not mixed
    assert out[1, 10, 10] < 0.2 and out[1, 10, 11] > 0.05  # the energy spreads to the neighbours
    assert out[1].sum() == pytest.approx(1.0, abs=1e-6)  # and is kept (normalised kernel, no edge loss here)
