"""``repairsight export`` and ``repairsight purge``: a session as an MP4, and the retention policy.

Messages and the progress bar go to stderr; the dry run's list goes to stdout.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..errors import DomainError
from ..recordings.retention import RETENTION_DAYS_ENV, expired_recordings, purge
from .common import CliError, err, open_database
from .options import settings_of


def export_command(args: argparse.Namespace) -> int:
    # Imported here, not at the top: they load PyAV, OpenCV and the procedures, which the other
    # commands do not need.
    from procedures import ProcedureLibrary

    from ..recordings.export import ExportError
    from ..recordings.exports import chapters_text, check_exportable, export_source, export_to, report_lines

    settings = settings_of(args)
    out = Path(args.out)
    if out.suffix.lower() != ".mp4":
        raise CliError(f"{args.out}: the output must be an .mp4 file")
    if not out.parent.is_dir():
        raise CliError(f"{out.parent}: no such directory for the output")
    db = open_database(settings)
    try:
        source = export_source(db, settings.recordings_dir, args.session_id)
        check_exportable(source)
    except DomainError as exc:
        raise CliError(exc.message) from None
    library = ProcedureLibrary.with_builtin([Path(p) for p in args.procedures])
    console = Console(stderr=True)
    columns = (
        TextColumn("[bold]export[/]"),
        BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f} s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("export", total=1.0)

        def advance(done_s: float, total_s: float) -> None:
            progress.update(task, completed=done_s, total=max(total_s, done_s, 0.001))

        try:
            report = export_to(source, library, out, args.burn_in, progress=advance)
        except ExportError as exc:
            raise CliError(str(exc)) from None
    chapters = out.with_suffix(".vtt")
    chapters.write_text(chapters_text(source, library), encoding="utf-8")
    for line in report_lines(report):
        err(line)
    if report.partial:
        err("Warning: the recording was cut off (the server stopped mid-write); the export ends there.")
    print(out)
    print(chapters)
    return 0


def retention_days(args: argparse.Namespace) -> int:
    given = args.older_than_days
    source = "--older-than-days"
    if given is None:
        given, source = os.environ.get(RETENTION_DAYS_ENV), f"${RETENTION_DAYS_ENV}"
    if given is None or str(given).strip() == "":
        raise CliError(
            f"how old must a recording be to go? give --older-than-days N or set {RETENTION_DAYS_ENV}"
        )
    try:
        days = int(str(given))
    except ValueError:
        raise CliError(f"{source} {given!r}: not a whole number of days") from None
    if days < 1:
        raise CliError(f"{source} {days}: must be at least 1 day")
    return days


def purge_command(args: argparse.Namespace) -> int:
    days = retention_days(args)
    settings = settings_of(args)
    db = open_database(settings)
    items = expired_recordings(db, settings.recordings_dir, days)
    total_mb = sum(item.size_bytes for item in items) / 1e6
    if not items:
        err(f"No recordings of sessions ended more than {days} days ago; nothing to delete.")
        return 0
    if not args.yes:
        for item in items:
            print(
                f"would delete: session {item.session_id} of case {item.case_title!r}, ended "
                f"{item.ended_at.date().isoformat()}, {item.size_bytes / 1e6:.1f} MB"
            )
        err(
            f"Dry run: {len(items)} recording(s), {total_mb:.1f} MB, older than {days} days. "
            "Nothing was deleted; run again with --yes to delete them."
        )
        return 0
    for line in purge(db, items, days):
        print(line)
    err(f"Deleted {len(items)} recording(s), {total_mb:.1f} MB; each case's notes say which.")
    return 0


def add_parsers(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    export = commands.add_parser(
        "export",
        parents=[common],
        help="a session's recording as MP4 (H.264 + AAC) with WebVTT step chapters",
    )
    # Ids are random URL-safe text and may start with "-": write them after "--" then.
    export.add_argument("session_id", help="the session's id (one starting with '-' goes after '--')")
    export.add_argument(
        "out", metavar="OUT.mp4", help="the MP4 to write; the chapters go beside it as OUT.vtt"
    )
    export.add_argument("--burn-in", action="store_true", help="draw the AR overlay into the picture")
    export.add_argument(
        "--procedures",
        action="append",
        default=[],
        metavar="DIR",
        help="more procedure folders (as for serve)",
    )
    purge_parser = commands.add_parser(
        "purge",
        parents=[common],
        help="delete recordings past the retention period (a dry run without --yes)",
    )
    purge_parser.add_argument(
        "--older-than-days",
        type=int,
        metavar="N",
        help=f"delete recordings of sessions ended more than N days ago (default: ${RETENTION_DAYS_ENV})",
    )
    purge_parser.add_argument("--yes", action="store_true", help="really delete (default: only list)")


def run(args: argparse.Namespace) -> int:
    if args.command == "export":
        return export_command(args)
    return purge_command(args)
