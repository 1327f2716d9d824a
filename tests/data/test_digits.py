"""digits: sklearn's bundled 8x8 digits as (1, 28, 28) images, ten classes, seeded stratified splits."""

import torch

from edgeprune.data import open_data
from edgeprune.data.digits import to_images


def test_shapes_labels_and_splits():
    bundle = open_data("digits", inputs=("image",))
    item = bundle.train[0]
    assert item["image"].shape == (1, 28, 28) and item["label"].dtype == torch.int64
    assert bundle.task == "multiclass" and bundle.info["num_classes"] == 10
    sizes = (len(bundle.train), len(bundle.dev), len(bundle.test))
    assert sum(sizes) == 1797 and sizes[2] > sizes[1] > 0
    assert set(bundle.test.label_counts()) == set(range(10))
    assert not set(bundle.train.ids) & set(bundle.test.ids)


def test_padding_and_normalisation():
    images = to_images(torch.full((1, 64), 16.0).numpy())
    assert images[0, 0, 4:24, 4:24].min() > 0.999 and images[0, 0, :4].max() == 0.0 and images[0, 0, 24:].max() == 0.0
    bundle = open_data("digits", inputs=("image",))
    x = bundle.train.tensors["image"]
    assert abs(float(x.mean())) < 1e-4 and abs(float(x.std()) - 1.0) < 1e-2


def test_seeded_and_capped():
    a, b = open_data("digits", inputs=("image",), seed=3), open_data("digits", inputs=("image",), seed=3)
    c = open_data("digits", inputs=("image",), seed=4, train=100)
    assert a.test.ids == b.test.ids and a.test.ids != c.test.ids and len(c.train) == 100
