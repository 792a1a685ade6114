"""The studies folder as MONAI Label sees it, made safe for chest X-rays from a hospital.

Fixes the stock LocalDatastore's weak spots for this use: dotted SIIM UIDs lose their tail as a fake extension,
``.dcm`` is not listed, any file is accepted as a label, tags and ids can walk out of the folder, and copies are
not atomic. Images that cannot be read are flagged once (cached by size and mtime) and never offered for labelling.
The index (``datastore_v2.json``) is written atomically, and a torn one (a crash mid-write under an older version, a
full disk) is set aside and rebuilt from the studies and labels on disk instead of stopping the server.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from fastapi import HTTPException
from filelock import FileLock
from monailabel.datastore.local import DataModel, ImageLabelModel, LocalDatastore

from ptxseg.io.atomic import atomic_write, storage_full
from ptxseg.io.labels import read_label, write_label
from ptxseg.io.reader import SUPPORTED_SUFFIXES, read_cxr
from ptxseg.io.reader import image_id as id_of_file
from ptxseg.serving.monitoring.store import MonitorStore

LOGGER = logging.getLogger(__name__)

STUDY_PATTERNS = [f"*{suffix}" for suffix in SUPPORTED_SUFFIXES]
LABEL_TAGS = ("final", "original")
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
SAFE_ID_RULE = "letters, digits, '.', '_' and '-' (at most 200, no '..')"
UNREADABLE_KEY = "ptx_unreadable"
CHECKED_KEY = "ptx_checked"


def is_safe_id(candidate) -> bool:
    """Whether an id cannot act as a path: letters, digits, '.', '_' and '-' only, no '..', at most 200 chars."""
    return isinstance(candidate, str) and bool(SAFE_ID.match(candidate)) and ".." not in candidate


def check_image_id(candidate: str) -> str:
    """The id itself, or a 400 HTTP error when it could act as a path (see ``is_safe_id``)."""
    if not is_safe_id(candidate):
        raise HTTPException(400, f"invalid image id {str(candidate)[:80]!r}: use {SAFE_ID_RULE}")
    return candidate


@contextmanager
def _storage_full_is_507(what: str):
    """A write that finds no room (disk full, quota, file size limit) is a 507 saying so, not a 500: the atomic writes
    leave the previous file as it was and no partial file behind."""
    try:
        yield
    except OSError as error:
        if not storage_full(error):
            raise
        LOGGER.error("no room to save %s: %s", what, error)
        raise HTTPException(
            507,
            f"the server has no room to save {what} ({error.strerror}); nothing was changed: "
            "ask its administrator to free disk space, then send it again",
        ) from error


@contextmanager
def _removed_when_refused(upload: str):
    """Delete a refused upload's temporary copy: the stock endpoints delete it in a background task, which never
    runs when the request fails, so every refused upload would stay in the temp folder."""
    try:
        yield
    except Exception:
        Path(upload).unlink(missing_ok=True)
        raise


class PtxsegDatastore(LocalDatastore):
    """LocalDatastore with UID-safe ids, validated labels and atomic writes.

    Args:
        studies: the studies folder (images at the top, labels under ``labels/<tag>/``).
        max_upload_bytes: largest accepted label or image upload.
        monitor: where final labels are recorded for real-world agreement (None: not recorded).
    """

    def __init__(
        self,
        studies: str,
        max_upload_bytes: int,
        monitor: MonitorStore | None = None,
        auto_reload: bool = False,
        read_only: bool = False,
    ):
        self.max_upload_bytes = max_upload_bytes
        self.monitor = monitor
        super().__init__(studies, extensions=STUDY_PATTERNS, auto_reload=auto_reload, read_only=read_only)
        if not read_only:
            self._flag_unreadable_images()

    def _init_from_datastore_file(self, throw_exception=False):
        # The stock reader stops the server on an index that does not parse (and later ignores it, logging an error
        # on every reload): set it aside once; the reconciliation that follows rebuilds it from the files.
        try:
            super()._init_from_datastore_file(throw_exception=True)
        except ValueError as error:
            index = Path(self._datastore_config_path)
            torn = index.with_name(f"{index.name}.torn-{datetime.now(timezone.utc):%Y%m%dT%H%M%S%f}")
            os.replace(index, torn)
            LOGGER.warning(
                "the datastore index %s does not parse (%s); kept as %s and rebuilt from the studies and labels on "
                "disk (cached scores and flags are recomputed)",
                index.name,
                str(error).splitlines()[0][:200],
                torn.name,
            )

    def _update_datastore_file(self, lock=True):
        # The stock version rewrites the index in place: a crash mid-write leaves half a file.
        if lock:
            with FileLock(self._lock_file):
                self._write_index()
        else:
            self._write_index()

    def _write_index(self) -> None:
        self._ignore_event_config = True
        with atomic_write(self._datastore_config_path) as temporary:
            temporary.write_text(json.dumps(self._datastore.model_dump(exclude={"base_path"}), indent=2, default=str))
        self._config_ts = os.stat(self._datastore_config_path).st_mtime

    def _to_id(self, file: str) -> tuple[str, str]:
        # The stock version takes a UID's last component for an extension and replaces every occurrence of it.
        stem = id_of_file(file)
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
                if not is_safe_id(identifier):
                    raise ValueError(f"its file name is no safe image id: rename {path.name} to {SAFE_ID_RULE}")
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

    def image_files_folder(self) -> Path:
        """Where the served images lie as files (int8 calibrates on them): the studies folder itself."""
        return self.studies_folder()

    def unreadable_reason(self, identifier: str) -> str | None:
        """Why a study cannot be read, or None."""
        obj = self._datastore.objects.get(identifier)
        return obj.image.info.get(UNREADABLE_KEY) if obj else None

    def get_unlabeled_images(self, label_tag=None, labels=None) -> list[str]:
        """Unlabelled studies that can be read (an unreadable one would only stall an annotator)."""
        return [i for i in super().get_unlabeled_images(label_tag, labels) if not self.unreadable_reason(i)]

    def check_known(self, identifier: str) -> str:
        """A safe id of a study in the folder; 400 for a hostile id, 404 for an unknown one."""
        check_image_id(identifier)
        if identifier not in self._datastore.objects:
            raise HTTPException(404, f"image {identifier!r} not found in the studies folder")
        return identifier

    def image_path(self, identifier: str) -> Path:
        """The file of a known, readable study; 404/422 HTTP errors otherwise (ids are never used as paths)."""
        self.check_known(identifier)
        reason = self.unreadable_reason(identifier)
        if reason:
            raise HTTPException(422, f"image {identifier!r} cannot be read: {reason}")
        return Path(self.get_image_uri(identifier))

    def get_image_info(self, image_id: str) -> dict:
        """A known study's info (the stock answer for an unknown id is an empty 200)."""
        return super().get_image_info(self.check_known(image_id))

    def remove_image(self, image_id: str) -> None:
        """Delete a study and its labels; 400 for a hostile id, 404 for an unknown one."""
        super().remove_image(self.check_known(image_id))

    def get_label_info(self, label_id: str, label_tag: str) -> dict:
        """A stored label's info; 404 when there is none (the stock answer is an empty 200)."""
        return super().get_label_info(self._check_label(label_id, label_tag), label_tag)

    def remove_label(self, label_id: str, label_tag: str) -> None:
        """Delete a stored label; 404 when there is none (the stock call silently does nothing)."""
        super().remove_label(self._check_label(label_id, label_tag), label_tag)

    def _check_label(self, identifier: str, tag: str) -> str:
        self.check_known(identifier)
        if self._datastore.label(identifier, tag) is None:
            raise HTTPException(404, f"image {identifier!r} has no label tagged {str(tag)[:40]!r}")
        return identifier

    def save_label(self, image_id: str, label_filename: str, label_tag: str, label_info: dict) -> str:
        """Validate an uploaded label against its image, then store it atomically as ``<id>.nrrd``.

        The label must lie on the image's grid (shape, spacing, origin, direction) and hold only 0 and 1;
        otherwise a 4xx says what is wrong and nothing is written.
        """
        with _removed_when_refused(label_filename):
            image, values = self._validated_label(image_id, label_filename, label_tag)
            with _storage_full_is_507(f"the label of {image_id!r}"):
                return self._store_label(image_id, values.astype(bool), image, label_tag, label_info)

    def _validated_label(self, image_id: str, label_filename: str, label_tag: str):
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
        return image, values

    def _store_label(self, identifier: str, mask: np.ndarray, image, tag: str, info: dict) -> str:
        folder = Path(self._datastore.label_path(tag))
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{identifier}.nrrd"
        with FileLock(self._lock_file):
            write_label(mask, like=image, path=folder / name)
            if tag == "final" and self.monitor is not None:
                self.monitor.record_label(identifier, mask)
            obj = self._datastore.objects[identifier]
            previous = obj.labels.get(tag)
            if previous is not None and previous.ext != ".nrrd":
                (folder / f"{identifier}{previous.ext}").unlink(missing_ok=True)
            info = {**(info or {}), "ts": int(time.time()), "name": name}
            obj.labels[tag] = DataModel(info=info, ext=".nrrd")
            self._update_datastore_file(lock=False)
        return identifier

    def add_image(self, image_id: str, image_filename: str, image_info: dict) -> str:
        """Accept an uploaded study only with a new safe id, a known suffix and readable pixels.

        An existing study is never replaced: its labels lie on its grid and would silently stop matching.
        """
        with _removed_when_refused(image_filename):
            suffix = self._validated_upload(image_id, image_filename)
            self._store_image(image_id, image_filename, suffix, image_info)
        return image_id

    def _store_image(self, image_id: str, image_filename: str, suffix: str, image_info: dict) -> None:
        name = f"{image_id}{suffix}"
        target = Path(self._datastore.image_path()) / name
        # The stock version copies in place: a full disk would leave half a study that the next start lists.
        with _storage_full_is_507(f"image {image_id!r}"), FileLock(self._lock_file):
            with atomic_write(target) as temporary:
                shutil.copyfile(image_filename, temporary)
            info = {**(image_info or {}), "ts": int(time.time()), "name": name}
            self._datastore.objects[image_id] = ImageLabelModel(image=DataModel(info=info, ext=suffix))
            try:
                self._update_datastore_file(lock=False)
            except OSError:
                del self._datastore.objects[image_id]
                target.unlink()
                raise

    def _validated_upload(self, image_id: str, image_filename: str) -> str:
        check_image_id(image_id)
        if image_id in self._datastore.objects:
            raise HTTPException(409, f"image {image_id!r} already exists; delete it first or upload under another id")
        size = os.path.getsize(image_filename)
        if size > self.max_upload_bytes:
            raise HTTPException(413, f"image upload of {size} bytes exceeds the limit of {self.max_upload_bytes}")
        name = Path(image_filename).name
        suffix = name[len(id_of_file(name)) :].lower()
        if suffix not in SUPPORTED_SUFFIXES:
            raise HTTPException(415, f"unsupported image type {suffix!r}; use one of {', '.join(SUPPORTED_SUFFIXES)}")
        try:
            read_cxr(image_filename)
        except ValueError as error:
            reason = str(error).replace(image_filename, "the upload")
            raise HTTPException(422, f"image {image_id!r} rejected: {reason}") from error
        return suffix
