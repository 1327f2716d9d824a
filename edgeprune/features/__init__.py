"""Input features: log-mel FBank (fbank), train-split normalisation stats (stats), lip frames (lips)."""

from edgeprune.features.fbank import PRESETS, FbankConfig, fbank, get_config, mel_filterbank, num_frames
from edgeprune.features.lips import FPS, LIP_SIZES, lip_frames_for, prepare_lips, resize_frames
from edgeprune.features.stats import apply_stats, compute_stats

__all__ = [
    "FPS", "LIP_SIZES", "PRESETS", "FbankConfig", "apply_stats", "compute_stats", "fbank", "get_config",
    "lip_frames_for", "mel_filterbank", "num_frames", "prepare_lips", "resize_frames",
]
