"""The prediction SEGs (AUTOMATIC) a PACS holds, decoded and grouped by the instance each outlines."""

from __future__ import annotations

from pathlib import Path

from ptxseg.io.seg import SegContent, read_seg


def automatic_segs(orthanc, folder: Path) -> dict[str, list[SegContent]]:
    """Every AUTOMATIC SEG in ``orthanc``, by referenced SOP Instance UID (``folder`` holds the download)."""
    found: dict[str, list[SegContent]] = {}
    for item in orthanc.instances("SEG"):
        (folder / "seg.dcm").write_bytes(orthanc.file(item["id"]))
        content = read_seg(folder / "seg.dcm")
        if content.algorithm_type == "AUTOMATIC":
            found.setdefault(content.referenced_sop_instance_uid, []).append(content)
    return found
