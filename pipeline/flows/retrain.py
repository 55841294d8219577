"""The ``retrain`` flow: a challenger on seed + confirmed codings, promoted only if better.

The decision logic lives in models.promotion; this flow runs it with the pipeline's
settings and publishes the two scorecards and the decision as a markdown artifact.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from pipeline.flows import progress
from pipeline.flows.config import flow_settings
from pipeline.flows.ingest import _md


@task(name="train-and-compare", tags=["cpu"])
def retrain_task(margin: float, holdout_fraction: float, seed: int, min_holdout: int,
                 primary: str, seed_files: list[str] | None) -> dict[str, Any]:
    from models.promotion import retrain

    return retrain(seed_files=seed_files, margin=margin, holdout_fraction=holdout_fraction,
                   seed=seed, min_holdout=min_holdout, primary=primary).as_dict()


def decision_markdown(d: dict[str, Any]) -> str:
    verdict = "promoted" if d["promoted"] else "not promoted"
    lines = ["# Retrain", "",
             f"**Challenger `{d.get('challenger') or '-'}` {verdict}** "
             f"(current model: `{d.get('current') or '-'}`)", "",
             f"{_md(d['reason'])}", "",
             f"Held out: {d['holdout'].get('n', 0)} confirmed codings (seed "
             f"{d['holdout'].get('seed')}, fraction {d['holdout'].get('fraction')}); "
             f"trained on the seed set + {d['training'].get('confirmed', 0)} confirmed; "
             f"primary metric `{d['primary_metric']}`, margin {d['margin']}", ""]
    ch, champ = d.get("challenger_card"), d.get("champion_card")
    if ch:
        fields = list(ch["fields"]) + [f for f in (champ or {}).get("fields", {})
                                       if f not in ch["fields"]]
        lines += [f"| field | current `{d.get('champion') or '-'}` | challenger "
                  f"`{d.get('challenger')}` | change |", "|---|---:|---:|---:|"]
        for f in fields + ["primary"]:
            a = (champ or {}).get("fields", {}).get(f) if f != "primary" else (
                champ or {}).get("primary")
            b = ch["fields"].get(f) if f != "primary" else ch["primary"]
            delta = f"{b - a:+.4f}" if a is not None and b is not None else "-"
            lines.append(f"| {f} | {'-' if a is None else f'{a:.4f}'} | "
                         f"{'-' if b is None else f'{b:.4f}'} | {delta} |")
    skipped = d["training"].get("skipped") or []
    if skipped:
        lines += ["", f"Skipped confirmed codings ({len(skipped)}):", ""]
        lines += [f"- {_md(s)}" for s in skipped[:50]]
    return "\n".join(lines)


@flow(name="vivid-retrain", log_prints=False)
def retrain_flow(margin: float | None = None, holdout_fraction: float | None = None,
                 seed: int | None = None, min_holdout: int | None = None,
                 primary: str | None = None, seed_files: list[str] | None = None
                 ) -> dict[str, Any]:
    """Train, compare on the held-out confirmed codings, promote or refuse; record it."""
    cfg = flow_settings()
    progress.emit("step", name="training a challenger and comparing")
    decision = retrain_task(
        cfg.retrain_margin if margin is None else margin,
        cfg.retrain_holdout if holdout_fraction is None else holdout_fraction,
        cfg.retrain_seed if seed is None else seed,
        cfg.retrain_min_holdout if min_holdout is None else min_holdout,
        primary or cfg.retrain_primary, seed_files)
    create_markdown_artifact(decision_markdown(decision), key="vivid-retrain",
                             description="Challenger vs current model on held-out "
                                         "confirmed codings, and the decision")
    get_run_logger().info("retrain: %s (%s)", "promoted" if decision["promoted"]
                          else "not promoted", decision["reason"])
    return decision
