"""Choosing the compute device and precision."""

from __future__ import annotations

import torch

from livebg.errors import DeviceError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def select_device(requested: str = "auto") -> torch.device:
    """``auto`` takes CUDA, then MPS, then the CPU; a named device must be available."""
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(requested)
    except RuntimeError:
        raise DeviceError(
            f"unknown device {requested!r}; use one of {', '.join(DEVICE_CHOICES)} (or cuda:N)"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(
            "--device cuda was asked for but no CUDA GPU is available; use --device auto or cpu"
        )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceError(
            "--device mps was asked for but Metal (MPS) is not available; use --device auto or cpu"
        )
    if device.type not in ("cpu", "cuda", "mps"):
        raise DeviceError(f"unsupported device {requested!r}; use one of {', '.join(DEVICE_CHOICES)}")
    return device


def default_dtype(device: torch.device) -> torch.dtype:
    """fp16 on CUDA (tensor cores, half the memory traffic); fp32 elsewhere."""
    return torch.float16 if device.type == "cuda" else torch.float32
