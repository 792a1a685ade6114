"""``ptxseg serve``: start the MONAI Label server with the ptxseg app (on the built-in demo when no studies given).

The server (MONAI Label's ``start_server``, as a lean process: ``ptxseg.compute.lean_process``) runs under
``ptxseg.serving.supervisor`` in a session of its own: however ``ptxseg serve`` ends (Ctrl-C, SIGTERM, SIGKILL, the
OOM killer), the server and any training or scoring it started end with it, so no server is left holding the port
and no trainer is left orphaned.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from ptxseg.compute.lean_process import lean_command
from ptxseg.options import parse_bool
from ptxseg.serving.app_location import app_model_dir, default_app_dir
from ptxseg.serving.check_conf import check_app_conf
from ptxseg.serving.dicomweb.pacs_flags import refuse_pacs_options_without_pacs
from ptxseg.serving.ports import check_port_free
from ptxseg.serving.short_lived import in_short_lived_process
from ptxseg.serving.supervisor import GRACE_SECONDS, die_with_parent, supervised
from ptxseg.serving.token import configured_token, new_token_file
from ptxseg.serving.web_access import SERVER_HOST_VARIABLE, is_loopback

__all__ = ["register", "run", "server_command", "server_environment"]

ASGI_APP = "ptxseg_asgi:app"
# MONAI Label features that reach the network or start work behind the user's back: off unless asked for.
QUIET_SETTINGS = {
    "MONAI_LABEL_TRACKING_ENABLED": "false",
    "MONAI_LABEL_AUTO_UPDATE_SCORING": "false",
    "MONAI_LABEL_SESSIONS": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
}


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``serve`` command to the ``ptxseg`` parser."""
    parser = commands.add_parser(
        "serve",
        help="run the MONAI Label server with the pneumothorax app",
        description="Serve the ptxseg MONAI Label app to 3D Slicer. Without --studies, a demo studies folder of "
        "synthetic chest X-rays is created once in your user data folder and served.",
    )
    parser.add_argument("--studies", help="studies folder (DICOM/PNG/NRRD/NIfTI); default: the built-in demo")
    parser.add_argument(
        "--dicomweb",
        metavar="URL",
        help="serve the CR/DX instances of this DICOMweb PACS (e.g. http://127.0.0.1:8042/dicom-web) instead of a "
        "folder; --studies then names the folder for its local cache and labels (default: one in your user data "
        "folder). Password: PTXSEG_DICOMWEB_PASSWORD or PTXSEG_DICOMWEB_PASSWORD_FILE; bearer token: "
        "PTXSEG_DICOMWEB_TOKEN or PTXSEG_DICOMWEB_TOKEN_FILE (never on the command line). Default: "
        "$PTXSEG_DICOMWEB_URL",
    )
    parser.add_argument("--dicomweb-user", metavar="USER", help="PACS basic-auth user name")
    parser.add_argument("--dicomweb-ca-bundle", metavar="PEM", help="certificate authorities to trust for https")
    parser.add_argument("--app", help="MONAI Label app folder (default: this checkout's monailabel_app)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    parser.add_argument(
        "--conf", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"), help="app setting (repeatable)"
    )
    parser.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="URL",
        help="a web page origin (scheme://host[:port]) allowed to call the server from a browser, e.g. a viewer on "
        "another port (repeatable; conf allow_origins). Pages of other origins are refused",
    )
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name the server is reached by besides 127.0.0.1, localhost and [::1] (repeatable; conf "
        "allow_hosts). Requests naming another host are refused (DNS rebinding)",
    )
    parser.add_argument(
        "--no-token",
        action="store_true",
        help="serve without a bearer token (loopback only). By default a token is generated at each start, written "
        "0600 to the model folder and printed with the URL; PTXSEG_TOKEN or PTXSEG_TOKEN_FILE set one of your own",
    )
    parser.set_defaults(run=run)


def server_environment(app_dir: Path, conf: dict[str, str], port: int, host: str = "127.0.0.1") -> dict[str, str]:
    """The server's environment: the app importable, network-reaching extras off, conf for the subprocesses, the
    bound address for its Host check."""
    environment = {**os.environ, **QUIET_SETTINGS, SERVER_HOST_VARIABLE: host}
    # MONAI Label's own Keycloak authentication stays off unless this environment turns it on (a stray ./.env
    # cannot: environment variables win over it).
    environment["MONAI_LABEL_AUTH_ENABLE"] = os.environ.get("MONAI_LABEL_AUTH_ENABLE", "false")
    environment["PYTHONPATH"] = os.pathsep.join(p for p in (str(app_dir), os.environ.get("PYTHONPATH", "")) if p)
    environment["MONAI_LABEL_APP_CONF"] = json.dumps(conf)
    environment["MONAI_LABEL_SERVER_PORT"] = str(port)
    # ptxseg's own allow-list (--allow-origin, conf allow_origins) replaces MONAI Label's CORS set-up, which allows
    # every origin when this variable is empty; pydantic-settings would otherwise read it from a stray ./.env.
    environment.pop("MONAI_LABEL_CORS_ORIGINS", None)
    return environment


def server_command(app_dir: Path, studies: Path, host: str, port: int, conf: dict[str, str]) -> list[str]:
    """The ``monailabel start_server`` command line: run with this Python (not the bash wrapper), as a lean process
    (``ptxseg.compute.lean_process``) so that the server does not hold libraries it never uses."""
    command = lean_command("monailabel.main", "start_server", "--app", str(app_dir))
    command += ["--studies", str(studies), "--host", host, "--port", str(port), "--uvicorn_app", ASGI_APP]
    for key, value in conf.items():
        command += ["--conf", key, value]
    return command


def run(args: argparse.Namespace) -> int:
    """Start the server, print how to reach it, and stop it (with its children) on Ctrl-C or SIGTERM.

    This process lives as long as the server: each step that imports heavy libraries (the demo studies, the PACS
    check, the conf check) runs in a short-lived child instead.
    """
    app_dir = Path(args.app).resolve() if args.app else default_app_dir()
    conf = _with_access_lists(dict(args.conf), args)
    args.dicomweb = args.dicomweb or os.environ.get("PTXSEG_DICOMWEB_URL")
    refuse_pacs_options_without_pacs(args.dicomweb, args.dicomweb_user, args.dicomweb_ca_bundle)
    if args.dicomweb:
        studies, environment = in_short_lived_process(_connect_pacs, args, conf)
        os.environ.update(environment)
    elif args.studies:
        studies = Path(args.studies).resolve()
        if not studies.is_dir():
            raise ValueError(f"studies folder {studies} does not exist")
    else:
        studies = in_short_lived_process(_demo_studies)
        print(f"demo studies (synthetic chest X-rays): {studies}")
    in_short_lived_process(check_app_conf, app_dir, conf)
    token, generated = _server_token(args, Path(conf.get("model_dir") or app_model_dir(app_dir)))
    if not is_loopback(args.host):
        print(
            f"WARNING: binding to {args.host} exposes patient images to the network; every request needs the token",
            file=sys.stderr,
        )
    check_port_free(args.host, args.port)
    url = f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '::') else args.host}:{args.port}"
    # A generated token is printed, as Jupyter prints its own; a token of the user's is theirs to know, not to print.
    with_token = f"{url}/?token={token if generated else '<your token>'}" if token else url
    print(f"ptxseg server: {with_token}")
    print(f"   model info: {url}/info/   API docs: {url}/docs" + ("   (in a browser: add ?token=...)" if token else ""))
    if generated:
        print(f"   every request needs 'Authorization: Bearer <token>'; it is in {os.environ['PTXSEG_TOKEN_FILE']}")
    print(f"3D Slicer: open the PneumothoraxAnnotator module and connect to {with_token}", flush=True)
    process = subprocess.Popen(
        supervised(server_command(app_dir, studies, args.host, args.port, conf)),
        env=server_environment(app_dir, conf, args.port, args.host),
        start_new_session=True,
        preexec_fn=die_with_parent(signal.SIGTERM),
    )

    signal.signal(signal.SIGTERM, _raise_stop_requested)
    try:
        return process.wait()
    except (KeyboardInterrupt, _StopRequested) as interrupt:
        _stop_supervisor(process)
        return 128 + (interrupt.args[0] if isinstance(interrupt, _StopRequested) else signal.SIGINT)


def _with_access_lists(conf: dict[str, str], args: argparse.Namespace) -> dict[str, str]:
    """``--allow-origin`` and ``--allow-host`` added to the conf keys they stand for."""
    for key, given in (("allow_origins", args.allow_origin), ("allow_hosts", args.allow_host)):
        items = [item for item in (conf.get(key, ""), *given) if item]
        if items:
            conf[key] = ",".join(items)
    return conf


def _server_token(args: argparse.Namespace, model_dir: Path) -> tuple[str | None, bool]:
    """The token the server will require and whether it was generated here (then exported as
    ``PTXSEG_TOKEN_FILE``); None with ``--no-token``, which a bind beyond this machine refuses."""
    token = configured_token()
    if _keycloak_enabled():
        if token:
            raise ValueError("MONAI_LABEL_AUTH_ENABLE (Keycloak) and PTXSEG_TOKEN(_FILE) are both set: use one of them")
        return None, False  # users log in through Keycloak; MONAI Label checks their tokens
    if args.no_token:
        if token:
            raise ValueError("--no-token, but PTXSEG_TOKEN or PTXSEG_TOKEN_FILE sets a token: drop one of them")
        if not is_loopback(args.host):
            raise ValueError(
                f"refusing to serve patient images on {args.host} without a token: drop --no-token (a token is then "
                "generated and printed), or set PTXSEG_TOKEN_FILE to a file holding your own"
            )
        print("WARNING: --no-token: every program and user of this machine can read and change the data")
        return None, False
    if token is not None:
        return token, False
    model_dir.mkdir(parents=True, exist_ok=True)
    token, path = new_token_file(model_dir)
    os.environ.pop("PTXSEG_TOKEN", None)
    os.environ["PTXSEG_TOKEN_FILE"] = str(path)
    return token, True


def _keycloak_enabled() -> bool:
    return parse_bool(os.environ.get("MONAI_LABEL_AUTH_ENABLE") or "false")


def _demo_studies() -> Path:
    from ptxseg.phantom.demo import default_demo_dir, make_demo_studies

    return make_demo_studies(default_demo_dir())


def _connect_pacs(args: argparse.Namespace, conf: dict[str, str]) -> tuple[Path, dict[str, str]]:
    """Check the PACS before anything starts; returns the local state folder and the environment its settings were
    exported to (run in a short-lived child: the parent exports them again for the server)."""
    import hashlib

    from ptxseg.phantom.demo import default_demo_dir
    from ptxseg.serving.dicomweb.settings import ENVIRONMENT_KEYS, connect_from_command_line

    pacs = connect_from_command_line(args.dicomweb, args.dicomweb_user, args.dicomweb_ca_bundle, conf)
    if args.studies:
        folder = Path(args.studies).resolve()
    else:
        digest = hashlib.sha256(args.dicomweb.encode()).hexdigest()[:12]
        folder = default_demo_dir().parent / f"pacs-{digest}"
    folder.mkdir(parents=True, exist_ok=True)
    print(f"PACS {args.dicomweb}: serving {', '.join(pacs.modalities)} instances; local cache and labels in {folder}")
    return folder, {key: os.environ[key] for key in ENVIRONMENT_KEYS.values() if key in os.environ}


class _StopRequested(Exception):
    """SIGTERM arrived. Raised in the main thread so that its ``process.wait()`` ends (releasing Popen's wait
    lock) before the group is stopped: waiting inside the signal handler deadlocks on that lock."""


def _raise_stop_requested(signum, frame):
    raise _StopRequested(signum)


def _stop_supervisor(process: subprocess.Popen) -> None:
    """Ask the supervisor to stop the server's tree; SIGKILL its session should it not be done in time."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(GRACE_SECONDS + 10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
