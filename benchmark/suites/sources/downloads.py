"""Single files published at a URL (not in a hub repo), downloaded once and kept by content.

A file is kept as ``<downloads>/<sha256>/<name>``: a pinned file already there is used without
the network, and a download whose hash differs from the pin is deleted and refused. The HTTP
client is ``huggingface_hub``'s (retries, resumption, progress bar, proxy settings).
"""

from __future__ import annotations

import os
from pathlib import Path

from benchmark._files import sha256_file
from benchmark.errors import SourceError


def download_file(
    url: str, name: str, sha256: str | None, downloads: Path, *, mirror_hint: str = ""
) -> tuple[Path, str]:
    """The file at ``url`` on this machine, and its sha256 (checked against ``sha256``).

    ``mirror_hint`` is the folder the file takes in a mirror, named in the error raised when
    the download fails.
    """
    from huggingface_hub.file_download import http_get

    if sha256 is not None:
        cached = downloads / sha256 / name
        if cached.is_file():
            return cached, sha256
    downloads.mkdir(parents=True, exist_ok=True)
    partial = downloads / f".{name}.{os.getpid()}.partial"
    try:
        with partial.open("wb") as out:
            http_get(url, out, displayed_filename=name)
        digest = sha256_file(partial)
        if sha256 is not None and digest != sha256:
            raise SourceError(
                f"{url}: the download has sha256 {digest}, the suite pins {sha256} (the file "
                "changed upstream or the download is damaged); nothing was kept"
            )
        final = downloads / digest / name
        final.parent.mkdir(exist_ok=True)
        os.replace(partial, final)
    except SourceError:
        raise
    except Exception as exc:  # the HTTP stack raises many types; report one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        where = f"DIR/{mirror_hint}/{name}" if mirror_hint else f"DIR/{name}"
        raise SourceError(
            f"cannot download {url}: {type(exc).__name__}: {first} (or prepare from a local "
            f"mirror with --from DIR, the file at {where})"
        ) from None
    finally:
        partial.unlink(missing_ok=True)
    return final, digest
