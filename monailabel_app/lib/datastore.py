"""The studies folder as MONAI Label sees it, made safe for chest X-rays from a hospital.

Fixes the stock LocalDatastore's weak spots for this use: dotted SIIM UIDs lose their tail as a fake extension,
``.dcm`` is not listed, any file is accepted as a label, tags and ids can walk out of the folder, and copies are
not atomic. Images that cannot be read are flagged once (cached by size and mtime) and never offered for labelling.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from fastapi import HTTPException
from filelock import FileLock
from monailabel.datastore.local import DataModel, LocalDatastore

from ptxseg.io import SUPPORTED_SUFFIXES, image_id, read_cxr, read_label, write_label

LOGGER = logging.getLogger(__name__)

STUDY_PATTERNS = [f"*{suffix}" for suffix in SUPPORTED_SUFFIXES]
LABEL_TAGS = ("final", "original")
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
UNREADABLE_KEY = "ptx_unreadable"
CHECKED_KEY = "ptx_checked"


def check_image_id(candidate: str) -> str:
    """Refuse ids that could act as paths: letters, digits, '.', '_' and '-' only, no '..', at most 200 chars."""
    if not isinstance(candidate, str) or not SAFE_ID.match(candidate) or ".." in candidate:
        raise HTTPException(400, f"invalid image id {str(candidate)[:80]!r}: use letters, digits, '.', '_' and '-'")
    return candidate


class PtxsegDatastore(LocalDatastore):
    """LocalDatastore with UID-safe ids, validated labels and atomic writes.

    Args:
        studies: the studies folder (images at the top, labels under ``labels/<tag>/``).
        max_upload_bytes: largest accepted label or image upload.
    """

    def __init__(self, studies: str, max_upload_bytes: int, auto_reload: bool = False, read_only: bool = False):
        self.max_upload_bytes = max_upload_bytes
        super().__init__(studies, extensions=STUDY_PATTERNS, auto_reload=auto_reload, read_only=read_only)
        if not read_only:
            self._flag_unreadable_images()

    def _to_id(self, file: str) -> tuple[str, str]:
        # The stock version takes a UID's last component for an extension and replaces every occurrence of it.
        stem = image_id(file)
        return stem, file[len(stem) :]

    def _flag_unreadable_images(self) -> None:
        changed = False
        for identifier, obj in self._datastore.objects.items():
            path = Path(self.get_image_uri(identifier))
            stat = path.stat()
            stamp = [stat.st_size, stat.st_mtime_ns]
            if obj.image.info.get(CHECKED_KEY) == stamp:
                continue
            try:
                read_cxr(path)
                obj.image.info.pop(UNREADABLE_KEY, None)
            except ValueError as error:
                reason = str(error).replace(str(path), path.name)
                obj.image.info[UNREADABLE_KEY] = reason
                LOGGER.warning("skipping unreadable study %s: %s", identifier, reason)
            obj.image.info[CHECKED_KEY] = stamp
            changed = True
        if changed:
            self._update_datastore_file()

    def studies_folder(self) -> Path:
        """The studies folder this datastore serves."""
        return Path(self._datastore_path)

    def unreadable_reason(self, identifier: str) -> str | None:
        """Why a study cannot be read, or None."""
        obj = self._datastore.objects.get(identifier)
        return obj.image.info.get(UNREADABLE_KEY) if obj else None

    def get_unlabeled_images(self, label_tag=None, labels=None) -> list[str]:
        """Unlabelled studies that can be read (an unreadable one would only stall an annotator)."""
        return [i for i in super().get_unlabeled_images(label_tag, labels) if not self.unreadable_reason(i)]

    def image_path(self, identifier: str) -> Path:
        """The file of a known, readable study; 404/422 HTTP errors otherwise (ids are never used as paths)."""
        check_image_id(identifier)
        if identifier not in self._datastore.objects:
            raise HTTPException(404, f"image {identifier!r} not found in the studies folder")
        reason = self.unreadable_reason(identifier)
        if reason:
            raise HTTPException(422, f"image {identifier!r} cannot be read: {reason}")
        return Path(self.get_image_uri(identifier))

    def save_label(self, image_id: str, label_filename: str, label_tag: str, label_info: dict) -> str:
        """Validate an uploaded label against its image, then store it atomically as ``<id>.nrrd``.

        The label must lie on the image's grid (shape, spacing, origin, direction) and hold only 0 and 1;
        otherwise a 4xx says what is wrong and nothing is written.
        """
        if label_tag not in LABEL_TAGS:
            raise HTTPException(400, f"label tag must be one of {list(LABEL_TAGS)}, got {str(label_tag)[:40]!r}")
        image = read_cxr(self.image_path(image_id))
        size = os.path.getsize(label_filename)
        if size > self.max_upload_bytes:
            raise HTTPException(413, f"label upload of {size} bytes exceeds the limit of {self.max_upload_bytes}")
        try:
            values = read_label(label_filename, like=image)
        except ValueError as error:
            message = str(error).replace(str(label_filename), "upload").replace(Path(label_filename).name, "upload")
            raise HTTPException(422, f"label for {image_id!r} rejected: {message}") from error
        if not np.isin(values, (0, 1)).all():
            found = np.unique(values)[:8].tolist()
            raise HTTPException(422, f"label for {image_id!r} must hold only 0 and 1 (pneumothorax), found {found}")
        return self._store_label(image_id, values.astype(bool), image, label_tag, label_info)

    def _store_label(self, identifier: str, mask: np.ndarray, image, tag: str, info: dict) -> str:
        folder = Path(self._datastore.label_path(tag))
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{identifier}.nrrd"
        with FileLock(self._lock_file):
            write_label(mask, like=image, path=folder / name)
            obj = self._datastore.objects[identifier]
            previous = obj.labels.get(tag)
            if previous is not None and previous.ext != ".nrrd":
                (folder / f"{identifier}{previous.ext}").unlink(missing_ok=True)
            info = {**(info or {}), "ts": int(time.time()), "name": name}
            obj.labels[tag] = DataModel(info=info, ext=".nrrd")
            self._update_datastore_file(lock=False)
        return identifier

    def add_image(self, image_id: str, image_filename: str, image_info: dict) -> str:
        """Accept an uploaded study only with a safe id, a known suffix and readable pixels."""
        check_image_id(image_id)
        size = os.path.getsize(image_filename)
        if size > self.max_upload_bytes:
            raise HTTPException(413, f"image upload of {size} bytes exceeds the limit of {self.max_upload_bytes}")
        name = Path(image_filename).name
        suffix = name[len(image_id(name)) :]
        if suffix.lower() not in SUPPORTED_SUFFIXES:
            raise HTTPException(415, f"unsupported image type {suffix!r}; use one of {', '.join(SUPPORTED_SUFFIXES)}")
        try:
            read_cxr(image_filename)
        except ValueError as error:
            reason = str(error).replace(image_filename, "the upload")
            raise HTTPException(422, f"image {image_id!r} rejected: {reason}") from error
        with tempfile.TemporaryDirectory() as folder:
            staged = Path(folder) / f"{image_id}{suffix.lower()}"
            shutil.copyfile(image_filename, staged)
            return super().add_image(image_id, str(staged), image_info)
