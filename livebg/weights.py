"""Model weights: a per-user cache and a verified download, one path for every model in the registry
(:mod:`livebg.matting.registry`: RVM's release files and torchvision's alike).

The weights of a model are fetched only when asked for (:func:`resolve_weights`, ``livebg models
--download``), never at import and never into the working directory. A download goes to a temporary
``*.part`` file in the cache folder, is verified, and only then renamed to its final name, so the cache
holds only complete files; on any failure or Ctrl-C the temporary file is removed.

Verification: the byte count must equal the server's ``Content-Length``, and the spec's ``size`` and
``sha256`` (or its published prefix) where they are known; a cached file is checked against them again
when it is used. Where no checksum is known the file must also load as a PyTorch state dict
(``torch.load(weights_only=True)``).

Environment variables:

* ``LIVEBG_CACHE_DIR``: the folder that holds downloaded weights (default: the platform's user cache
  folder for ``livebg``, then ``weights``, e.g. ``~/.cache/livebg/weights`` on Linux).
* ``LIVEBG_OFFLINE=1``: never download (the same as ``--offline``); missing weights are an error.
* ``LIVEBG_WEIGHTS_URL``: base URL of a mirror; the file name is appended, so
  ``LIVEBG_WEIGHTS_URL=https://mirror.example.com/livebg`` fetches
  ``https://mirror.example.com/livebg/rvm_mobilenetv3.pth`` (torchvision's files keep their names,
  e.g. ``lraspp_mobilenet_v3_large-d234d4ea.pth``). Any URL that ``urllib`` opens works,
  including ``file:///srv/weights`` for a shared folder.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable
from http.client import HTTPException
from pathlib import Path
from typing import Any, BinaryIO

import platformdirs
from tqdm import tqdm

from livebg.errors import InputNotFoundError, Interrupted, WeightsError
from livebg.matting import registry
from livebg.matting.registry import WeightsSpec

log = logging.getLogger(__name__)

_CHUNK_BYTES = 1 << 16
_TIMEOUT_S = 30.0  # per socket operation, not for the whole download


def cache_root() -> Path:
    """livebg's cache folder: ``$LIVEBG_CACHE_DIR``, else the platform's user cache folder
    (``~/.cache/livebg`` on Linux). Downloaded weights and exported graphs live in it."""
    value = os.environ.get("LIVEBG_CACHE_DIR")
    return Path(value).expanduser() if value else Path(platformdirs.user_cache_dir("livebg"))


def cache_dir() -> Path:
    """The folder of downloaded weights, ``cache_root()/weights``. Not created here; a download does."""
    return cache_root() / "weights"


def weights_url(spec: WeightsSpec) -> str:
    """The URL to download ``spec`` from: ``$LIVEBG_WEIGHTS_URL`` + file name if set, else ``spec.url``."""
    mirror = os.environ.get("LIVEBG_WEIGHTS_URL")
    if mirror:
        return f"{mirror.rstrip('/')}/{spec.filename}"
    return spec.url


def offline_forced() -> bool:
    """Whether ``LIVEBG_OFFLINE`` forbids downloads (``1``, ``true`` or ``yes``)."""
    return os.environ.get("LIVEBG_OFFLINE", "").strip().lower() in ("1", "true", "yes")


def resolve_weights(
    name: str, path: Path | None = None, *, offline: bool = False, progress: bool = True
) -> Path:
    """The local file with the weights of model ``name``, downloading it into the cache if needed.

    ``path`` (``--weights``) is returned as it is when it is a readable file. Otherwise the cached file
    is used, or downloaded unless ``offline`` or ``LIVEBG_OFFLINE=1``. ``progress`` shows a progress bar
    on stderr while downloading. Raises :class:`InputNotFoundError` for a bad ``path``, ``UsageError``
    for an unknown ``name`` and :class:`WeightsError` when the weights are missing, damaged or cannot be
    downloaded.
    """
    if path is not None:
        return _check_user_file(Path(path).expanduser(), name)
    spec = registry.get(name).weights
    target = cache_dir() / spec.filename
    if target.is_file():
        _check_cached(spec, target)
        return target
    if offline or offline_forced():
        why = "--offline" if offline else "LIVEBG_OFFLINE is set"
        raise WeightsError(
            f"the weights of {name} ({spec.filename}) are not in the cache and downloads are off ({why}); "
            f"download {weights_url(spec)} on a machine with internet and put it at {target}, "
            "or pass --weights PATH"
        )
    return download_weights(name, progress=progress)


def download_weights(name: str, *, progress: bool = True) -> Path:
    """Download the weights of ``name`` into the cache, replacing what is there only once the new file
    is verified, and return its path. Raises :class:`WeightsError` (and :class:`Interrupted` on Ctrl-C);
    either way no partial file is left."""
    spec = registry.get(name).weights
    folder = cache_dir()
    target = folder / spec.filename
    url = weights_url(spec)
    advice = f"download it on a machine with internet and put it at {target}, or pass --weights PATH"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, part_name = tempfile.mkstemp(prefix=f"{spec.filename}.", suffix=".part", dir=folder)
    except OSError as exc:
        raise WeightsError(
            f"cannot write to the weights cache {folder} ({exc.strerror or exc}); "
            "set LIVEBG_CACHE_DIR to a writable folder, or pass --weights PATH"
        ) from exc
    part = Path(part_name)
    log.info("downloading %s from %s to %s", spec.filename, url, target)
    done = False
    try:
        with os.fdopen(fd, "wb") as out:
            received, expected, digest = _fetch(url, out, spec.filename, progress, advice)
        _check_download(spec, url, part, received, expected, digest, advice)
        os.replace(part, target)
        done = True
    except KeyboardInterrupt as exc:
        raise Interrupted(f"download of {spec.filename} stopped; the partial file was removed") from exc
    except OSError as exc:  # disk full, or the rename failed
        raise WeightsError(f"could not save {spec.filename} to {target} ({exc}); {advice}") from exc
    finally:
        if not done:
            part.unlink(missing_ok=True)
    return target


def format_models(names: Iterable[str]) -> str:
    """A readable listing of the registered models ``names``: what each is, the state of its weights,
    their licence, and the runtimes (with their precisions) that run it."""
    lines = []
    for name in names:
        title = f"{name} (default)" if name == registry.DEFAULT_MODEL else name
        model = registry.get(name)
        spec = model.weights
        target = cache_dir() / spec.filename
        if target.is_file():
            state = f"cached at {target} ({_human_size(target.stat().st_size)})"
        else:
            size = f", {_human_size(spec.size)}" if spec.size else ""
            state = f"not downloaded{size} (livebg models --download {name})"
        runtimes = ", ".join(f"{runtime} ({', '.join(p)})" for runtime, p in model.runtimes.items())
        lines += [
            f"{title}: {model.description}",
            f"  weights: {state}",
            f"  licence: {spec.licence}",
            f"  runtimes: {runtimes}",
        ]
    lines += ["", f"weights cache: {cache_dir()}"]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------


def _check_user_file(path: Path, name: str) -> Path:
    hint = f"check the path given to --weights, or leave --weights out to use the cached {name} weights"
    if path.is_dir():
        raise InputNotFoundError(f"weights path {path} is a folder; pass the checkpoint file itself")
    if not path.is_file():
        raise InputNotFoundError(f"weights file {path} does not exist; {hint}")
    if not os.access(path, os.R_OK):
        raise InputNotFoundError(f"weights file {path} cannot be read (permission denied); {hint}")
    return path


def _check_cached(spec: WeightsSpec, target: Path) -> None:
    # Only verified files are ever renamed into the cache, so a mismatch means a file put there by hand
    # or damaged on disk. It is reported, not deleted: it may be the user's only copy on an offline
    # machine, and silently fetching 100 MB again would surprise. Deleting it is one command away.
    if spec.size is not None and target.stat().st_size != spec.size:
        found = f"{target.stat().st_size} bytes, expected {spec.size}"
    elif spec.sha256 is not None and not (digest := _sha256_of(target)).startswith(spec.sha256):
        found = f"sha256 {digest}, expected {_published(spec.sha256)}"
    else:
        return
    raise WeightsError(
        f"cached weights file {target} is damaged or another version ({found}); delete it and run again "
        "to download it afresh, or pass your file with --weights PATH"
    )


def _fetch(
    url: str, out: BinaryIO, filename: str, progress: bool, advice: str
) -> tuple[int, int | None, str]:
    """Copy ``url`` into ``out``; returns (bytes received, Content-Length or None, sha256 hex)."""
    from livebg import __version__

    request = urllib.request.Request(url, headers={"User-Agent": f"livebg/{__version__}"})
    digest = hashlib.sha256()
    received = 0
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
            length = response.headers.get("Content-Length")
            expected = int(length) if length and length.isdigit() else None
            with _progress_bar(expected, filename, progress) as bar:
                while chunk := response.read(_CHUNK_BYTES):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as exc:
        raise WeightsError(
            f"could not download {filename} from {url}: HTTP {exc.code} {exc.reason}; {advice}"
        ) from exc
    except urllib.error.URLError as exc:
        raise WeightsError(f"could not download {filename} from {url}: {exc.reason}; {advice}") from exc
    except (OSError, HTTPException, ValueError) as exc:  # timeouts, resets, protocol errors, bad URLs
        reason = str(exc) or type(exc).__name__
        raise WeightsError(f"could not download {filename} from {url}: {reason}; {advice}") from exc
    return received, expected, digest.hexdigest()


def _progress_bar(total: int | None, filename: str, enabled: bool) -> Any:
    """A byte progress bar on stderr (size, speed, ETA); a no-op bar when not ``enabled``."""
    return tqdm(
        total=total,
        desc=filename,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        dynamic_ncols=True,
        file=sys.stderr,
        disable=not enabled,
    )


def _check_download(
    spec: WeightsSpec,
    url: str,
    part: Path,
    received: int,
    expected: int | None,
    digest: str,
    advice: str,
) -> None:
    if expected is not None and received != expected:
        raise WeightsError(
            f"download of {spec.filename} from {url} stopped after {received} of {expected} bytes; "
            f"try again, or {advice}"
        )
    if spec.size is not None and received != spec.size:
        raise WeightsError(
            f"downloaded {spec.filename} from {url} has {received} bytes, expected {spec.size}, "
            f"so it was discarded; {advice}"
        )
    if spec.sha256 is not None:
        if not digest.startswith(spec.sha256):
            raise WeightsError(
                f"downloaded {spec.filename} from {url} does not match its published checksum "
                f"(sha256 {digest}, expected {_published(spec.sha256)}), so it was discarded; {advice}"
            )
        return
    # Without a published checksum, at least make sure it is what it claims to be.
    _check_state_dict(spec, url, part, advice)


def _check_state_dict(spec: WeightsSpec, url: str, part: Path, advice: str) -> None:
    read_state_dict(part, f"downloaded {spec.filename} from {url}", f"so it was discarded; {advice}")


def read_state_dict(path: Path, what: str, advice: str) -> dict[str, Any]:
    """Load a PyTorch state dict (tensors only, ``weights_only``) on the CPU.

    Anything else raises :class:`WeightsError` as "``what`` is not a PyTorch checkpoint (reason);
    ``advice``".
    """
    import torch

    try:
        state_dict = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for a foreign or damaged file
        raise WeightsError(f"{what} is not a PyTorch checkpoint ({type(exc).__name__}); {advice}") from exc
    if not (
        isinstance(state_dict, dict)
        and state_dict
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state_dict.items())
    ):
        raise WeightsError(f"{what} is not a PyTorch checkpoint (no state dict of tensors); {advice}")
    return state_dict


def _published(sha256: str) -> str:
    """A published sha256 as a message shows it: a prefix ends in an ellipsis."""
    return sha256 if len(sha256) == 64 else f"{sha256}..."


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
