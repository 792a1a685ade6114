"""OHIF's prebuilt viewer (``npm pack @ohif/app``'s ``dist/``) served under a sub-path of the ptxseg server.

The build expects to live at the site's root: its ``index.html`` names every file as ``/name`` and its bundles load
their chunks from webpack's public path ``"/"``. Both are rewritten to the sub-path as the files are served, so
the viewer shares the server's origin (its token cookie, no CORS) without a rebuild.
"""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path

__all__ = ["VIEWER_PATH", "ViewerFiles", "default_viewer_dir"]

VIEWER_PATH = "/viewer"
_VIEWER_DIR_VARIABLE = "PTXSEG_VIEWER_DIR"
_PUBLIC_PATH = b'__webpack_require__.p = "/";'
_MEDIA_TYPES = {".wasm": "application/wasm", ".js": "text/javascript", ".mjs": "text/javascript"}


def default_viewer_dir() -> Path:
    """Where ``scripts/setup_viewer.sh`` unpacks the viewer (``$PTXSEG_VIEWER_DIR``, else ``.viewer/package/dist``
    in the checkout).

    Example:
        >>> default_viewer_dir().name
        'dist'
    """
    configured = os.environ.get(_VIEWER_DIR_VARIABLE)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[4] / ".viewer" / "package" / "dist"


class ViewerFiles:
    """The files of one OHIF ``dist/`` folder, as served under ``VIEWER_PATH``.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "index.html").write_text('<script>window.PUBLIC_URL="/"</script><a href="/x.css">')
        >>> content, media_type = ViewerFiles(folder).read("viewer")  # an OHIF route: the page itself
        >>> content.decode(), media_type
        ('<script>window.PUBLIC_URL="/viewer/"</script><a href="/viewer/x.css">', 'text/html')
    """

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder).resolve()

    def installed(self) -> bool:
        """Whether the folder holds a viewer build (its ``index.html``)."""
        return (self.folder / "index.html").is_file()

    def read(self, relative: str) -> tuple[bytes, str]:
        """The bytes and media type served for ``relative`` (a path under ``VIEWER_PATH``); a path that names no
        file is one of OHIF's own routes (``viewer``, ``segmentation``...) and gets ``index.html``.

        Raises:
            FileNotFoundError: the viewer is not installed (run ``scripts/setup_viewer.sh``).
        """
        if not self.installed():
            raise FileNotFoundError(f"no OHIF viewer in {self.folder}: run scripts/setup_viewer.sh")
        path = (self.folder / relative).resolve()
        if not path.is_relative_to(self.folder) or not path.is_file():
            path = self.folder / "index.html"
        content = path.read_bytes()
        if path.name == "index.html":
            base = f"{VIEWER_PATH}/".encode()
            content = content.replace(b'PUBLIC_URL="/"', b'PUBLIC_URL="' + base + b'"')
            content = content.replace(b'href="/', b'href="' + base).replace(b'src="/', b'src="' + base)
        elif path.suffix == ".js":
            content = content.replace(_PUBLIC_PATH, f'__webpack_require__.p = "{VIEWER_PATH}/";'.encode())
        media_type = _MEDIA_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return content, media_type
