"""The kinds of torch's own layers: convolutions, linear layers, norms, PReLU, Embedding, MultiheadAttention."""

from __future__ import annotations

import math

import torch.nn as nn

from edgeprune.kinds import LayerKind, keep_index, register, replace_param

_CONV = nn.modules.conv._ConvNd


def _bias(m: nn.Module) -> bool:
    return getattr(m, "bias", None) is not None


def is_depthwise(m: nn.Module) -> bool:
    return isinstance(m, _CONV) and m.groups == m.out_channels and m.out_channels > 1


class Conv(LayerKind):
    """Conv1d/2d/3d (and transposed): plain or depthwise (one filter per channel: in and out tied)."""

    width_attrs = ("in_channels", "out_channels", "groups")
    family, root, builtin, maskable = "conv", True, True, True

    def refuse(self, m):
        if m.groups > 1 and not is_depthwise(m):
            return (f"a grouped convolution (groups={m.groups}, {m.in_channels} -> {m.out_channels} channels): "
                    f"a cut would leave its groups unequal")
        return None

    def produces(self, m):
        return not is_depthwise(m)

    def widths(self, m):
        return m.out_channels, m.in_channels

    def params_at(self, m, cut_out, cut_in):
        if is_depthwise(m):
            kept = m.out_channels - max(cut_out, cut_in)  # one tied axis
            return kept * m.weight[0].numel() + (kept if _bias(m) else 0)
        o, i = m.out_channels - cut_out, m.in_channels - cut_in
        return o * (i // m.groups) * math.prod(m.kernel_size) + (o if _bias(m) else 0)

    def macs(self, m, inputs, out):
        return out.numel() * (m.in_channels // m.groups) * math.prod(m.kernel_size)

    def rows(self, m):
        w = m.weight.detach()
        return w.transpose(0, 1).reshape(m.out_channels, -1) if m.transposed else w.reshape(w.shape[0], -1)

    def shapes(self, m, v):
        i, o, g = v["in_channels"], v["out_channels"], v["groups"]
        if i % g or o % g:
            raise ValueError(f"groups {g} does not divide in_channels {i} and out_channels {o}")
        k = tuple(m.kernel_size)
        out = {"weight": (i, o // g, *k) if m.transposed else (o, i // g, *k)}
        return {**out, "bias": (o,)} if _bias(m) else out


class Linear(LayerKind):
    width_attrs = ("in_features", "out_features")
    family, root, channels_last, builtin, maskable = "fc", True, True, True, True

    def widths(self, m):
        return m.out_features, m.in_features

    def params_at(self, m, cut_out, cut_in):
        o, i = m.out_features - cut_out, m.in_features - cut_in
        return o * i + (o if _bias(m) else 0)

    def macs(self, m, inputs, out):
        return (out.numel() // m.out_features) * m.in_features * m.out_features

    def rows(self, m):
        return m.weight.detach()

    def shapes(self, m, v):
        out = {"weight": (v["out_features"], v["in_features"])}
        return {**out, "bias": (v["out_features"],)} if _bias(m) else out


class Bilinear(LayerKind):
    width_attrs = ("in1_features", "in2_features", "out_features")
    family = "fc"

    def refuse(self, m):
        return "nn.Bilinear is not pruned"

    def shapes(self, m, v):
        out = {"weight": (v["out_features"], v["in1_features"], v["in2_features"])}
        return {**out, "bias": (v["out_features"],)} if _bias(m) else out


class ChannelNorm(LayerKind):
    """BatchNorm and InstanceNorm: per-channel statistics and affine terms, one tied channel axis."""

    width_attrs = ("num_features",)
    family, tied, builtin = "norm", True, True

    def widths(self, m):
        return m.num_features, m.num_features

    def params_at(self, m, cut_out, cut_in):
        return 2 * (m.num_features - max(cut_out, cut_in)) if m.affine else 0

    def gamma(self, m):
        return m.weight.detach() if m.affine else None

    def shapes(self, m, v):
        n, out = v["num_features"], {}
        if m.affine:
            out.update(weight=(n,), bias=(n,))
        if m.track_running_stats:
            out.update(running_mean=(n,), running_var=(n,))
        return out


class GroupNorm(LayerKind):
    """Cut only where every group is one channel (instance-style): otherwise a cut changes the statistics
    of the channels kept, which no exact channel removal can do."""

    width_attrs = ("num_groups", "num_channels")
    family, tied = "norm", True

    def refuse(self, m):
        if m.num_groups != m.num_channels:
            return (f"GroupNorm normalises groups of {m.num_channels // m.num_groups} channels together: "
                    f"a cut would change the statistics of the channels kept")
        return None

    def widths(self, m):
        return m.num_channels, m.num_channels

    def prune_out(self, m, idxs):
        keep = keep_index(m.num_channels, idxs)
        if m.affine:
            replace_param(m, "weight", m.weight[keep])
            replace_param(m, "bias", m.bias[keep])
        m.num_channels = m.num_groups = len(keep)

    def params_at(self, m, cut_out, cut_in):
        return 2 * (m.num_channels - max(cut_out, cut_in)) if m.affine else 0

    def gamma(self, m):
        return m.weight.detach() if m.affine else None

    def shapes(self, m, v):
        c, g = v["num_channels"], v["num_groups"]
        if c % g:
            raise ValueError(f"num_groups {g} does not divide num_channels {c}")
        return {"weight": (c,), "bias": (c,)} if m.affine else {}


class LayerNorm(LayerKind):
    width_attrs = ("normalized_shape",)
    family = "norm"

    def refuse(self, m):
        return "LayerNorm normalises across channels: a cut would change the statistics of the channels kept"

    def shapes(self, m, v):
        ns = tuple(v["normalized_shape"])
        return {n: ns for n in ("weight", "bias") if getattr(m, n, None) is not None}


class PReLU(LayerKind):
    """One slope per channel (tied), or one shared slope (the graph passes it by)."""

    width_attrs = ("num_parameters",)
    tied, builtin = True, True

    def agnostic(self, m):
        return m.num_parameters == 1

    def widths(self, m):
        return m.num_parameters, m.num_parameters

    def params_at(self, m, cut_out, cut_in):
        return m.num_parameters - max(cut_out, cut_in) if m.num_parameters > 1 else 1

    def shapes(self, m, v):
        return {"weight": (v["num_parameters"],)}


class Embedding(LayerKind):
    """A table lookup: the embedding dimension is its output channel axis (last), made by its columns."""

    width_attrs = ("num_embeddings", "embedding_dim")
    root, tied, channels_last, builtin = True, True, True, True

    def produces(self, m):
        return True

    def widths(self, m):
        return m.embedding_dim, m.embedding_dim

    def params_at(self, m, cut_out, cut_in):
        return m.num_embeddings * (m.embedding_dim - max(cut_out, cut_in))

    def rows(self, m):
        return m.weight.detach().t()

    def shapes(self, m, v):
        return {"weight": (v["num_embeddings"], v["embedding_dim"])}


class MultiheadAttention(LayerKind):
    channels_last = True

    def refuse(self, m):
        return (f"head pruning is not implemented: its {m.num_heads} heads of {m.head_dim} and its embed_dim "
                f"channels are kept")


for _type, _kind in ((_CONV, Conv()), (nn.Linear, Linear()), (nn.Bilinear, Bilinear()),
                     (nn.modules.batchnorm._NormBase, ChannelNorm()), (nn.GroupNorm, GroupNorm()),
                     (nn.LayerNorm, LayerNorm()), (nn.PReLU, PReLU()), (nn.Embedding, Embedding()),
                     (nn.MultiheadAttention, MultiheadAttention())):
    register(_type, _kind, builtin=True)
