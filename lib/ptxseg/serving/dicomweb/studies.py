"""The PACS's CR/DX instances as the studies ptxseg serves: one image per SOP instance, labels as DICOM SEG.

What MONAI Label's own DICOMweb datastore does not (measured on 0.8.5): any modality list (CR and DX by default,
never a CT), one image per SOP instance rather than a series converted to NIfTI, every result page, new instances
picked up while running (the list is searched again after ``refresh_s``), and nothing downloaded at start but the
PACS's own data. The same methods as MONAI Label's ``Datastore``, so an app adapter only maps errors to HTTP.

Local state (the folder given): ``images/`` the bounded cache, ``labels/<tag>/<uid>.nrrd`` labels on their
image's grid (for training), ``outbox/`` SEGs waiting for the PACS, and ``studies.json`` (instance list, image
info such as scores, where each label came from). A submitted label is written locally first and then sent to the
PACS as a MANUAL SEG; when the PACS is down it waits in the outbox and is sent on the next refresh (its SEG UID is
derived from its content, so a resend never makes a second copy); a SEG the PACS refuses while it answers (a 409) is
moved to ``outbox/rejected/`` with the reason, so it never holds up the ones behind it.

The instance list is kept up to date incrementally, so an idle server's load grows with what is new, not with the
archive: a full search at start and every ``full_scan_s``, in between only studies dated from the day before the
newest one seen (QIDO date range matching). SEGs are searched only in the studies of served images, once each,
and never held under the lock: requests are answered from the last list while a search runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pydicom
from filelock import FileLock
from pydicom.uid import generate_uid

from ptxseg.io.atomic import write_text_atomically
from ptxseg.io.labels import read_label, write_label
from ptxseg.io.reader import read_cxr
from ptxseg.io.seg import correction_seg, read_seg
from ptxseg.serving.dicomweb.cache import InstanceCache
from ptxseg.serving.dicomweb.changes import OrthancChanges, change_feed
from ptxseg.serving.dicomweb.client import InstanceRef, PacsClient, PacsUnavailable

__all__ = ["LABEL_TAGS", "PacsStudies", "UnknownImage"]

LOGGER = logging.getLogger(__name__)
LABEL_TAGS = ("final", "original")
STATE_NAME = "studies.json"


class UnknownImage(KeyError):
    """An id that is not a served instance (a 404)."""


@dataclass
class _Image:
    ref: InstanceRef
    info: dict


class PacsStudies:
    """The served instances of one PACS.

    Args:
        client: the PACS.
        folder: local state (cache, labels, outbox, ``studies.json``).
        modalities: modalities served (one image per SOP instance).
        for_processing: also serve DX "for processing" instances.
        cache_bytes: bound of the image cache.
        refresh_s: how old the instance list may be before a request searches the PACS again (for new studies).
        full_scan_s: how often the whole archive is searched (studies that arrive with an old date are found then).

    Example:
        >>> studies = PacsStudies(PacsClient("http://127.0.0.1:8042/dicom-web"), "pacs-state")  # doctest: +SKIP
        >>> studies.list_images()[:1]  # doctest: +SKIP
        ['1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819']
    """

    def __init__(
        self,
        client: PacsClient,
        folder: str | os.PathLike,
        modalities: tuple[str, ...] = ("CR", "DX"),
        for_processing: bool = False,
        cache_bytes: int = 2 * 2**30,
        refresh_s: float = 10.0,
        full_scan_s: float = 3600.0,
    ):
        self.client = client
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.modalities = tuple(modalities)
        self.for_processing = for_processing
        self.refresh_s = refresh_s
        self.full_scan_s = full_scan_s
        self.cache = InstanceCache(self.folder / "images", cache_bytes)
        self.outbox = self.folder / "outbox"
        self.outbox.mkdir(exist_ok=True)
        self._lock = threading.RLock()
        self._refresh_lock = threading.Lock()
        self._file_lock = FileLock(self.folder / f".{STATE_NAME}.lock")
        self._searched = 0.0
        self._full_scan = 0.0
        self._feed: OrthancChanges | None = None
        self.last_error: str | None = None
        self._images: dict[str, _Image] = {}
        self._labels: dict[str, dict[str, dict]] = {}
        self._known_segs: set[str] = set()
        self._load()

    # ---- state ---------------------------------------------------------------------------------------------
    def _load(self) -> None:
        path = self.folder / STATE_NAME
        if not path.is_file():
            return
        state = json.loads(path.read_text())
        self._images = {uid: _Image(InstanceRef(**v["ref"]), v["info"]) for uid, v in state["images"].items()}
        self._labels = state["labels"]
        self._known_segs = set(state["known_segs"])

    def _save(self) -> None:
        state = {
            "images": {uid: {"ref": asdict(image.ref), "info": image.info} for uid, image in self._images.items()},
            "labels": self._labels,
            "known_segs": sorted(self._known_segs),
        }
        with self._file_lock:
            write_text_atomically(self.folder / STATE_NAME, json.dumps(state))

    # ---- the instance list ---------------------------------------------------------------------------------
    def refresh(self, force: bool = False) -> None:
        """Search the PACS again when the list is older than ``refresh_s`` (or ``force``): new instances, new
        MANUAL SEGs (labels made elsewhere), and send waiting SEGs. A PACS outage keeps the last list and is
        remembered in ``last_error``; it raises only with ``force``. A request that finds a search under way is
        answered from the last list (only a forced refresh waits for it)."""
        if not force and time.monotonic() - self._searched < self.refresh_s:
            return
        if not self._refresh_lock.acquire(blocking=force):
            return
        try:
            full = time.monotonic() - self._full_scan >= self.full_scan_s or not self._full_scan
            refs = self._search_all() if full else self._search_new()
            with self._lock:
                new = [ref for ref in refs if ref.sop_uid not in self._images]
                for ref in new:
                    self._images[ref.sop_uid] = _Image(ref, {})
            self._import_pacs_labels(None if full else {ref.study_uid for ref in new})
            self._send_outbox()
            self.last_error = None
            if full:
                self._full_scan = time.monotonic()
        except PacsUnavailable as error:
            self.last_error = str(error)
            LOGGER.warning("PACS search failed, serving the last known list: %s", error)
            if force:
                raise
        finally:
            self._searched = time.monotonic()
            self._refresh_lock.release()
            with self._lock:
                self._save()

    def _search_all(self) -> list[InstanceRef]:
        if self._feed is None:
            self._feed = change_feed(self.client)  # positioned before the search: nothing arrives unseen
        return list(self.client.search_instances(self.modalities, self.for_processing))

    def _search_new(self) -> list[InstanceRef]:
        """Instances of the studies the change feed names, else of the studies dated from the day before the
        newest one seen."""
        if self._feed is not None:
            studies = sorted(self._feed.new_studies())
            return [
                ref
                for study in studies
                for ref in self.client.search_instances(self.modalities, self.for_processing, study_uid=study)
            ]
        return list(self.client.search_instances(self.modalities, self.for_processing, self._since()))

    def _since(self) -> str | None:
        """The first study date an incremental search asks for: the day before the newest study seen."""
        with self._lock:
            dates = [image.ref.study_date[:8] for image in self._images.values() if len(image.ref.study_date) >= 8]
        if not dates:
            return None
        try:
            newest = datetime.strptime(max(dates), "%Y%m%d")
        except ValueError:  # a date the PACS wrote wrong: search everything
            return None
        return (newest - timedelta(days=1)).strftime("%Y%m%d")

    def list_images(self) -> list[str]:
        """SOP Instance UIDs of every served image."""
        self.refresh()
        with self._lock:  # pre-screening refreshes from its own thread
            return sorted(self._images)

    def ref(self, image_id: str) -> InstanceRef:
        """Where an image lives in the PACS; ``UnknownImage`` when it is not served."""
        self.refresh()
        image = self._images.get(image_id)
        if image is None:
            raise UnknownImage(image_id)
        return image.ref

    def get_image_uri(self, image_id: str) -> str:
        """The image's local file, fetched from the PACS once (``PacsUnavailable`` when it is needed and down)."""
        ref = self.ref(image_id)
        return str(self.cache.get(image_id, lambda: self.client.retrieve(ref)))

    def get_image_info(self, image_id: str) -> dict:
        """What the search said (study, series, modality, acquisition time) and the info stored for it."""
        ref = self.ref(image_id)
        return {**asdict(ref), **self._images[image_id].info}

    def update_image_info(self, image_id: str, info: dict) -> None:
        """Merge ``info`` (scores, flags) into the image's stored info."""
        with self._lock:
            self.ref(image_id)
            self._images[image_id].info.update(info)
            self._save()

    # ---- labels ---------------------------------------------------------------------------------------------
    def get_labeled_images(self, label_tag: str | None = None) -> list[str]:
        """Images with a label tagged ``label_tag`` (default ``final``)."""
        tag = label_tag or "final"
        self.refresh()
        with self._lock:
            return sorted(uid for uid, labels in self._labels.items() if tag in labels and uid in self._images)

    def get_unlabeled_images(self, label_tag: str | None = None) -> list[str]:
        """Images without a ``final`` (or ``label_tag``) label."""
        labelled = set(self.get_labeled_images(label_tag))
        return [uid for uid in self.list_images() if uid not in labelled]

    def get_labels_by_image_id(self, image_id: str) -> dict[str, str]:
        """``{tag: label id}`` of an image (the label id is the image id)."""
        return {tag: image_id for tag in self._labels.get(image_id, {})}

    def get_label_info(self, image_id: str, label_tag: str) -> dict:
        """Where the label came from (its SEG, the annotator, when)."""
        return dict(self._labels.get(image_id, {}).get(label_tag, {}))

    def get_label_uri(self, image_id: str, label_tag: str) -> str:
        """The label as a file on the image's grid; a label that lives only in the PACS is decoded from its SEG."""
        info = self._labels.get(image_id, {}).get(label_tag)
        if info is None:
            return ""
        path = self._label_path(image_id, label_tag)
        if not path.is_file():
            ref = InstanceRef(**info["seg"])
            content = read_seg(self.client.retrieve_dataset(ref))
            write_label(content.mask, like=read_cxr(self.get_image_uri(image_id)), path=path)
        return str(path)

    def save_label(self, image_id: str, label_filename: str, label_tag: str, label_info: dict) -> str:
        """Validate a submitted label against its image, keep it, and send it to the PACS as a MANUAL SEG.

        Raises:
            UnknownImage: not a served image.
            ValueError: a bad tag, a label off the image's grid, or values other than 0 and 1.
            PacsUnavailable: the PACS is down; the label is kept and sent on a later refresh.
        """
        if label_tag not in LABEL_TAGS:
            raise ValueError(f"label tag must be one of {list(LABEL_TAGS)}, got {str(label_tag)[:40]!r}")
        image_path = self.get_image_uri(image_id)
        image = read_cxr(image_path)
        values = read_label(label_filename, like=image)
        if not np.isin(values, (0, 1)).all():
            raise ValueError(f"label for {image_id!r} must hold only 0 and 1 (pneumothorax), found {np.unique(values)}")
        mask = values.astype(bool)
        info = label_info or {}
        annotator = str(info.get("annotator") or info.get("user") or info.get("client_id") or "ptxseg user")
        seg = correction_seg(pydicom.dcmread(image_path), mask, annotator=annotator)
        # Content-derived UIDs: a resend of the same label (after an outage, or a client retry) is the same SEG.
        digest = hashlib.sha256(np.packbits(mask).tobytes() + image_id.encode() + annotator.encode()).hexdigest()
        seg.SOPInstanceUID = generate_uid(entropy_srcs=[digest, "instance"])
        seg.file_meta.MediaStorageSOPInstanceUID = seg.SOPInstanceUID
        seg.SeriesInstanceUID = generate_uid(entropy_srcs=[digest, "series"])
        with self._lock:
            write_label(mask, like=image, path=self._label_path(image_id, label_tag))
            seg_ref = InstanceRef(
                seg.StudyInstanceUID, seg.SeriesInstanceUID, seg.SOPInstanceUID, "SEG", seg.SOPClassUID
            )
            info = {**(label_info or {}), "ts": int(time.time()), "annotator": annotator, "seg": asdict(seg_ref)}
            self._labels.setdefault(image_id, {})[label_tag] = info
            self._known_segs.add(seg.SOPInstanceUID)
            seg.save_as(self.outbox / f"{seg.SOPInstanceUID}.dcm", write_like_original=False)
            self._save()
            try:
                self._send_outbox()
            except PacsUnavailable as error:
                raise PacsUnavailable(f"{error}; the label is kept and will be sent when the PACS is back") from error
        return image_id

    def _label_path(self, image_id: str, tag: str) -> Path:
        folder = self.folder / "labels" / tag
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{image_id}.nrrd"

    def _send_outbox(self) -> None:
        """Send each waiting SEG; one the PACS refuses while it answers searches is set aside with the reason (a
        PACS that does not answer keeps them all waiting)."""
        for waiting in sorted(self.outbox.glob("*.dcm")):
            try:
                self.client.store(pydicom.dcmread(waiting))
            except PacsUnavailable as error:
                self.client.check()  # raises when the PACS itself is down: everything keeps waiting
                self._set_aside(waiting, f"the PACS refused it: {error}")
                continue
            except (pydicom.errors.InvalidDicomError, OSError, ValueError) as error:  # a damaged file
                self._set_aside(waiting, f"unreadable: {error}")
                continue
            waiting.unlink()

    def _set_aside(self, waiting: Path, reason: str) -> None:
        rejected = self.outbox / "rejected"
        rejected.mkdir(exist_ok=True)
        waiting.rename(rejected / waiting.name)
        (rejected / f"{waiting.stem}.reason.txt").write_text(reason)
        LOGGER.error("SEG %s set aside in outbox/rejected: %s", waiting.stem, reason[:300])

    def mark_own_seg(self, sop_uid: str) -> None:
        """A SEG ptxseg stored itself (a prediction): never fetched back as a label."""
        with self._lock:
            self._known_segs.add(sop_uid)

    def _new_segs(self, studies: set[str] | None) -> list[InstanceRef]:
        """SEGs not seen before: in ``studies`` (one search each), or, for a full scan (None), in every study that
        holds a served image (one paged search of the archive's SEGs)."""
        if studies is None:
            with self._lock:
                served = {image.ref.study_uid for image in self._images.values()}
            refs = [ref for ref in self.client.search_series_instances("SEG") if ref.study_uid in served]
        else:
            refs = [ref for study in sorted(studies) for ref in self.client.search_series_instances("SEG", study)]
        with self._lock:
            return [ref for ref in refs if ref.sop_uid not in self._known_segs]

    def _import_pacs_labels(self, studies: set[str] | None) -> None:
        """MANUAL SEGs of the pneumothorax (see ``_new_segs``) that reference a served image become its ``final``
        label (the newest wins); each SEG is fetched once, ptxseg's own never."""
        for seg_ref in self._new_segs(studies):
            with self._lock:
                self._known_segs.add(seg_ref.sop_uid)
            try:
                content = read_seg(self.client.retrieve_dataset(seg_ref))
            except ValueError as error:  # not a pneumothorax outline of a served radiograph: not a label
                LOGGER.info("SEG %s is not used as a label: %s", seg_ref.sop_uid, error)
                continue
            image = content.referenced_sop_instance_uid
            if content.algorithm_type != "MANUAL" or image not in self._images:
                continue
            with self._lock:
                self._labels.setdefault(image, {})["final"] = {
                    "ts": int(time.time()),
                    "annotator": content.annotator,
                    "seg": asdict(seg_ref),
                }
                self._label_path(image, "final").unlink(missing_ok=True)  # decoded again from the new SEG

    # ---- the rest of MONAI Label's Datastore interface --------------------------------------------------------
    def datalist(self) -> list[dict]:
        """``[{image, label}]`` of the labelled images, as local files (fetched and decoded when needed)."""
        return [
            {"image": self.get_image_uri(uid), "label": self.get_label_uri(uid, "final")}
            for uid in self.get_labeled_images()
        ]

    def status(self) -> dict:
        """Counts, the PACS and its last error."""
        images = self.list_images()
        labelled = self.get_labeled_images()
        return {
            "total": len(images),
            "completed": len(labelled),
            "pacs": self.client.url,
            "pacs_error": self.last_error,
            "cache_bytes": self.cache.size_bytes(),
            "waiting_segs": len(list(self.outbox.glob("*.dcm"))),
        }

    def json(self) -> dict:
        """Every image with its info and labels, in the shape of MONAI Label's local datastore listing."""
        return {
            "objects": {
                uid: {"image": {"info": self.get_image_info(uid)}, "labels": self._labels.get(uid, {})}
                for uid in self.list_images()
            }
        }

    def pending(self, done: Callable[[str], bool]) -> list[str]:
        """Served images for which ``done(uid)`` is False, newest acquisition first (pre-screening: a new study
        goes before the backlog)."""
        with self._lock:
            refs = [image.ref for image in self._images.values()]
        pending = [ref for ref in refs if not done(ref.sop_uid)]
        return [ref.sop_uid for ref in sorted(pending, key=lambda ref: (ref.acquired, ref.sop_uid), reverse=True)]
