"""Command line: `cx sample`, `cx schema infer`, `cx check`, `cx clean`, `cx run`, `cx drivers`,
`cx report`.

Paths typed on the command line are relative to the current folder; the defaults are the
project's own (config/, data/, reports/).

Bad input ends with one line on stderr (file, column/row, what was found and expected) and a
non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from helpers import inputs as registry
from helpers.errors import ArgumentError, DataError, ExitCode, os_error_line
from helpers.paths import shown, user_path


def _sample(args: argparse.Namespace) -> int:
    from helpers import paths
    from helpers.sample import profiles, program, writers
    t0 = time.perf_counter()
    args.out = str(paths.resolve(args.out))
    if args.profile == "full" and args.rows > 2 * writers.PART_ROWS and args.format == "qualtrics":
        written = {k: Path(v) for k, v in writers.write_parts(
            args.rows, args.out, seed=args.seed, gaming=not args.no_gaming).items()}
        rows = args.rows
    elif args.profile == "full":
        sample = program.generate(rows=args.rows, seed=args.seed, gaming=not args.no_gaming)
        written = writers.write(sample, args.out, fmt=args.format)
        rows = len(sample.export)
    else:
        written, rows = profiles.write(args.profile, args.out, rows=args.rows, seed=args.seed,
                                       gaming=not args.no_gaming)
    extra = f"; its schema: {written['schema']}" if "schema" in written else ""
    print(f"wrote the {args.profile!r} sample ({rows:,} responses) and {len(written) - 1} other "
          f"file(s) to {args.out} in {time.perf_counter() - t0:.1f} s; planted truth: "
          f"{written['truth']}{extra}")
    return ExitCode.OK


def _clean(args: argparse.Namespace) -> int:
    from helpers import paths
    from helpers.ingest import clean
    args.out = str(paths.resolve(args.out))
    res = clean.run(args.raw, schema_path=args.schema, out_dir=args.out, format=args.format,
                    encoding=args.encoding, speeder_fraction=args.speeder_fraction,
                    inputs=_input_files(args))
    log = res.log
    print(f"{log['input']['file']}: {log['input']['rows']:,} rows read ({log['input']['format']}), "
          f"{log['included']:,} included; wrote {args.out}/responses.parquet and cleaning_log.json")
    for rule, r in log["rules"].items():
        print(f"  {rule:<15} {r['rows']:>8,}  {r['reason']}")
    return ExitCode.OK


def _schema_infer(args: argparse.Namespace) -> int:
    from helpers import catalog
    from helpers.ingest import infer, readers
    target = catalog.refuse_raw(args.out, "the draft schema") if args.out else None
    survey = readers.read_survey(args.raw, format=args.format, encoding=args.encoding)
    draft = infer.infer_schema(survey)
    print(f"{Path(args.raw).name}: {len(survey.data):,} responses, {survey.data.shape[1]} columns "
          f"({survey.format}). Decisions:", file=sys.stderr)
    print(draft.report(), file=sys.stderr)
    if target is not None:
        catalog.atomic_write_bytes(target, draft.text.encode("utf-8"))
        print(f"draft schema written to {shown(args.out)}; next: cx check {shown(args.raw)} "
              f"--schema {shown(args.out)}",
              file=sys.stderr)
    else:
        print(draft.text)
    return ExitCode.OK


def _drivers(args: argparse.Namespace) -> int:
    """Rank drivers exactly as notebook 03 does: same selection, design, waves and parameters."""
    from helpers import config
    from helpers.analysis import importance, selection
    from helpers.analysis.modelling import Bootstrap
    p = config.notebook_params("03_promoter_drivers", args.params)
    data = selection.load(args.responses or p["responses_path"], p["schema_path"],
                          p["segments_config"], inputs=registry.from_parameters(p))
    chosen = data.market(args.market, p.get("waves", "") if args.waves is None else args.waves)
    items = [i for i in data.schema.driver_items(args.market) if chosen.rows[i].notna().any()]
    imp = importance.shapley_importance(chosen.rows, data.headline.key, items, bootstrap=Bootstrap(
        p["n_boot"] if args.boot is None else args.boot,
        seed=p["seed"] if args.seed is None else args.seed), **chosen.columns)
    print(importance.share_text(imp).to_string())
    print(importance.methods_text(imp, data.headline))
    return ExitCode.OK


def _check(args: argparse.Namespace) -> int:
    """Clean in memory (nothing written) and say which report sections the data supports."""
    from helpers import config, contract
    from helpers.analysis import selection
    from helpers.ingest import clean
    res = clean.prepare(args.raw, schema_path=args.schema, format=args.format, encoding=args.encoding,
                        inputs=_input_files(args))
    log = res.log
    print(f"{log['input']['file']}: {log['input']['rows']:,} rows read ({log['input']['format']}), "
          f"{log['included']:,} included; nothing written")
    for rule, r in log["rules"].items():
        print(f"  {rule:<15} {r['rows']:>8,}  {r['reason']}")
    for line in clean.answer_warnings(log):
        print(line)
    data = selection.study(res.responses, res.schema, config.load_segments(args.segments),
                           tables=res.side_tables)
    print(data.describe())
    facts = data.facts
    if (found := facts.accounts_in_master) is not None:
        others = facts.accounts_responding - found
        print(f"account master: has {found:,} of the {facts.accounts_responding:,} B2B accounts that "
              "answered" + (f"; the {others:,} others are left out of the ARR and outcome figures"
                            if others else ""))
    lacking = {s: contract.missing(s, facts) for s in contract.SECTIONS}
    off = {s: m for s, m in lacking.items() if m}
    print(f"{len(lacking) - len(off)} of {len(lacking)} report sections can run on this data.")
    for section, missing in off.items():
        title = contract.title(section, facts.headline, facts.measure)
        print(f"  not available: {title}: needs {'; '.join(missing)}")
    extra = "".join(f" {i.option} {shown(getattr(args, i.dest))}" for i in registry.files()
                    if getattr(args, i.dest))
    print(f"next: cx run --raw {shown(args.raw)} --schema {shown(args.schema)}{extra}")
    return ExitCode.OK


def _report(args: argparse.Namespace) -> int:
    from helpers import config, paths
    from helpers.reporting import browser, run_index
    if args.report_command == "index":
        from helpers import catalog
        with catalog.writer_lock():
            print(run_index.write_index(catalog.refuse_raw(args.reports_dir, "reports"),
                                        config.load_pipeline().headline))
        return ExitCode.OK
    if args.report_command == "send":
        from helpers.reporting import run_command
        run_dir = paths.resolve(args.run_dir).resolve()
        lines = run_command.deliver_run(run_dir, config.load_delivery(), to_folder=args.to_file)
        print("\n".join(f"delivery: {line}" for line in lines))
        return ExitCode.FAILED if any("NOT" in line for line in lines) else ExitCode.OK
    if browser.find_chromium() is None:
        print("browser check skipped: Chromium not found (apt-get install -y chromium)")
        return ExitCode.OK
    failed = 0
    for check in browser.check_run(paths.resolve(args.run_dir)):
        failed += not check.ok
        status = "ok" if check.ok else "FAILED: " + "; ".join(check.problems())
        print(f"{Path(check.page).name}: {status} ({check.images} images)")
    return ExitCode.FAILED if failed else ExitCode.OK


def _export_options(p: argparse.ArgumentParser) -> None:
    """The optional input files beside an export (helpers.inputs; each may be left out)."""
    for inp in registry.files():
        p.add_argument(inp.option, dest=inp.dest, default="", type=user_path,
                       help=f"{inp.label}; optional")


def _input_files(args: argparse.Namespace) -> dict[str, str]:
    """The optional input files given on the command line: input name -> file ("" not given)."""
    return {inp.name: getattr(args, inp.dest) for inp in registry.files()}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cx", description="CX research workspace")
    sub = p.add_subparsers(dest="command", required=True)
    for add in (_sample_parser, _clean_parser, _schema_parser, _drivers_parser, _run_parser,
                _check_parser, _report_parser):
        add(sub)
    return p


def _sample_parser(sub: Any) -> None:
    s = sub.add_parser("sample", help="generate the sample CX program with planted truth")
    s.add_argument("--rows", type=int, default=5000,
                   help="rows in the survey export (default 5000); above 2,000,000 the export and "
                        "the invitations are written as parts of 1,000,000 rows in folders")
    s.add_argument("--seed", type=int, default=42)
    s.add_argument("--out", default=Path("data/raw"), type=user_path, help="output folder (default data/raw)")
    s.add_argument("--format", default="qualtrics", choices=["qualtrics", "csv", "xlsx", "sav"])
    s.add_argument("--no-gaming", action="store_true", help="plant no reps who game their scores")
    s.add_argument("--profile", default="full", choices=["full", "b2c-only", "b2b-responses", "custom"],
                   help="the programme's shape: full (default), B2C only, B2B responses only, or "
                        "its own item names and scales (writes the schema beside the export)")
    s.set_defaults(func=_sample)


def _clean_parser(sub: Any) -> None:
    c = sub.add_parser("clean", help="read an export, flag quality problems, remove personal data")
    c.add_argument("raw", type=user_path, help="the survey export (Qualtrics, SurveyMonkey, SPSS, CSV, XLSX, parquet)")
    c.add_argument("--schema", default=Path("config/survey.yaml"), type=user_path)
    c.add_argument("--out", default=Path("data/processed"), type=user_path)
    c.add_argument("--format", default="auto")
    c.add_argument("--encoding", default=None)
    c.add_argument("--speeder-fraction", type=float, default=None)
    _export_options(c)
    c.set_defaults(func=_clean)


def _schema_parser(sub: Any) -> None:
    sc = sub.add_parser("schema", help="survey schema tools")
    scs = sc.add_subparsers(dest="schema_command", required=True)
    inf = scs.add_parser("infer", help="draft a schema from an export")
    inf.add_argument("raw", type=user_path)
    inf.add_argument("--out", default=None, type=user_path, help="write the draft here (default: print)")
    inf.add_argument("--format", default="auto")
    inf.add_argument("--encoding", default=None)
    inf.set_defaults(func=_schema_infer)


def _drivers_parser(sub: Any) -> None:
    d = sub.add_parser("drivers", help="rank the drivers of the headline measure, LTR or another "
                                       "(exact Shapley/LMG with bootstrap CIs)")
    d.add_argument("--market", default="B2B", choices=["B2B", "B2C"])
    d.add_argument("--params", default=Path("config/params.yaml"), type=user_path,
                   help="run parameters; defaults are notebook 03's (waves, n_boot, seed, paths)")
    d.add_argument("--waves", default=None, help="comma-separated waves to pool ('' = all)")
    d.add_argument("--boot", type=int, default=None, help="bootstrap resamples (0 = none)")
    d.add_argument("--seed", type=int, default=None)
    d.add_argument("--responses", default=None, type=user_path, help="cleaned responses (default: the params file's)")
    d.set_defaults(func=_drivers)


def _run_parser(sub: Any) -> None:
    from helpers.reporting import run_command
    r = sub.add_parser("run", help="run the report pipeline")
    run_command.add_options(r)
    r.set_defaults(func=run_command.main)


def _check_parser(sub: Any) -> None:
    ck = sub.add_parser("check", help="check an export against its schema; list the sections it supports")
    ck.add_argument("raw", type=user_path, help="the survey export")
    ck.add_argument("--schema", default=Path("config/survey.yaml"), type=user_path)
    ck.add_argument("--segments", default=Path("config/segments.yaml"), type=user_path, help="analysis settings")
    ck.add_argument("--format", default="auto")
    ck.add_argument("--encoding", default=None)
    _export_options(ck)
    ck.set_defaults(func=_check)


def _report_parser(sub: Any) -> None:
    rp = sub.add_parser("report", help="report tools: browser-check a run, rewrite the run index")
    rps = rp.add_subparsers(dest="report_command", required=True)
    chk = rps.add_parser("check", help="open the index and every report of a run in headless Chromium")
    chk.add_argument("run_dir", nargs="?", default=Path("reports/latest"), type=user_path)
    chk.set_defaults(func=_report)
    idx = rps.add_parser("index", help="rewrite reports/index.html from the run folders")
    idx.add_argument("reports_dir", nargs="?", default=Path("reports"), type=user_path)
    idx.set_defaults(func=_report)
    snd = rps.add_parser("send", help="deliver a finished run again: summary mail or failure notice")
    snd.add_argument("run_dir", nargs="?", default=Path("reports/latest"), type=user_path)
    snd.add_argument("--to-file", default=None, metavar="DIR", type=user_path,
                     help="write the messages to DIR")
    snd.set_defaults(func=_report)


def main(argv: Sequence[str] | None = None) -> int:
    from helpers.catalog import LockedError
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (DataError, ArgumentError) as exc:  # bad data, or an option value out of range
        print(f"cx {args.command}: error: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    except LockedError as exc:  # another writer: not an error of this input, try again later
        print(f"cx {args.command}: {exc}", file=sys.stderr)
        return ExitCode.LOCKED
    except BrokenPipeError:  # output piped into `head`: stop quietly, as other commands do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.BROKEN_PIPE
    except OSError as exc:  # raw data is immutable; read-only or full disk
        print(f"cx {args.command}: error: {os_error_line(exc)}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    except KeyboardInterrupt:
        print(f"cx {args.command}: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
