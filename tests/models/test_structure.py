"""Structure the pruner relies on: BN after every conv, one-layer unidirectional batch-first LSTMs,
MobileNetV2's 13 bottlenecks with depthwise convs and residual adds, ResNet-18 downsample shortcuts."""

import pytest
import torch
from torch import nn

import edgeprune.models as M

WAKE_WORD = ["misp-audio", "misp-video", "tv-lip-mbv2", "tv-audio", "tv-video", "tv-av", "av-decision"]
CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
BNS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def leaf_call_order(model, inputs):
    """The leaf modules in the order forward() calls them."""
    order = []
    hooks = [m.register_forward_hook(lambda mod, i, o: order.append(mod))
             for m in model.modules() if not list(m.children())]
    with torch.no_grad():
        model(*inputs)
    for h in hooks:
        h.remove()
    return order


@pytest.mark.parametrize("name", WAKE_WORD)
def test_every_conv_is_followed_by_batchnorm(name, small_clip):
    model = M.build(name).eval()
    order = leaf_call_order(model, M.example_inputs(name, 1, **small_clip(name)))
    convs = [i for i, m in enumerate(order) if isinstance(m, CONVS)]
    assert convs
    for i in convs:
        follower = order[i + 1]
        assert isinstance(follower, BNS), f"{name}: {order[i]} is followed by {follower}"
        assert follower.num_features == order[i].out_channels


@pytest.mark.parametrize("name", [n for n in M.names() if any(isinstance(m, nn.LSTM) for m in M.build(n).modules())])
def test_lstms_are_one_layer_unidirectional_batch_first(name):
    lstms = [m for m in M.build(name).modules() if isinstance(m, nn.LSTM)]
    for lstm in lstms:
        assert lstm.batch_first and lstm.num_layers == 1 and not lstm.bidirectional


def test_every_wake_word_model_with_a_sequence_has_an_lstm():
    for name in ("misp-audio", "misp-video", "tv-audio", "tv-video", "tv-av"):
        assert sum(isinstance(m, nn.LSTM) for m in M.build(name).modules()) == 1, name


def test_lip_encoder_has_13_linear_bottlenecks():
    from edgeprune.models.mobilenetv2 import InvertedResidual

    model = M.build("tv-lip-mbv2")
    blocks = [m for m in model.modules() if isinstance(m, InvertedResidual)]
    assert len(blocks) == 13
    assert sum(b.use_residual for b in blocks) == 8  # repeats of the 24, 32 (x2), 64 (x3), 96 (x2) stages
    for block in blocks:
        depthwise = [m for m in block.modules() if isinstance(m, nn.Conv2d) and m.groups > 1]
        assert len(depthwise) == 1 and depthwise[0].groups == depthwise[0].in_channels == depthwise[0].out_channels
        projection = block.block[-1]
        assert not any(isinstance(m, nn.ReLU6) for m in projection.modules())  # linear bottleneck
    assert model.features[0][0].in_channels == 1  # grayscale


def test_lip_embedding_is_the_average_pool_of_the_feature_map():
    model = M.build("tv-lip-mbv2").train()
    (lips,) = M.example_inputs("tv-lip-mbv2", 2, lip_frames=3, lip_size=64)
    out = model(lips)
    maps = model.features(lips.reshape(6, 1, 64, 64))
    torch.testing.assert_close(out, maps.mean(dim=(2, 3)).reshape(2, 3, -1))


def test_residual_blocks_add_their_input():
    from edgeprune.models.mobilenetv2 import InvertedResidual

    block = InvertedResidual(16, 16, 1, 6).eval()
    x = torch.randn(1, 16, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(block(x), x + block.block(x))


def test_resnet_trunk_is_resnet18_with_downsample_shortcuts():
    from edgeprune.models.resnet import BasicBlock

    trunk = M.build("misp-video").trunk
    blocks = [m for m in trunk.modules() if isinstance(m, BasicBlock)]
    assert len(blocks) == 8
    shortcuts = [b.downsample for b in blocks if b.downsample is not None]
    assert len(shortcuts) == 3  # first block of layer2, layer3, layer4
    for sc in shortcuts:
        assert isinstance(sc[0], nn.Conv2d) and sc[0].kernel_size == (1, 1) and sc[0].stride == (2, 2)
        assert isinstance(sc[1], nn.BatchNorm2d)
    assert [s[0].out_channels for s in shortcuts] == [128, 256, 512]


def test_misp_audio_flattens_conv_output_channel_major():
    model = M.build("misp-audio").eval()
    (fbank,) = M.example_inputs("misp-audio", 1, frames=20)
    seen = {}
    model.act_av2.register_forward_hook(lambda m, i, o: seen.update(conv=o))  # the conv stage's output; hooks return None
    model.lstm.register_forward_hook(lambda m, i, o: seen.update(lstm_in=i[0]))
    with torch.no_grad():
        model(fbank)
    conv, lstm_in = seen["conv"], seen["lstm_in"]  # (1, 512, 1, T'), (1, T', 512)
    assert torch.equal(lstm_in, conv[:, :, 0, :].transpose(1, 2))
