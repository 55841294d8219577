"""The `vivid` command: one typer app; each area registers its commands from its module."""

from __future__ import annotations

import typer

from pipeline.cli import (
    annotation_cmds,
    corpus_cmds,
    evaluation_cmds,
    flow_cmds,
    headings_cmds,
    models_cmds,
)

app = typer.Typer(help="vivid: suggest codings for Serious Case Review reports.",
                  no_args_is_help=True, add_completion=False)

for _module in (corpus_cmds, headings_cmds, models_cmds, annotation_cmds, evaluation_cmds,
                flow_cmds):
    _module.register(app)


def main() -> None:
    app()
