"""40-dim log-mel filterbank features (FBank) in PyTorch, with the default and MISP2021 presets.

Frames are taken without padding ("snip edges"): a 1.3 s clip gives 128 frames with the default preset
(25 ms window, 10 ms hop) and 127 with the MISP2021 preset (Hamming 512, hop 160).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from edgeprune.errors import EdgepruneError


@dataclass(frozen=True)
class FbankConfig:
    """Every setting of the FBank front end; presets are instances of it."""

    sample_rate: int = 16000
    n_mels: int = 40
    win_length: int = 400  # samples (25 ms at 16 kHz)
    hop_length: int = 160  # samples (10 ms)
    n_fft: int = 512
    window: str = "hamming"  # "hamming" | "hann" | "rect"
    preemphasis: float = 0.97
    f_min: float = 0.0
    f_max: float = 8000.0
    log_floor: float = 1e-10  # log(max(power, floor))

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, FbankConfig] = {
    "default": FbankConfig(),
    "misp2021": FbankConfig(win_length=512, hop_length=160, n_fft=512, window="hamming"),
}


def get_config(preset: str | FbankConfig) -> FbankConfig:
    """Resolve a preset name (or pass a config through)."""
    if isinstance(preset, FbankConfig):
        return preset
    if preset not in PRESETS:
        raise EdgepruneError(f"unknown FBank preset {preset!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[preset]


def num_frames(num_samples: int, preset: str | FbankConfig = "default") -> int:
    """How many frames a signal of `num_samples` gives (0 when shorter than one window)."""
    cfg = get_config(preset)
    if num_samples < cfg.win_length:
        return 0
    return 1 + (num_samples - cfg.win_length) // cfg.hop_length


def hz_to_mel(hz):
    """HTK mel scale."""
    return 2595.0 * torch.log10(1.0 + torch.as_tensor(hz, dtype=torch.float64) / 700.0)


def mel_to_hz(mel):
    return 700.0 * (10.0 ** (torch.as_tensor(mel, dtype=torch.float64) / 2595.0) - 1.0)


def mel_filterbank(preset: str | FbankConfig = "default") -> torch.Tensor:
    """(n_fft // 2 + 1, n_mels) float32 matrix of triangular filters, equally spaced on the mel scale."""
    cfg = get_config(preset)
    if not 0 <= cfg.f_min < cfg.f_max <= cfg.sample_rate / 2:
        raise EdgepruneError(f"FBank band {cfg.f_min}-{cfg.f_max} Hz does not fit a {cfg.sample_rate} Hz signal")
    edges = mel_to_hz(torch.linspace(float(hz_to_mel(cfg.f_min)), float(hz_to_mel(cfg.f_max)), cfg.n_mels + 2))
    freqs = torch.arange(cfg.n_fft // 2 + 1, dtype=torch.float64) * cfg.sample_rate / cfg.n_fft
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (freqs[:, None] - lower[None, :]) / (centre - lower)[None, :]
    falling = (upper[None, :] - freqs[:, None]) / (upper - centre)[None, :]
    return torch.clamp(torch.minimum(rising, falling), min=0.0).to(torch.float32)


def _window(cfg: FbankConfig, dtype) -> torch.Tensor:
    if cfg.window == "hamming":
        return torch.hamming_window(cfg.win_length, periodic=False, dtype=dtype)
    if cfg.window == "hann":
        return torch.hann_window(cfg.win_length, periodic=False, dtype=dtype)
    if cfg.window == "rect":
        return torch.ones(cfg.win_length, dtype=dtype)
    raise EdgepruneError(f"unknown FBank window {cfg.window!r}; choose hamming, hann or rect")


def fbank(wave, preset: str | FbankConfig = "default") -> torch.Tensor:
    """Log-mel power features of a waveform: (N,) -> (T, n_mels), or a batch (B, N) -> (B, T, n_mels).

    The waveform is float in [-1, 1] at the preset's sample rate. Steps: pre-emphasis over the whole
    signal, framing without padding, window, |rFFT|^2 with zero-padding to n_fft, mel filters, natural log.
    """
    cfg = get_config(preset)
    x = torch.as_tensor(wave)
    if not torch.is_floating_point(x):
        x = x.to(torch.float32)
    squeeze = x.dim() == 1
    if squeeze:
        x = x[None]
    if x.dim() != 2:
        raise EdgepruneError(f"fbank expects a waveform of shape (N,) or (B, N), got {tuple(x.shape)}")
    if cfg.win_length > cfg.n_fft:
        raise EdgepruneError(f"FBank window {cfg.win_length} is longer than the FFT size {cfg.n_fft}")
    if x.shape[-1] < cfg.win_length:
        raise EdgepruneError(
            f"waveform of {x.shape[-1]} samples is shorter than one FBank window ({cfg.win_length} samples)"
        )
    if cfg.preemphasis:
        x = torch.cat([x[:, :1], x[:, 1:] - cfg.preemphasis * x[:, :-1]], dim=1)
    frames = x.unfold(1, cfg.win_length, cfg.hop_length)  # (B, T, win)
    frames = frames * _window(cfg, x.dtype)
    spec = torch.fft.rfft(frames, n=cfg.n_fft, dim=-1)
    power = spec.real.square() + spec.imag.square()
    mel = power @ mel_filterbank(cfg).to(power.dtype)
    out = torch.log(torch.clamp(mel, min=cfg.log_floor))
    return out[0] if squeeze else out


def frame_times(n_frames: int, preset: str | FbankConfig = "default") -> torch.Tensor:
    """Centre time in seconds of each frame."""
    cfg = get_config(preset)
    return (torch.arange(n_frames, dtype=torch.float64) * cfg.hop_length + cfg.win_length / 2) / cfg.sample_rate


def mel_band_of(freq_hz: float, preset: str | FbankConfig = "default") -> int:
    """Index of the mel filter whose centre is closest to `freq_hz` on the mel scale."""
    cfg = get_config(preset)
    centres = torch.linspace(float(hz_to_mel(cfg.f_min)), float(hz_to_mel(cfg.f_max)), cfg.n_mels + 2)[1:-1]
    return int(torch.argmin((centres - float(hz_to_mel(freq_hz))).abs()))
