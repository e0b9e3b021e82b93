"""What CPU the figures were measured on: the model, the cores this process may use, and the vector
instructions that decide which precisions pay (AVX-512, bf16, AMX). Speed figures mean little without
it, and the machines livebg is measured on change between runs (the same VM name has been a Zen 3, a
Zen 4 and a Xeon with AMX)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

# The instruction sets that change what runs fast, as /proc/cpuinfo names them.
FEATURES = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


def usable_cores() -> int:
    """The CPUs this process may run on (its affinity), not the host's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def cpu_summary(cpuinfo: str | None = None) -> str:
    """One line, e.g. ``AMD EPYC (family 25 model 1), 2 cores, avx2 fma; no avx512f avx512_bf16 ...``.

    ``cpuinfo``: the text of ``/proc/cpuinfo`` (read when not given; elsewhere than Linux the line has
    only what :mod:`platform` knows)."""
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text() if path.exists() else ""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if not key.strip():
            break  # the first processor's block is enough
        fields.setdefault(key.strip(), value.strip())
    name = fields.get("model name") or platform.processor() or platform.machine()
    if "cpu family" in fields:
        name += f" (family {fields['cpu family']} model {fields.get('model', '?')})"
    line = f"{name}, {usable_cores()} cores"
    if "flags" in fields:
        flags = set(fields["flags"].split())
        has = [f for f in FEATURES if f in flags]
        lacks = [f for f in FEATURES if f not in flags]
        line += f", {' '.join(has) or 'no listed vector extensions'}"
        if lacks:
            line += f"; no {' '.join(lacks)}"
    return line
