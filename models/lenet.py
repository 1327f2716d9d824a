"""lenet-300-100 and lenet5: the MNIST networks of the lottery-ticket study (seed 003).

Input contract: `image` (B, 1, 28, 28) float32 (normalised digits). Output: (B, 10) class logits.
lenet-300-100: 784-300-100-10 with ReLU, 266,610 params. lenet5: the usual modern LeNet-5 for 28x28
(conv 1->6 5x5 pad 2, max pool, conv 6->16 5x5, max pool, FC 400-120-84-10, ReLU), 61,706 params;
cfg `batchnorm=True` adds BatchNorm after each conv (+44 params) for BN-scale pruning.
"""

from __future__ import annotations

from torch import nn

from .registry import ModelSpec, register


class LeNet300100(nn.Module):
    """image (B, 1, 28, 28) -> flatten -> 300 -> 100 -> 10 logits."""

    def __init__(self, hidden=(300, 100), num_classes: int = 10):
        super().__init__()
        layers, width = [], 28 * 28
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, image):
        return self.net(image.reshape(image.shape[0], -1))


class LeNet5(nn.Module):
    """image (B, 1, 28, 28) -> 2 x (conv, ReLU, max pool) -> FC 120 -> 84 -> 10 logits."""

    def __init__(self, batchnorm: bool = False, num_classes: int = 10):
        super().__init__()
        norm = (lambda c: nn.BatchNorm2d(c)) if batchnorm else (lambda c: nn.Identity())
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), norm(6), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), norm(16), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, num_classes)
        )

    def forward(self, image):
        x = self.features(image)
        return self.classifier(x.reshape(x.shape[0], -1))


_MNIST_DEFAULTS = {"batch_size": 60, "lr": 0.0012}

MLP_SPEC = ModelSpec(
    name="lenet-300-100",
    inputs=("image",),
    task="multiclass",
    num_classes=10,
    lip_size=None,
    defaults={**_MNIST_DEFAULTS, "epochs": 75},
    paper={"params": 266610, "mflops": None, "source": "seed 003 (MLP 784-300-100-10); Frankle & Carbin"},
    summary="MLP 784-300-100-10 (ReLU) for 28x28 digits",
)

LENET5_SPEC = ModelSpec(
    name="lenet5",
    inputs=("image",),
    task="multiclass",
    num_classes=10,
    lip_size=None,
    defaults={**_MNIST_DEFAULTS, "epochs": 50},
    paper={"params": 61706, "mflops": None, "source": "seed 003 (standard LeNet-5)"},
    summary="LeNet-5 for 28x28 digits: 2 conv + max pool, FC 120-84-10",
)


@register(MLP_SPEC, {"hidden": [300, 100], "num_classes": 10})
def build_lenet_300_100(hidden, num_classes):
    return LeNet300100(hidden=hidden, num_classes=num_classes)


@register(LENET5_SPEC, {"batchnorm": False, "num_classes": 10})
def build_lenet5(batchnorm, num_classes):
    return LeNet5(batchnorm=batchnorm, num_classes=num_classes)
