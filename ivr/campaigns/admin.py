"""`hotline campaign …`: survey campaigns from the command line (the same store as the page; a running server's
page shows the changes within a second)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO, TypeVar
from zoneinfo import ZoneInfo

from ivr.campaigns.errors import BadCampaign
from ivr.campaigns.store import CampaignRow, CampaignStore, NewCampaign, Progress
from ivr.db.engine import with_store
from ivr.settings import Settings
from routing import campaigns as rules
from routing.survey_scripts import SCRIPTS

T = TypeVar("T")
Command = Callable[[Any, str, str, Callable[[Settings, argparse.Namespace], int]], argparse.ArgumentParser]


def register(commands: Any, command: Command) -> None:
    campaign = commands.add_parser("campaign", help="survey campaigns: a number list per unit, a question script, "
                                   "quotas (docs/campaigns.md)").add_subparsers(title="actions")
    status = command(campaign, "status", "every campaign (or one): its state, and per unit the numbers asked, "
                     "answered, the quota and the satisfaction rate", cmd_status)
    status.add_argument("campaign_id", nargs="?", type=_campaign_id, help="one campaign's id")
    imported = command(campaign, "import", "a new campaign (ready, not started) from a CSV list: number, unit "
                       "(department code), name; prints the rows it could not take, by line", cmd_import)
    imported.add_argument("file", type=Path, help="the CSV list (UTF-8 or GB 18030)")
    imported.add_argument("--name", required=True, help="the campaign's name, e.g. 2026年第四季度政务服务评议")
    imported.add_argument("--script", required=True, choices=list(SCRIPTS), help="the question script")
    imported.add_argument("--channels", default="phone,sms", choices=list(rules.CHANNELS),
                          metavar="|".join(rules.CHANNELS),
                          help="phone first then SMS (default), phone only, or SMS only")
    imported.add_argument("--quota", action="append", default=[], type=_quota, metavar="UNIT=N",
                          help="answers wanted from a unit (repeatable); a unit without one: every number is asked")
    for action, text in (("start", "start a ready (or paused) campaign: its numbers are called and texted"),
                         ("pause", "pause a running campaign: no new call or SMS; the calls in progress finish"),
                         ("resume", "resume a paused campaign"),
                         ("cancel", "cancel a campaign: the numbers not yet answered are never asked")):
        moved = command(campaign, action, text, cmd_act)
        moved.add_argument("campaign_id", type=_campaign_id)
        moved.set_defaults(action=action)
    export = command(campaign, "export", "write a campaign's results per unit and question (or, with --answers, "
                     "each number's answers, numbers masked) as CSV", cmd_export)
    export.add_argument("campaign_id", type=_campaign_id)
    export.add_argument("--out", type=Path, required=True, help="the CSV file to write")
    export.add_argument("--answers", action="store_true", help="each number's answers instead of the results")


def _campaign_id(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"{value!r} is not a campaign id (a number)")
    return int(value)


def _quota(value: str) -> tuple[str, int]:
    try:
        return rules.parse_quota(value)
    except rules.BadQuota as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _with_store(settings: Settings, use: Callable[[CampaignStore], Awaitable[T]]) -> T:
    return asyncio.run(with_store(
        settings.database, lambda engine: CampaignStore(engine, settings.data_dir / "campaigns", settings.timezone,
                                                         outbound=settings.outbound),
        use))


def cmd_status(settings: Settings, arguments: argparse.Namespace, out: TextIO | None = None) -> int:
    zone = ZoneInfo(settings.timezone)

    async def read(store: CampaignStore) -> list[tuple[Progress, int]]:
        ids = [arguments.campaign_id] if arguments.campaign_id is not None else [
            campaign.id for campaign, _statuses in await store.all()]
        return [(await store.progress(campaign_id), len(store.problems(campaign_id))) for campaign_id in ids]

    shown = _with_store(settings, read)
    if not shown:
        print("no campaign yet: hotline campaign import FILE --name … --script …", file=out)
    for progress, problems in shown:
        print(status_text(progress, problems, zone), file=out)
    return 0


def status_text(progress: Progress, problems: int, zone: ZoneInfo) -> str:
    """A campaign as `hotline campaign status` prints it: its state, then a line per unit and one for all."""
    campaign, total = progress.campaign, progress.total
    lines = [f"campaign {campaign.id}: {campaign.name} · {campaign.script_title} · "
             f"{rules.CHANNEL_LABELS.get(campaign.channels, campaign.channels)} · {campaign.status}"
             + _times(campaign, zone)
             + (f" · {problems} problem line(s) in its list" if problems else ""),
             f"  {'unit':<24} {'numbers':>8} {'asked':>8} {'answered':>8} {'quota':>8} {'left':>8} "
             f"{'satisfied':>9}  name"]
    for unit in (*progress.units, total):
        lines.append(f"  {unit.unit or '(all)':<24} {unit.numbers:>8} {unit.asked:>8} {unit.answered:>8} "
                     f"{'—' if unit.quota is None else unit.quota:>8} {unit.live:>8} "
                     f"{rules.percent(unit.satisfaction) or '—':>9}  {unit.name}")
    return "\n".join(lines)


def _times(campaign: CampaignRow, zone: ZoneInfo) -> str:
    def local(moment: datetime) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    found = [f"imported {local(campaign.created_at)}"]
    if campaign.started_at:
        found.append(f"started {local(campaign.started_at)}")
    if campaign.finished_at:
        found.append(f"ended {local(campaign.finished_at)}")
    return " · " + ", ".join(found)


def cmd_import(settings: Settings, arguments: argparse.Namespace, out: TextIO | None = None) -> int:
    try:
        text = rules.decode_list(arguments.file.read_bytes())
    except ValueError as exc:
        raise BadCampaign(f"{arguments.file}: {exc}") from None
    quotas = dict(arguments.quota)
    new = NewCampaign(arguments.name, arguments.script, arguments.channels, quotas, f"cli:{getpass.getuser()}")
    imported = _with_store(settings, lambda store: store.create(new, text, datetime.now(UTC)))
    print(f"[hotline] campaign {imported.campaign.id} ({imported.campaign.name}) imported, ready to start: "
          f"{imported.imported} number(s), {len(imported.problems)} problem line(s)", file=out)
    for problem in imported.problems:
        print(f"  {problem}", file=out)
    return 0


def cmd_act(settings: Settings, arguments: argparse.Namespace, out: TextIO | None = None) -> int:
    campaign = _with_store(settings, lambda store: store.act(arguments.campaign_id, arguments.action,
                                                             datetime.now(UTC)))
    print(f"[hotline] campaign {campaign.id} ({campaign.name}): {campaign.status}", file=out)
    return 0


def cmd_export(settings: Settings, arguments: argparse.Namespace, out: TextIO | None = None) -> int:
    def export(store: CampaignStore) -> Awaitable[str]:
        return (store.answers_csv if arguments.answers else store.results_csv)(arguments.campaign_id)

    text = _with_store(settings, export)
    arguments.out.write_text(text, encoding="utf-8")
    what = "each number's answers" if arguments.answers else "results per unit and question"
    print(f"[hotline] campaign {arguments.campaign_id}: {what} written to {arguments.out}", file=out)
    return 0
