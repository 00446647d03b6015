"""``cx run`` as a command: its options (declared here, once), the run, and what follows it
(page checks in a browser, delivery), down to the exit code (:class:`helpers.errors.ExitCode`).

The work itself is :func:`helpers.reporting.pipeline.run`. Only light modules are imported at
the top: ``cx --help`` builds this parser too.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helpers import inputs as registry
from helpers import paths
from helpers.errors import ConfigError, DataError, ExitCode, os_error_line

if TYPE_CHECKING:
    from helpers.config import DeliverySettings
    from helpers.reporting.pipeline import RunResult

log = logging.getLogger("helpers.reporting.pipeline")

def export_options() -> dict[str, str]:
    """`cx run` options naming one export and its optional input files (helpers.inputs), as
    argument names -> notebook 01's parameters."""
    return {"raw": "raw_path", "schema": "schema_path",
            **{i.dest: i.parameter for i in registry.files()}}


def export_overrides(segments: str | None = None, **given: str | None) -> dict[str, dict[str, Any]]:
    """Parameters for a run on one export: notebook 01's options given, "" (not provided) for
    every optional input not given, so no file of another programme is read; `segments` is the
    analysis settings file for every notebook."""
    out: dict[str, dict[str, Any]] = {"shared": {"segments_config": segments}} if segments else {}
    if given.get("raw"):
        values = {param: given.get(opt) or "" for opt, param in export_options().items()}
        if not given.get("schema"):
            values.pop("schema_path")
        out["01_clean_survey"] = values
    return out


def add_options(ap: argparse.ArgumentParser) -> None:
    """The options of ``cx run``."""
    user = paths.user_path
    ap.add_argument("--params", default=Path("config/params.yaml"), type=user,
                    help="run parameters (default config/params.yaml)")
    ap.add_argument("--out", default=None, type=user, help="reports folder (default reports/)")
    ap.add_argument("--pipeline", default=None, type=user,
                    help="pipeline definition (default config/pipeline.yaml)")
    ap.add_argument("--run-id", default=None, help="explicit run id (suffixed if taken)")
    ap.add_argument("--check", action="store_true",
                    help="validate the parameters only, run nothing")
    for opt in export_options():
        ap.add_argument(f"--{opt.replace('_', '-')}", default=None, type=user,
                        help="run on this export (instead of the params file's)" if opt == "raw"
                        else f"with --raw: {opt} file")
    ap.add_argument("--segments", default=None, type=user,
                    help="analysis settings (default config/segments.yaml)")
    ap.add_argument("--check-pages", action="store_true",
                    help="open every page of the run in headless Chromium after it (console errors, "
                         "broken images, alt text) and save a screenshot of each")
    ap.add_argument("--no-send", action="store_true",
                    help="send no mail and post no webhook after the run (docs/scheduling.md)")
    ap.add_argument("--send-to-file", default=None, metavar="DIR", type=user,
                    help="write the mails (.eml) and webhook payload (.json) to DIR instead of sending")


def _terminate(signum: int, frame: Any) -> None:
    """Turn SIGTERM into an exception so the manifest is closed as failed, not left running."""
    raise SystemExit(128 + signum)


def main(args: argparse.Namespace) -> int:
    """Run ``cx run`` with the parsed options of :func:`add_options`; the exit code."""
    from helpers import catalog
    from helpers.reporting import kernels

    overrides = export_overrides(args.segments, **{o: getattr(args, o) for o in export_options()})
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s",
                            stream=sys.stderr)
    previous = signal.signal(signal.SIGTERM, _terminate)  # systemd stop: close the run as failed
    try:  # the kernels' zygote imports while the parameters and the export are checked
        with contextlib.nullcontext() if args.check else kernels.zygote_ahead(_notebooks(args)):
            ran = _checked_run(args, overrides)
    except ConfigError as exc:
        print(f"cx run: configuration error: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    except DataError as exc:
        print(f"cx run: error: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    except catalog.LockedError as exc:
        print(f"cx run: {exc}", file=sys.stderr)
        return ExitCode.LOCKED
    except OSError as exc:  # full or read-only disk, data/raw refused: one line, no traceback
        print(f"cx run: error: {os_error_line(exc)}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    except SystemExit as exc:  # SIGTERM: the run is closed as failed by now
        _exit_now(exc.code if isinstance(exc.code, int) else ExitCode.FAILED)
    finally:
        signal.signal(signal.SIGTERM, previous)
    return ExitCode.OK if ran is None else _after(*ran, args)


def _exit_now(code: int) -> None:
    """Exit without waiting for the run's threads: a notebook's thread may still be listening to
    its stopped kernel, and Python's exit would wait for it for ever."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)


def _checked_run(args: argparse.Namespace, overrides: dict[str, dict[str, Any]],
                 ) -> tuple[RunResult, DeliverySettings] | None:
    """Check the parameters (and a new export against its schema), then run unless only checking
    (None: `--check` passed, said on stdout)."""
    from helpers import config
    from helpers.reporting import pipeline, run_params

    if args.check or args.raw:  # a new export is checked against its schema before it runs
        plan = run_params.validate(
            config.with_overrides(config.load_params(args.params), overrides),
            config.load_pipeline(args.pipeline or "config/pipeline.yaml"))
        run_params.preflight(plan)
    if args.check:
        print(f"parameters OK for {len(plan)} notebook(s)")
        for line in run_params.not_provided(plan):
            print(line)
        return None
    # bad delivery settings stop the run before it starts (unless nothing is to be sent)
    settings = config.DeliverySettings() if args.no_send else config.load_delivery()
    return pipeline.run(paths.resolve(args.params), out_dir=args.out, pipeline_path=args.pipeline,
                        run_id=args.run_id, overrides=overrides), settings


def _notebooks(args: argparse.Namespace) -> list[Path]:
    """The notebooks the run will execute, in order (none when the pipeline file is unreadable:
    the run's checks say why)."""
    from helpers import config
    try:
        steps = config.load_pipeline(args.pipeline or "config/pipeline.yaml").steps
    except (ConfigError, OSError):
        return []
    found = [paths.resolve(step.path) for step in steps]
    return found if all(p.is_file() for p in found) else []


def _after(result: RunResult, settings: DeliverySettings, args: argparse.Namespace) -> int:
    """Say where the run went, check its pages and deliver it when asked; the run's exit code."""
    print(f"run {result.run_id} {result.status}: {result.run_dir}")
    print(f"report index: {result.index_path}")
    if args.check_pages:
        for line in check_pages(result.run_dir):
            print(f"page check: {line}")
    for line in deliver_run(result.run_dir, settings, send=not args.no_send,
                            to_folder=args.send_to_file):
        print(f"delivery: {line}")
    return int(result.exit_code)


def check_pages(run_dir: Path) -> list[str]:
    """Browser-check the index and every page of a run, screenshots into ``<run>/screenshots``,
    and record the outcome in its manifest (skipped, and said, without Chromium)."""
    from helpers.reporting import browser, manifest
    from helpers.reporting.run_folder import relative

    if browser.find_chromium() is None:
        return ["skipped: Chromium not found (apt-get install -y chromium)"]
    checks = browser.check_run(run_dir)
    record: list[dict[str, Any]] = [
        {"page": Path(c.page).name, "ok": c.ok, "problems": c.problems(),
         "screenshot": relative(c.screenshot) if c.screenshot else None} for c in checks]
    try:
        doc = manifest.read(run_dir)
        doc.page_checks = record
        manifest.write(run_dir, doc)
    except (OSError, ValueError) as exc:
        log.warning("page checks not recorded in the manifest: %s", exc)
    return [f"{r['page']}: " + ("ok" if r["ok"] else "; ".join(r["problems"])) for r in record]


def deliver_run(run_dir: Path, settings: DeliverySettings, *, send: bool = True,
                to_folder: str | None = None) -> list[str]:
    """Deliver a finished run (mails, webhook) and record what happened in its manifest."""
    from helpers.reporting import delivery, manifest

    lines = delivery.deliver(run_dir, settings, send=send, to_folder=to_folder)
    try:
        doc = manifest.read(run_dir)
        doc.delivery = lines
        manifest.write(run_dir, doc)
    except (OSError, ValueError) as exc:
        log.warning("delivery not recorded in the manifest: %s", os_error_line(exc)
                    if isinstance(exc, OSError) else exc)
    return lines
