"""`vivid serve`: the four flows as Prefect deployments on cron schedules from settings.

Served deployments run in this process's runner; with ``PREFECT_API_URL`` pointing at a
team's Prefect server they appear (and can be triggered) in its UI. Entry points are
module paths, so runs work from any working directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.flows.config import FlowSettings, flow_settings


@dataclass(frozen=True)
class Scheduled:
    name: str
    flow: Any
    cron: str
    description: str


def schedules(cfg: FlowSettings | None = None) -> list[Scheduled]:
    """What is served, and when (``VIVID_CRON_INGEST`` etc. override the defaults)."""
    from pipeline.flows.ingest import ingest_flow
    from pipeline.flows.report import report_flow
    from pipeline.flows.retrain import retrain_flow
    from pipeline.flows.sync import sync_flow

    cfg = cfg or flow_settings()
    return [
        Scheduled("ingest", ingest_flow, cfg.cron_ingest,
                  "New reports from the inbox and feed; suggestions routed to Label Studio."),
        Scheduled("sync", sync_flow, cfg.cron_sync,
                  "Annotations pulled, reconciled, and the dataset of confirmed codings."),
        Scheduled("retrain", retrain_flow, cfg.cron_retrain,
                  "A challenger on seed + confirmed codings, promoted only if better."),
        Scheduled("report", report_flow, cfg.cron_report,
                  "Inter-coder agreement and the collation outputs."),
    ]


def check_cron(cron: str, what: str) -> None:
    """A clear message for a schedule that is not a 5-field cron expression."""
    from prefect.client.schemas.schedules import CronSchedule

    try:
        CronSchedule(cron=cron)
        ok = len(cron.split()) == 5
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"VIVID_CRON_{what.upper()}={cron!r} is not a valid cron expression "
                         "(five fields, e.g. '0 6 * * *')")


def build_deployments(cfg: FlowSettings | None = None) -> list[Any]:
    """RunnerDeployments for `prefect.serve` (one per flow, tagged ``vivid``)."""
    from prefect.deployments.runner import EntrypointType
    from prefect.schedules import Cron

    cfg = cfg or flow_settings()
    out = []
    for s in schedules(cfg):
        check_cron(s.cron, s.name)
        out.append(s.flow.to_deployment(
            name=f"vivid-{s.name}", schedules=[Cron(s.cron, timezone=cfg.timezone)],
            description=s.description, tags=["vivid"],
            entrypoint_type=EntrypointType.MODULE_PATH))
    return out


def serve_all(limit: int | None = None) -> None:
    """Serve every deployment until interrupted (Ctrl-C pauses their schedules)."""
    from prefect import serve

    from pipeline.flows.runtime import prefect_api

    deployments = build_deployments()
    with prefect_api():
        serve(*deployments, limit=limit)
