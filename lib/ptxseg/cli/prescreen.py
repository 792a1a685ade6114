"""``ptxseg prescreen``: pre-screen a PACS's new CR/DX instances with a checkpoint (one round, for a scheduler, or
rounds until stopped), storing a prediction SEG per instance and printing the worklist."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

__all__ = ["register", "run"]


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``prescreen`` command to the ``ptxseg`` parser."""
    parser = commands.add_parser(
        "prescreen",
        help="pre-screen new PACS images and store their prediction SEGs",
        description="Infer every CR/DX instance of a DICOMweb PACS not yet screened with this model, store its "
        "prediction as a DICOM SEG in the PACS (AUTOMATIC, probability and flag in its descriptions and content "
        "label) and record its outcome in STATE/prescreen.jsonl, so that a rerun (a scheduler's next call, a "
        "restart) infers nothing twice. Only adult frontal chest radiographs are analysed (conf prescreen_*); "
        "the others are listed as 'not analysed: <reason>'. Flags only from a model qualified for triage "
        "(recorded in its checkpoint by evaluation on held-out images); otherwise every result says 'not "
        "qualified for triage'. Password or "
        "token: PTXSEG_DICOMWEB_PASSWORD(_FILE) or PTXSEG_DICOMWEB_TOKEN(_FILE).",
    )
    parser.add_argument("--dicomweb", required=True, metavar="URL", help="the PACS's DICOMweb root")
    parser.add_argument("--dicomweb-user", metavar="USER", help="PACS basic-auth user name")
    parser.add_argument("--dicomweb-ca-bundle", metavar="PEM", help="certificate authorities to trust for https")
    parser.add_argument("--model", required=True, help="checkpoint (.safetensors, .pt or .pth)")
    parser.add_argument("--state", required=True, help="folder for the image cache and the screening ledger")
    parser.add_argument("--once", action="store_true", help="one round, then print the worklist and exit")
    parser.add_argument("--backend", default="auto", help="auto, torch, openvino or onnxruntime (default: auto)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (default: auto)")
    parser.add_argument(
        "--triage-threshold", type=float, default=0.5, help="probability at which an image is flagged (default: 0.5)"
    )
    parser.add_argument(
        "--conf", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"), help="PACS setting (repeatable)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Screen (once, or every ``prescreen_interval_s`` until SIGTERM/Ctrl-C) and print what was done."""
    from ptxseg.evaluation.triage import recorded_qualification
    from ptxseg.inference.predictor import Predictor
    from ptxseg.model.identity import checkpoint_digest
    from ptxseg.serving.dicomweb.prescreen import ModelForScreening, Prescreener
    from ptxseg.serving.dicomweb.settings import CONF_KEYS, connect_from_command_line

    conf = dict(args.conf)
    unknown = sorted(set(conf) - CONF_KEYS)
    if unknown:
        raise ValueError(f"unknown conf key(s) {unknown}; valid keys: {sorted(CONF_KEYS)}")
    for note in conf_without_effect(conf, args.once):
        print(f"warning: {note}", file=sys.stderr)
    pacs = connect_from_command_line(args.dicomweb, args.dicomweb_user, args.dicomweb_ca_bundle, conf)
    predictor = Predictor.from_checkpoint(args.model, args.device, args.backend, triage_threshold=args.triage_threshold)
    model = ModelForScreening(
        predictor, checkpoint_digest(args.model), recorded_qualification(predictor.metadata.metrics)
    )
    prescreener = Prescreener(pacs.studies(args.state), lambda: model, rules=pacs.rules)
    print(f"model {model.version}: {model.qualification.reason}")
    if args.once:
        screened = prescreener.run_once()
        print(f"screened {screened} new instances" + (f"; {prescreener.last_error}" if prescreener.last_error else ""))
        print(json.dumps(prescreener.worklist(), indent=1))
        return 1 if prescreener.last_error else 0
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    try:
        prescreener.run_forever(stop, pacs.prescreen_interval_s)
    except KeyboardInterrupt:
        stop.set()
    return 0


def conf_without_effect(conf: dict[str, str], once: bool) -> list[str]:
    """Why each PACS key given to ``ptxseg prescreen`` cannot take effect there (the server's keys are accepted, so
    one conf serves both).

    Example:
        >>> conf_without_effect({"prescreen_interval_s": "30"}, once=True)
        ['conf prescreen_interval_s is ignored: --once screens one round and exits']
        >>> conf_without_effect({"prescreen_interval_s": "30"}, once=False)
        []
    """
    notes = []
    if "prescreen" in conf:
        notes.append(
            "conf prescreen is ignored: it switches the server's pre-screening, and ptxseg prescreen always "
            "pre-screens (stop it to stop screening)"
        )
    if once and "prescreen_interval_s" in conf:
        notes.append("conf prescreen_interval_s is ignored: --once screens one round and exits")
    return notes
