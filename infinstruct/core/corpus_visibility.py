"""Which corpora customers may be shown: public (help centre, FAQs) or internal (the rest).

Conversation logs hold customers' own words, so every corpus is internal until an operator
marks it public (``infinstruct corpus visibility NAME public`` or the console). Retrieval and
grounding may use any corpus; only a public one is ever quoted to a customer.
"""

from __future__ import annotations

from sqlmodel import select

from infinstruct.core.db import session_scope
from infinstruct.core.errors import InputError, NotFoundError
from infinstruct.core.settings import Settings
from infinstruct.core.tables import Corpus

VISIBILITIES = ("public", "internal")


def set_visibility(settings: Settings, name: str, visibility: str) -> dict[str, str]:
    """Mark corpus ``name`` public or internal; returns ``{corpus, visibility, was}``."""
    if visibility not in VISIBILITIES:
        raise InputError(f"visibility must be public or internal (got {visibility!r})")
    with session_scope(settings) as session:
        corpus = session.exec(select(Corpus).where(Corpus.name == name)).first()
        if corpus is None:
            known = ", ".join(session.exec(select(Corpus.name)).all()) or "none"
            raise NotFoundError(f"no corpus {name!r}; known: {known} (see `infinstruct corpus list`)")
        was, corpus.visibility = corpus.visibility, visibility
        session.add(corpus)
    return {"corpus": name, "visibility": visibility, "was": was}


def visibility_by_corpus(settings: Settings) -> dict[str, str]:
    """Every corpus name with its visibility."""
    with session_scope(settings) as session:
        return {name: vis for name, vis in session.exec(select(Corpus.name, Corpus.visibility)).all()}


def public_corpora(settings: Settings) -> frozenset[str]:
    """Names of the corpora that customers may see quoted."""
    return frozenset(name for name, vis in visibility_by_corpus(settings).items() if vis == "public")
