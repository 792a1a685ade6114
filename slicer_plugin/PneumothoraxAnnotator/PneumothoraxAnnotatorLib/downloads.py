"""Downloaded studies hold patient data: keep only the open image's files, remove the rest.

One folder per opened image under the module's temporary folder; opening the next image removes the previous
one's, closing the scene or the module removes everything, and a start removes what a crash left behind.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from .filenames import safe_stem

__all__ = ["DownloadFolder"]


class DownloadFolder:
    """The module's downloads under ``root``.

    Example:
        >>> import tempfile
        >>> downloads = DownloadFolder(Path(tempfile.mkdtemp()) / "PneumothoraxAnnotator")
        >>> first = downloads.for_image("1.2.3")
        >>> second = downloads.for_image("1.2.4")
        >>> first.exists(), second.exists()
        (False, True)
        >>> downloads.clear(); second.exists()
        False
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.current: Path | None = None

    def for_image(self, image_id: str) -> Path:
        """A new empty folder for ``image_id``'s files; every other image's folder is removed."""
        self.clear()
        self.root.mkdir(parents=True, exist_ok=True)
        self.current = Path(tempfile.mkdtemp(prefix=f"{safe_stem(image_id)[:40]}-", dir=self.root))
        return self.current

    def clear(self) -> None:
        """Remove every downloaded file."""
        shutil.rmtree(self.root, ignore_errors=True)
        self.current = None
