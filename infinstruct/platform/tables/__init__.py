"""Every SQLModel table of the platform, importable from one place.

Importing this package registers all tables on ``SQLModel.metadata`` (Alembic and
``create_all`` rely on it). Tables are singular-named and grouped per concept.
"""

from infinstruct.platform.tables.alerts import (
    Alert,
    AlertChannel,
    Delivery,
    Feed,
    SentimentScore,
    Watchlist,
)
from infinstruct.platform.tables.chat import (
    ChatTurn,
    Conversation,
    CuratedAnswer,
    Feedback,
    Handoff,
)
from infinstruct.platform.tables.corpus import (
    Corpus,
    CorpusVersion,
    Document,
    Quarantine,
    Source,
)
from infinstruct.platform.tables.instructions import InstructionExample, InstructionSet
from infinstruct.platform.tables.items import Interaction
from infinstruct.platform.tables.jobs import JobRun, Lease
from infinstruct.platform.tables.models import ModelVersion
from infinstruct.platform.tables.retrieval import Chunk, EmbeddingCache
from infinstruct.platform.tables.users import ApiToken, User, WebSession

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
