"""Every SQLModel table of the platform, importable from one place.

Importing this package registers all tables on ``SQLModel.metadata`` (Alembic and
``create_all`` rely on it). Tables are singular-named and grouped per concept.
"""

from infinstruct.core.tables.alerts import (
    Alert,
    AlertChannel,
    Delivery,
    Feed,
    SentimentScore,
    Watchlist,
)
from infinstruct.core.tables.chat import (
    ChatTurn,
    Conversation,
    CuratedAnswer,
    Feedback,
    Handoff,
)
from infinstruct.core.tables.corpus import (
    Corpus,
    CorpusVersion,
    Document,
    Quarantine,
    Source,
)
from infinstruct.core.tables.instructions import InstructionExample, InstructionSet
from infinstruct.core.tables.items import Interaction
from infinstruct.core.tables.jobs import JobRun, Lease
from infinstruct.core.tables.models import ModelVersion
from infinstruct.core.tables.retrieval import Chunk, EmbeddingCache
from infinstruct.core.tables.users import ApiToken, User, WebSession

__all__ = [
    "Alert",
    "AlertChannel",
    "ApiToken",
    "ChatTurn",
    "Chunk",
    "Conversation",
    "Corpus",
    "CorpusVersion",
    "CuratedAnswer",
    "Delivery",
    "Document",
    "EmbeddingCache",
    "Feed",
    "Feedback",
    "Handoff",
    "InstructionExample",
    "InstructionSet",
    "Interaction",
    "JobRun",
    "Lease",
    "ModelVersion",
    "Quarantine",
    "SentimentScore",
    "Source",
    "User",
    "Watchlist",
    "WebSession",
]
