"""Commands of the finetune part; registered on the root app by ``infinstruct.cli``."""

from __future__ import annotations

import typer

from infinstruct.core.protocols import IngestorFactory
from infinstruct.finetune.instructions import cli as instructions_cli
from infinstruct.finetune.sentiment import cli as sentiment_cli
from infinstruct.finetune.training import cli as training_cli


def register(app: typer.Typer, eval_app: typer.Typer, *, ingestor_factory: IngestorFactory) -> None:
    """Add this part's commands to the root app and the shared ``eval`` group.

    ``ingestor_factory`` is the connectors' loader (``services.build_ingestor``), which
    ``eval sentiment`` uses to read a labelled file; finetune may not import connectors.
    """
    instructions_cli.register(app, eval_app)
    training_cli.register(app, eval_app)
    sentiment_cli.register(app, eval_app, ingestor_factory=ingestor_factory)
