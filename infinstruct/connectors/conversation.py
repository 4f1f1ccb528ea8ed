"""Helpdesk and chat exports, one message per row: rows grouped into ``dialogue`` documents.

Zendesk ticket comments, Intercom conversation parts, Freshdesk conversations and any
``conversation_id,role,text`` file, as CSV/TSV, JSON array, JSON lines or Parquet (read by
``tabular``; nested JSON by dotted path, ``author.type``). The fields are recognised by
name (:data:`PROFILES`) or named with ``--map conversation=F role=F text=F time=F``
(and ``author=F``). Rows of one conversation are ordered by time when every one has a
readable time, else kept in file order.

Roles: ``--agent-roles agent,admin`` makes exactly those values agents and every other
value the customer; without it the common names are known (:data:`AGENT_ROLES`,
:data:`CUSTOMER_ROLES`) and an unknown one is quarantined, naming the flag. With no role
field, the conversation's first author is the customer and the others agents (a ticket's
requester writes first). Internal notes (Zendesk ``public: false``, Freshdesk ``private``,
Intercom ``note`` parts) are kept in ``meta.notes``, never shown as turns.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from infinstruct.connectors.dialogues import dialogue
from infinstruct.connectors.news import clean_html, parse_time
from infinstruct.connectors.records import Item, Quarantined
from infinstruct.connectors.safeio import DEFAULT_LIMITS, Limits, TruncatedInput
from infinstruct.connectors.tabular import Row, cell_text, field_key, fields_with, table_fields, table_rows
from infinstruct.core.errors import ConnectorError

CUSTOMER_ROLES = frozenset(
    {"customer", "user", "end-user", "end_user", "enduser", "requester", "contact", "lead", "client"}
    | {"visitor", "guest", "human", "buyer", "consumer", "caller"}
)
AGENT_ROLES = frozenset(
    {"agent", "admin", "bot", "assistant", "support", "staff", "operator", "teammate", "representative"}
    | {"rep", "advisor", "seller", "gpt", "system", "fin", "ai"}
)
_CONVERSATION: tuple[str, ...] = ("conversation_id", "conversation", "thread_id", "dialogue_id", "session_id")
_CONVERSATION += ("chat_id", "ticket_id", "case_id")
_ROLE: tuple[str, ...] = ("role", "author_role", "sender_role", "author_type", "author.role", "author.type")
_ROLE += ("speaker", "sender_type", "sender", "from")
_TEXT = ("text", "message", "body_text", "plain_body", "body", "content", "html_body", "utterance", "value")
_TIME = ("created_at", "timestamp", "time", "date", "sent_at", "created", "ts", "datetime")
_AUTHOR = ("author_id", "author.id", "user_id", "sender_id")


@dataclass(frozen=True)
class Profile:
    """Which fields of a message export mean what."""

    name: str
    conversation: str
    text: str
    role: str | None = None
    time: str | None = None
    author: str | None = None
    #: ``incoming``: Freshdesk's boolean (true = the customer wrote it), not a role name.
    role_is_incoming: bool = False
    #: A field marking internal notes and the value(s) that mean "note".
    note_field: str | None = None
    note_values: frozenset[str] = field(default_factory=frozenset)
    html: bool = False

    def mapping(self) -> dict[str, str]:
        keys = {"conversation": self.conversation, "role": self.role, "text": self.text}
        keys |= {"time": self.time, "author": self.author, "note": self.note_field}
        return {k: v for k, v in keys.items() if v}


def _first(fields: set[str], names: tuple[str, ...]) -> str | None:
    return next((n for n in names if n in fields), None)


def _zendesk(fields: set[str]) -> Profile | None:
    text = _first(fields, ("plain_body", "body", "html_body"))
    if "ticket_id" not in fields or text is None or "incoming" in fields:
        return None
    role = _first(fields, ("author_role", "role", "author.role", "author_type"))
    if role is None and "author_id" not in fields:
        return None
    return Profile(
        "zendesk",
        "ticket_id",
        text,
        role=role,
        time=_first(fields, ("created_at",)),
        author="author_id" if "author_id" in fields else None,
        note_field="public" if "public" in fields else None,
        note_values=frozenset({"false", "0"}),
        html=text == "html_body",
    )


def _intercom(fields: set[str]) -> Profile | None:
    if "conversation_id" not in fields or "body" not in fields:
        return None
    if "part_type" not in fields and "author.type" not in fields:
        return None
    return Profile(
        "intercom",
        "conversation_id",
        "body",
        role=_first(fields, ("author.type", "author_type", "role")),
        time=_first(fields, ("created_at",)),
        author=_first(fields, ("author.id", "author_id")),
        note_field="part_type" if "part_type" in fields else None,
        note_values=frozenset({"note"}),
        html=True,
    )


def _freshdesk(fields: set[str]) -> Profile | None:
    text = _first(fields, ("body_text", "body"))
    if "ticket_id" not in fields or "incoming" not in fields or text is None:
        return None
    return Profile(
        "freshdesk",
        "ticket_id",
        text,
        role="incoming",
        role_is_incoming=True,
        time=_first(fields, ("created_at",)),
        author=_first(fields, ("user_id",)),
        note_field="private" if "private" in fields else None,
        note_values=frozenset({"true", "1"}),
        html=text == "body",
    )


def _generic(fields: set[str]) -> Profile | None:
    conversation, text = _first(fields, _CONVERSATION), _first(fields, _TEXT)
    role, author = _first(fields, _ROLE), _first(fields, _AUTHOR)
    if conversation is None or text is None or (role is None and author is None):
        return None
    return Profile(
        "generic",
        conversation,
        text,
        role=role,
        time=_first(fields, _TIME),
        author=author,
        html=text == "html_body",
    )


#: Tried in order; the first that fits the field names wins.
PROFILES = (_freshdesk, _intercom, _zendesk, _generic)
_CONFIDENCE = {"zendesk": 0.85, "intercom": 0.85, "freshdesk": 0.85, "generic": 0.75, "mapped": 0.7}


class ConversationConnector:
    """One message per row → one ``dialogue`` document per conversation id."""

    name = "conversation"
    #: Set by ``registry`` from the load's settings; the settings' defaults otherwise.
    limits: Limits = DEFAULT_LIMITS
    domain = "support"
    expects = (
        "one message per row (CSV/TSV, JSON array, JSONL, Parquet) with conversation id, role and text "
        "fields (Zendesk, Intercom, Freshdesk exports or conversation_id,role,text); "
        "--map conversation=F role=F text=F time=F, --agent-roles agent,admin"
    )

    def __init__(
        self, columns: dict[str, str] | None = None, *, agent_roles: list[str] | None = None
    ) -> None:
        self.columns = columns or {}
        self.agent_roles = frozenset(r.strip().lower() for r in agent_roles or [] if r.strip())

    def profile(self, fields: list[str]) -> Profile | None:
        """The export profile for these field names, with ``--map`` applied on top."""
        present = set(fields)
        # Profiles name fields the way the tools' APIs spell them; CSV exports often say
        # "Ticket ID" or "Author-Role": compare by field_key, then use the file's spelling.
        spelt = {field_key(f): f for f in reversed(fields)}
        found = next((p for p in (f(set(spelt)) for f in PROFILES) if p is not None), None)
        found = _respell(found, spelt) if found else None
        mapped = {
            k: v for k, v in self.columns.items() if k in ("conversation", "role", "text", "time", "author")
        }
        if not mapped:
            return found
        merged: Profile = replace(found or Profile("mapped", "", ""), **mapped)  # type: ignore[arg-type]  # keys checked above
        if "role" in mapped:  # a named role field holds role names, not Freshdesk's boolean
            merged = replace(merged, role_is_incoming=False)
        ok = merged.conversation in present and merged.text in present
        ok = ok and (merged.role in present or merged.author in present)
        return merged if ok else None

    def mapping(self, path: Path) -> dict[str, str]:
        profile = self.profile(table_fields(path))
        return profile.mapping() if profile else {}

    def detect(self, path: Path) -> float:
        profile = self.profile(table_fields(path))
        if profile is None:
            return 0.0
        confidence = _CONFIDENCE.get(profile.name, 0.7)
        return confidence if profile.role else confidence - 0.15

    def read(self, path: Path) -> Iterator[Item]:
        profile: Profile | None = None
        groups: dict[str, list[tuple[int, Row]]] = {}
        known = table_fields(path)
        try:
            for number, row in table_rows(path, limits=self.limits):
                if isinstance(row, str):
                    yield Quarantined(
                        str(path), "wrong number of columns or not a JSON object", raw=row, line=number
                    )
                    continue
                profile = profile or self._profile_or_raise(path, fields_with(known, row))
                key = cell_text(row.get(profile.conversation)).strip()
                if not key:
                    yield Quarantined(str(path), "empty conversation id", raw=_raw(row), line=number)
                    continue
                groups.setdefault(key, []).append((number, row))
        except TruncatedInput as exc:  # conversations read before the damage still load
            yield Quarantined(str(path), str(exc))
        for key, rows in groups.items():
            assert profile is not None
            yield from self._conversation(path, profile, key, rows)

    def _profile_or_raise(self, path: Path, fields: list[str]) -> Profile:
        profile = self.profile(fields)
        if profile is None:
            raise ConnectorError(
                f"{path}: cannot find the conversation id, role (or author) and text fields in {fields} "
                f"(mapping {self.columns or 'none'}); name them with "
                "--map conversation=FIELD role=FIELD text=FIELD time=FIELD (dotted paths reach nested JSON)"
            )
        return profile

    def _conversation(
        self, path: Path, profile: Profile, key: str, rows: list[tuple[int, Row]]
    ) -> Iterator[Item]:
        times = [parse_time(_time_value(row.get(profile.time))) if profile.time else None for _, row in rows]
        timed = all(t is not None for t in times)
        order = list(range(len(rows)))
        if timed:
            order.sort(key=lambda i: (times[i] or datetime.min, i))
        sorted_rows = [(rows[i][0], rows[i][1], times[i]) for i in order]
        turns, notes, quiet, bad = self._messages(path, profile, sorted_rows)
        yield from bad
        if not turns:  # notes and events alone are no dialogue; each row is kept in quarantine
            for number, row, _ in sorted_rows:
                if number in quiet:
                    yield Quarantined(
                        str(path),
                        "conversation without a customer or agent message",
                        raw=_raw(row),
                        line=number,
                    )
            return
        record = dialogue(
            turns,
            key=key,
            line=rows[0][0],
            conversation_id=key,
            export=profile.name,
            order="time" if timed else "row",
            **({"notes": notes} if notes else {}),
            **({"empty_rows": len(quiet) - len(notes)} if len(quiet) > len(notes) else {}),
        )
        record.group_key = f"conversation:{key}"
        record.published_at = next((t for _, _, t in sorted_rows if t), None)
        record.source_rows = len(rows) - len(bad)  # quarantined rows are counted there
        yield record

    def _messages(
        self, path: Path, profile: Profile, rows: list[tuple[int, Row, datetime | None]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], set[int], list[Quarantined]]:
        """Turns, internal notes, the line numbers of rows that are no turn (notes and empty
        events: counted, not turns) and the rows quarantined for an unknown role."""
        first_author = cell_text(rows[0][1].get(profile.author)).strip() if profile.author else ""
        turns: list[dict[str, Any]] = []
        notes: list[dict[str, Any]] = []
        quiet: set[int] = set()
        bad: list[Quarantined] = []
        for number, row, stamp in rows:
            text = cell_text(row.get(profile.text))
            text = clean_html(text) if profile.html else text.strip()
            if not text:
                quiet.add(number)  # an event (assignment, attachment only)
                continue
            entry: dict[str, Any] = {"text": text, **({"time": stamp.isoformat()} if stamp else {})}
            if profile.author and cell_text(row.get(profile.author)).strip():
                entry["author"] = cell_text(row.get(profile.author)).strip()
            note = cell_text(row.get(profile.note_field)).strip().lower() if profile.note_field else ""
            if profile.note_field and note in profile.note_values:
                notes.append(entry)
                quiet.add(number)
                continue
            role = self._role(profile, row, first_author)
            if role is None:
                raw_role = cell_text(row.get(profile.role or ""))
                reason = f"unknown author role {raw_role!r}; name the agent roles with --agent-roles (e.g. agent,admin)"
                bad.append(Quarantined(str(path), reason, raw=_raw(row), line=number))
                continue
            turns.append({"role": role, **entry})
        return turns, notes, quiet, bad

    def _role(self, profile: Profile, row: Row, first_author: str) -> str | None:
        if profile.role is None:
            author = cell_text(row.get(profile.author or "")).strip()
            return "customer" if author == first_author else "agent"
        value = cell_text(row.get(profile.role)).strip().lower()
        if profile.role_is_incoming:
            return (
                "customer"
                if value in ("true", "1", "yes")
                else "agent"
                if value in ("false", "0", "no")
                else None
            )
        if self.agent_roles:
            return "agent" if value in self.agent_roles else "customer"
        if value in AGENT_ROLES:
            return "agent"
        return "customer" if value in CUSTOMER_ROLES else None


def _respell(profile: Profile, spelt: dict[str, str]) -> Profile:
    """The profile with each field as the file spells it (``ticket_id`` → ``Ticket ID``)."""

    def own(name: str | None) -> str | None:
        return spelt.get(name, name) if name else name

    return replace(
        profile,
        conversation=spelt.get(profile.conversation, profile.conversation),
        text=spelt.get(profile.text, profile.text),
        role=own(profile.role),
        time=own(profile.time),
        author=own(profile.author),
        note_field=own(profile.note_field),
    )


def _time_value(value: Any) -> str | datetime:
    return value if isinstance(value, datetime) else cell_text(value)


def _raw(row: Any) -> str:
    return json.dumps(row, ensure_ascii=False, default=str)[:2000]
