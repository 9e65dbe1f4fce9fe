"""``caretbot push``: the rules that push engaged blast recipients into Zoho Recruit,
one run now, and the history of what each candidate became there.

`push add` and `push` (the rules) need only the database; `push enable`, and `push run`
unless `--dry-run`, need the Zoho settings and name any that are missing (exit 2).
A bad rule is refused with the reason (exit 1); a run while another is in progress says
which and exits 3.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

import typer

from bot.cli.imports import open_database
from bot.recruit.client import client_for
from bot.settings import Settings, SettingsError, load_settings, require_push
from grammar.phones import to_e164
from scheduler.push import PushInProgress, RunReport, run_push
from storage.db import Database
from storage.push.rules import (
    CARETBOT_FIELDS,
    RuleError,
    RuleView,
    add_rule,
    list_rules,
    set_enabled,
)
from storage.push.runs import history_rows
from storage.push.tokens import DatabaseTokens

IN_PROGRESS_EXIT = 3
STATE_WORDS = {
    "pending": "Pending",
    "new": "New",
    "updated": "Updated",
    "readded": "Re-added",
    "failed": "Failed",
    "ignored": "Ignored",
}
MAP_HELP = (
    "caretbot_field=Recruit_Field, to add or override a mapping (repeatable). "
    "caretbot fields: " + ", ".join(CARETBOT_FIELDS) + ", custom.NAME"
)


def register(app: typer.Typer) -> None:
    """Add ``push`` (with add, enable, disable, run, history) to the CLI."""
    push_app = typer.Typer(help="Push engaged blast recipients into Zoho Recruit.")
    push_app.callback(invoke_without_command=True)(rules_command)
    push_app.command("add")(add_command)
    push_app.command("enable")(enable_command)
    push_app.command("disable")(disable_command)
    push_app.command("run")(run_command)
    push_app.command("history")(history_command)
    app.add_typer(push_app, name="push")


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as error:
        typer.echo(f"caretbot: configuration problem\n{error}", err=True)
        raise typer.Exit(2) from None


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment is not None else ""


def rules_command(ctx: typer.Context) -> None:
    """The push rules: id, module, engagement, list, state and last run."""
    if ctx.invoked_subcommand is not None:
        return
    db = open_database()
    try:
        with db.read() as session:
            rules = list_rules(session=session)
    finally:
        db.dispose()
    if not rules:
        typer.echo(
            "no push rules yet: caretbot push add --module candidates --engagement replied "
            "--list LIST"
        )
        return
    _table(
        ["id", "module", "engagement", "list", "state", "since", "last run"],
        [
            [
                rule.id,
                rule.module,
                rule.engagement,
                rule.list_name,
                "enabled" if rule.enabled else "disabled",
                _when(rule.window_start) if rule.enabled else "",
                _last_run(rule),
            ]
            for rule in rules
        ],
    )


def _last_run(rule: RuleView) -> str:
    if rule.last_run_at is None:
        return "never"
    counts = rule.last_summary or {}
    ignored = sum((counts.get("ignored") or {}).values())
    return (
        f"#{rule.last_run_id} {_when(rule.last_run_at)} {rule.last_run_state}: "
        f"{counts.get('new', 0)} new, {counts.get('updated', 0)} updated, "
        f"{counts.get('readded', 0)} re-added, {counts.get('failed', 0)} failed, "
        f"{ignored} ignored"
    )


def add_command(
    module: Annotated[str, typer.Option("--module", help="candidates or contacts")],
    engagement: Annotated[str, typer.Option("--engagement", help="replied or clicked")],
    list_name: Annotated[str, typer.Option("--list", help="The list whose blasts count.")],
    maps: Annotated[list[str] | None, typer.Option("--map", help=MAP_HELP)] = None,
    status_field: Annotated[
        str | None,
        typer.Option(
            "--status-field",
            help='A Recruit field that receives the engagement ("Replied to SMS blast NAME").',
        ),
    ] = None,
) -> None:
    """Add a push rule (disabled until `caretbot push enable ID`)."""
    db = open_database()
    try:
        with db.write() as session:
            rule = add_rule(
                session=session,
                module=module,
                engagement=engagement,
                list_name=list_name,
                map_pairs=maps,
                status_field=status_field,
            )
    except RuleError as error:
        raise _fail(f"caretbot: {error}") from None
    finally:
        db.dispose()
    typer.echo(f"push rule {rule.label} added, disabled; fields:")
    for caretbot_field, recruit_field in rule.field_map.items():
        typer.echo(f"  {caretbot_field} -> {recruit_field}")
    if rule.status_field:
        typer.echo(f"  (engagement) -> {rule.status_field}")
    typer.echo(f"start it with: caretbot push enable {rule.id}")


def enable_command(rule_id: Annotated[int, typer.Argument(help="The rule's id.")]) -> None:
    """Enable a rule: engagement from 5 days before now counts (the backfill)."""
    settings = _settings()
    try:
        require_push(settings)
    except SettingsError as error:
        raise _fail(f"caretbot: configuration problem\n{error}", 2) from None
    _set(rule_id, enabled=True)


def disable_command(rule_id: Annotated[int, typer.Argument(help="The rule's id.")]) -> None:
    """Disable a rule: runs skip it; its history stays."""
    _set(rule_id, enabled=False)


def _set(rule_id: int, *, enabled: bool) -> None:
    db = open_database()
    try:
        with db.write() as session:
            rule, changed = set_enabled(session=session, rule_id=rule_id, enabled=enabled)
    except RuleError as error:
        raise _fail(f"caretbot: {error}") from None
    finally:
        db.dispose()
    if not changed:
        typer.echo(f"push rule {rule.label} is already {'enabled' if enabled else 'disabled'}")
    elif enabled:
        typer.echo(
            f"push rule {rule.label} enabled: engagement since {_when(rule.window_start)} "
            "(5 days back) is pushed on the next run"
        )
    else:
        typer.echo(f"push rule {rule.label} disabled")


def run_command(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Plan and show the records; send nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
) -> None:
    """Run the push once now (the scheduler also runs it every PUSH_INTERVAL_MINUTES)."""
    settings = _settings()
    db = open_database()
    client = None
    try:
        if not dry_run:
            try:
                client = client_for(settings, DatabaseTokens(db))
            except SettingsError as error:
                raise _fail(f"caretbot: configuration problem\n{error}", 2) from None
        try:
            # Log lines go to stderr: stdout carries only the outcome (--json parses).
            with contextlib.redirect_stdout(sys.stderr):
                report = run_push(db, client, channel=settings.SLACK_CHANNEL_ID, dry_run=dry_run)
        except PushInProgress as busy:
            raise _fail(f"caretbot: {busy}", IN_PROGRESS_EXIT) from None
    finally:
        if client is not None:
            client.close()
        db.dispose()
    if as_json:
        typer.echo(json.dumps(_report_json(report), ensure_ascii=False, indent=2))
    else:
        _print_report(report)
    if report.state == "stopped":
        raise typer.Exit(1)


def _report_json(report: RunReport) -> dict[str, Any]:
    out: dict[str, Any] = {
        "run": report.run_id,
        "state": report.state,
        "error": report.error,
        "settled": report.settled,
        "rules": [
            {
                "id": outcome.rule.id,
                "module": outcome.rule.module,
                "engagement": outcome.rule.engagement,
                "list": outcome.rule.list_name,
                **outcome.as_dict(),
            }
            for outcome in report.outcomes
        ],
    }
    if report.state == "dry_run":
        for entry, plan in zip(out["rules"], report.plans, strict=True):
            entry["records"] = [p.record for p in plan.pushes]
            entry["ignored_candidates"] = [
                {"phone": i.phone, "reason": i.reason} for i in plan.ignored
            ]
    return out


def _print_report(report: RunReport) -> None:
    if report.state == "idle":
        typer.echo("no push rule is enabled: nothing to do (caretbot push enable ID)")
        return
    if report.state == "dry_run":
        typer.echo("dry run: nothing is sent")
    else:
        typer.echo(f"push run #{report.run_id}: {report.state}")
    if report.error:
        typer.echo(f"  {report.error}")
    if report.settled:
        typer.echo(f"  {report.settled} entries left pending by an interrupted run, settled")
    for outcome, index in zip(report.outcomes, range(len(report.outcomes)), strict=True):
        rule = outcome.rule
        verb = "would push" if report.state == "dry_run" else ""
        typer.echo(f"rule {rule.label}: {verb + ' ' if verb else ''}{outcome.describe()}")
        if report.state == "dry_run":
            plan = report.plans[index]
            for planned in plan.pushes:
                typer.echo("  " + json.dumps(planned.record, ensure_ascii=False))
            for ignored in plan.ignored:
                typer.echo(f"  ignored {ignored.phone}: {ignored.reason}")


def history_command(
    candidate: Annotated[
        str | None, typer.Option("--candidate", help="Only this candidate (phone number).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the entries as JSON.")] = False,
    limit: Annotated[int, typer.Option(help="How many entries, newest first.")] = 200,
) -> None:
    """What the push did with each candidate: New, Updated, Re-added, Failed, Ignored."""
    phone = None
    if candidate is not None:
        phone = to_e164(candidate, "US")
        if phone is None:
            raise _fail(f'caretbot: "{candidate}" is not a phone number (+15125550100)')
    db: Database = open_database()
    try:
        with db.read() as session:
            rows = history_rows(session=session, phone=phone, limit=limit)
    finally:
        db.dispose()
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "at": row.at.isoformat(),
                        "run": row.run_id,
                        "rule": row.rule_id,
                        "module": row.module,
                        "engagement": row.engagement,
                        "phone": row.phone,
                        "name": row.name,
                        "state": STATE_WORDS[row.state],
                        "reason": row.reason,
                        "error_code": row.error_code,
                        "error_field": row.error_field,
                        "recruit_id": row.recruit_id,
                        "engaged_at": row.engaged_at.isoformat(),
                    }
                    for row in rows
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    if not rows:
        typer.echo("no push history" + (f" for {phone}" if phone else ""))
        return
    _table(
        ["when", "run", "rule", "phone", "name", "state", "detail", "recruit id"],
        [
            [
                _when(row.at),
                row.run_id,
                f"#{row.rule_id} {row.module}",
                row.phone,
                row.name,
                STATE_WORDS[row.state],
                _detail(row),
                row.recruit_id or "",
            ]
            for row in rows
        ],
    )


def _detail(row: Any) -> str:
    if row.state == "failed":
        return f"{row.error_code} {row.error_field or ''}".strip()
    return row.reason or ""


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain text table: no colour, so it reads the same in a log or a pipe."""
    cells = [[str(c) for c in header], *([("" if v is None else str(v)) for v in r] for r in rows)]
    widths = [max(len(row[at]) for row in cells) for at in range(len(header))]
    for number, row in enumerate(cells):
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        typer.echo(line.rstrip())
        if number == 0:
            typer.echo("  ".join("-" * width for width in widths))
