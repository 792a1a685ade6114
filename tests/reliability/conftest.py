"""The attacked server, shared by the input and load attacks: phantoms, odd studies, broken and hostile files."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.hostile_files import BAD_STUDIES, GOOD_ODD_STUDIES, write_bad_study, write_good_odd_study
from tests.support.io_fixtures import write_pillow
from tests.support.server_harness import make_test_studies, running_server
from tests.support.server_tools import MAX_UPLOAD_MB, UNSAFE_NAME


@pytest.fixture(scope="package")
def attack_server(tmp_path_factory):
    """One real ``ptxseg serve`` over phantoms plus every odd and bad study, with its own temporary folder.

    Attributes added to the server: ``good_ids`` (readable studies), ``temp_dir`` (the server's ``TMPDIR``, where
    uploads are spooled) and ``outside`` (a readable image beside the studies folder: the target of traversals).
    A stray ``.env`` asking for MONAI Label's Keycloak authentication lies in its working folder.
    """
    root = tmp_path_factory.mktemp("attack-server")
    studies = make_test_studies(root / "studies", n_phantoms=12)
    scratch = root / "scratch"
    scratch.mkdir()
    for image_id in GOOD_ODD_STUDIES:
        write_good_odd_study(studies, image_id)
    for image_id in BAD_STUDIES:
        write_bad_study(studies, image_id, scratch)
    outside = write_pillow(root / "outside-secret.png", np.full((16, 16), 200, np.uint8))
    write_pillow(studies / f"{UNSAFE_NAME}.png", np.full((16, 16), 100, np.uint8))  # readable, badly named
    temp_dir = root / "tmp"
    temp_dir.mkdir()
    # The server runs in `root`; MONAI Label's settings would read this file if nothing stopped them.
    (root / ".env").write_text("MONAI_LABEL_AUTH_ENABLE=true\n")
    conf = {"max_upload_mb": str(MAX_UPLOAD_MB)}
    with running_server(studies, root / "model", conf, env={"TMPDIR": str(temp_dir)}) as server:
        objects = server.get("/datastore/?output=all").json()["objects"]
        server.good_ids = sorted(i for i, obj in objects.items() if "ptx_unreadable" not in obj["image"]["info"])
        server.temp_dir = temp_dir
        server.outside = outside
        yield server
