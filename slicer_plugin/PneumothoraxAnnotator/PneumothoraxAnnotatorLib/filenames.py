"""Safe local file names for server-side ids, and file suffixes recognised from names or magic bytes.

Image ids come from the server and are never trusted as paths: SIIM ids are DICOM UIDs full of dots, and a
hostile or broken server could send ``../../.bashrc``. Every download lands directly inside the folder the
caller chose, under a name that keeps readable ids readable.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

__all__ = ["KNOWN_SUFFIXES", "safe_path", "safe_stem", "suffix_from_magic", "suffix_from_name"]

# Longest first, so ".nii.gz" wins over ".gz" and ".seg.nrrd" over ".nrrd".
KNOWN_SUFFIXES = (".seg.nrrd", ".nii.gz", ".nrrd", ".nii", ".dcm", ".png", ".jpg", ".jpeg", ".mha", ".tif", ".tiff")

_UNSAFE_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]")
_MAX_STEM_LENGTH = 120
# Names Windows refuses whatever the extension (Slicer runs on Windows too).
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{port}{n}" for port in ("COM", "LPT") for n in range(1, 10)}


def safe_stem(image_id: str) -> str:
    """A file-name stem for ``image_id``: the id itself when harmless, else a cleaned id plus a short hash.

    The hash keeps two different hostile ids from landing on the same file.

    Example:
        >>> safe_stem("1.2.276.0.7230010.3.1.4.8323329.5597.1517875188.959090")
        '1.2.276.0.7230010.3.1.4.8323329.5597.1517875188.959090'
        >>> safe_stem("../../etc/passwd").startswith("etc_passwd-")
        True
    """
    if not isinstance(image_id, str) or not image_id:
        raise ValueError(f"image id must be a non-empty string, got {image_id!r}; ask the server for the next image")
    cleaned = _UNSAFE_CHARACTERS.sub("_", image_id).lstrip("._")[:_MAX_STEM_LENGTH]
    is_reserved = cleaned.split(".")[0].upper() in _WINDOWS_RESERVED
    if cleaned == image_id and not is_reserved:
        return cleaned
    digest = hashlib.sha256(image_id.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{cleaned}-{digest}" if cleaned else f"id-{digest}"


def safe_path(dest_dir: str | Path, image_id: str, suffix: str) -> Path:
    """``dest_dir / (safe_stem(image_id) + suffix)``, checked to lie directly inside ``dest_dir``.

    Example:
        >>> safe_path("/tmp/images", "../x", ".dcm").parent
        PosixPath('/tmp/images')
    """
    if suffix not in KNOWN_SUFFIXES and suffix != ".bin":
        raise ValueError(f"suffix {suffix!r} is not one of {KNOWN_SUFFIXES + ('.bin',)}")
    folder = Path(dest_dir).resolve()
    path = folder / f"{safe_stem(image_id)}{suffix}"
    if path.resolve().parent != folder:
        raise ValueError(f"refusing to write {path}: it is not directly inside {folder}")
    return path


def suffix_from_name(filename: str | None) -> str | None:
    """The known suffix ``filename`` ends with (case-insensitive), or None.

    Example:
        >>> suffix_from_name("1.2.840.113619.dcm"), suffix_from_name("label.NII.GZ"), suffix_from_name("x.exe")
        ('.dcm', '.nii.gz', None)
    """
    lowered = (filename or "").lower()
    return next((suffix for suffix in KNOWN_SUFFIXES if lowered.endswith(suffix)), None)


def suffix_from_magic(head: bytes) -> str | None:
    """The suffix of a file recognised from its first bytes (at least 352 for NIfTI), or None.

    Example:
        >>> suffix_from_magic(b"NRRD0004\\n"), suffix_from_magic(b"\\x89PNG\\r\\n\\x1a\\n")
        ('.nrrd', '.png')
    """
    if head.startswith(b"NRRD"):
        return ".nrrd"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return ".png"
    if head.startswith(b"\xff\xd8\xff"):
        return ".jpg"
    if head.startswith(b"\x1f\x8b"):
        return ".nii.gz"  # the only gzip-compressed format a MONAI Label server sends
    if head[128:132] == b"DICM":
        return ".dcm"
    if head[344:348] in (b"n+1\x00", b"n+2\x00"):
        return ".nii"
    return None
