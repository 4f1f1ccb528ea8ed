"""Dialogue sources: ABCD, Taskmaster, generic chat JSONL (OpenAI/ShareGPT), Taobao ECD."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from infinstruct.connectors.records import DocumentRecord, Item, Quarantined
from infinstruct.connectors.safeio import DEFAULT_LIMITS, Limits, load_json, looks_binary, peek, text_lines
from infinstruct.core.text import join_cjk


def dialogue(
    turns: list[dict[str, str]], *, key: str, line: int | None = None, **meta: Any
) -> DocumentRecord:
    """A ``dialogue`` document: turns rendered ``role: text`` one per line."""
    return DocumentRecord(
        kind="dialogue",
        text="\n".join(f"{t['role']}: {t['text']}" for t in turns),
        external_id=key,
        group_key=key,
        meta={"turns": turns, **meta},
        line=line,
    )


def _peek_text(path: Path) -> str:
    data = peek(path, 4096)
    return "" if looks_binary(data) else data.decode("utf-8", errors="replace").lstrip("\ufeff").lstrip()


class AbcdConnector:
    """ABCD: a list of conversations; ``action`` turns kept as metadata, not as turns.

    In a folder, ``kb.json`` (flow steps per subflow) and ``ontology.json`` are read as
    metadata: each dialogue gets the guideline steps of its subflow.
    """

    name = "abcd"
    #: Set by ``registry`` from the load's settings; the settings' defaults otherwise.
    limits: Limits = DEFAULT_LIMITS
    domain = "support"
    expects = "JSON list of {convo_id, scenario{flow, subflow}, original: [[speaker, text]]} (+ kb.json)"

    def detect(self, path: Path) -> float:
        target = self._main(path)
        if target is None:
            return 0.0
        head = _peek_text(target)
        return 0.95 if head.startswith("[") and '"convo_id"' in head and '"original"' in head else 0.0

    @staticmethod
    def _main(path: Path) -> Path | None:
        if path.is_dir():
            found = sorted(p for p in path.glob("*.json") if p.name not in ("kb.json", "ontology.json"))
            return found[0] if len(found) == 1 else None
        return path if path.suffix.lower() == ".json" else None

    def companions(self, path: Path) -> list[Path]:
        folder = path if path.is_dir() else path.parent
        return [p for p in (folder / "kb.json", folder / "ontology.json") if p.exists()]

    def read(self, path: Path) -> Iterator[Item]:
        main = self._main(path)
        assert main is not None
        kb: dict[str, Any] = {}
        for extra in self.companions(path):
            if extra.name == "kb.json":
                kb = load_json(extra, limits=self.limits)
        data = load_json(main, limits=self.limits)
        for index, convo in enumerate(data if isinstance(data, list) else []):
            try:
                scenario = convo.get("scenario", {})
                turns: list[dict[str, str]] = []
                actions: list[dict[str, Any]] = []
                for speaker, text in convo["original"]:
                    if speaker == "action":
                        actions.append({"after_turn": len(turns), "text": text})
                    else:
                        turns.append({"role": "agent" if speaker == "agent" else "customer", "text": text})
            except (KeyError, TypeError, ValueError) as exc:
                yield Quarantined(
                    str(main), f"not an ABCD conversation: {exc}", raw=json.dumps(convo)[:2000], offset=index
                )
                continue
            subflow = scenario.get("subflow", "")
            yield dialogue(
                turns,
                key=f"abcd:{convo.get('convo_id', index)}",
                actions=actions,
                flow=scenario.get("flow", ""),
                subflow=subflow,
                kb_steps=kb.get(subflow, []),
            )


class TaskmasterConnector:
    """Taskmaster-1/2: one conversation object or a list of them; USER/ASSISTANT turns."""

    name = "taskmaster"
    #: Set by ``registry`` from the load's settings; the settings' defaults otherwise.
    limits: Limits = DEFAULT_LIMITS
    domain = "support"
    expects = "JSON object or list of {conversation_id, utterances: [{speaker, text}]}"

    def detect(self, path: Path) -> float:
        if path.is_dir() or path.suffix.lower() != ".json":
            return 0.0
        head = _peek_text(path)
        return 0.9 if head[:1] in "[{" and '"utterances"' in head and '"conversation_id"' in head else 0.0

    def read(self, path: Path) -> Iterator[Item]:
        data = load_json(path, limits=self.limits)
        convos = data if isinstance(data, list) else [data]
        for index, convo in enumerate(convos):
            try:
                turns = [
                    {"role": "customer" if u["speaker"].upper() == "USER" else "agent", "text": u["text"]}
                    for u in convo["utterances"]
                ]
            except (KeyError, TypeError, AttributeError) as exc:
                yield Quarantined(
                    str(path),
                    f"not a Taskmaster conversation: {exc}",
                    raw=json.dumps(convo)[:2000],
                    offset=index,
                )
                continue
            yield dialogue(
                turns,
                key=f"taskmaster:{convo.get('conversation_id', index)}",
                instruction_id=convo.get("instruction_id", ""),
            )


_ROLES = {
    "user": "customer",
    "human": "customer",
    "customer": "customer",
    "assistant": "agent",
    "gpt": "agent",
    "bot": "agent",
    "agent": "agent",
}


class ChatJsonlConnector:
    """Chat JSONL: OpenAI ``{"messages": [{role, content}]}`` or ShareGPT
    ``{"conversations": [{from, value}]}``, one conversation per line. System turns go to meta."""

    name = "chat-jsonl"
    #: Set by ``registry`` from the load's settings; the settings' defaults otherwise.
    limits: Limits = DEFAULT_LIMITS
    domain = "support"
    expects = 'JSONL lines with "messages" [{role, content}] or "conversations" [{from, value}]'

    def detect(self, path: Path) -> float:
        if path.is_dir() or path.suffix.lower() not in (".jsonl", ".json", ".ndjson"):
            return 0.0
        first = _peek_text(path).split("\n", 1)[0]
        if first.startswith("{") and ('"messages"' in first or '"conversations"' in first):
            return 0.9
        return 0.0

    def read(self, path: Path) -> Iterator[Item]:
        for number, line in text_lines(path, limits=self.limits):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                raw_turns = row.get("messages") or row.get("conversations")
                turns, system = [], ""
                for turn in raw_turns:
                    role = str(turn.get("role", turn.get("from", ""))).lower()
                    text = turn.get("content", turn.get("value"))
                    if role == "system":
                        system = str(text)
                        continue
                    if role not in _ROLES or not isinstance(text, str):
                        raise ValueError(f"unknown role {role!r} or non-text content")
                    turns.append({"role": _ROLES[role], "text": text})
                if not turns:
                    raise ValueError("no turns")
            except (json.JSONDecodeError, AttributeError, TypeError, ValueError) as exc:
                yield Quarantined(str(path), f"not a chat line: {exc}", raw=line, line=number)
                continue
            key = str(row.get("id", "")) or f"{path.stem}:{number}"
            yield dialogue(turns, key=key, line=number, **({"system": system} if system else {}))


class EcdConnector:
    """Taobao E-commerce Dialogue Corpus, response-selection TSV ``label \\t turns… \\t reply``.

    Label-1 lines become dialogues (context + true reply); label-0 replies to the same
    context are kept on that dialogue as retrieval distractors. jieba's spaces between CJK
    characters are removed.
    """

    name = "ecd"
    #: Set by ``registry`` from the load's settings; the settings' defaults otherwise.
    limits: Limits = DEFAULT_LIMITS
    domain = "support"
    expects = "TSV lines 'label<TAB>utterance…<TAB>reply' with label 0/1, Chinese text"

    def detect(self, path: Path) -> float:
        if path.is_dir():
            return 0.0
        lines = _peek_text(path).splitlines()[:5]
        ok = [ln for ln in lines if ln[:2] in ("0\t", "1\t") and ln.count("\t") >= 2]
        return 0.85 if lines and len(ok) >= min(len(lines), 3) else 0.0

    def read(self, path: Path) -> Iterator[Item]:
        order: list[tuple[str, ...]] = []
        positives: dict[tuple[str, ...], tuple[int, str]] = {}
        distractors: dict[tuple[str, ...], list[str]] = {}
        for number, line in text_lines(path, limits=self.limits):
            parts = line.split("\t")
            if len(parts) < 3 or parts[0] not in ("0", "1"):
                if line.strip():
                    yield Quarantined(
                        str(path), "expected 'label<TAB>turn…<TAB>reply'", raw=line, line=number
                    )
                continue
            context = tuple(join_cjk(p) for p in parts[1:-1])
            reply = join_cjk(parts[-1])
            if context not in distractors:
                order.append(context)
                distractors[context] = []
            if parts[0] == "1":
                positives[context] = (number, reply)
            else:
                distractors[context].append(reply)
        for context in order:
            if context not in positives:
                continue
            number, reply = positives[context]
            utterances = [*context, reply]
            # The reply is the agent's; turns alternate backwards from it.
            n = len(utterances)
            turns = [
                {"role": "agent" if (n - 1 - i) % 2 == 0 else "customer", "text": u}
                for i, u in enumerate(utterances)
            ]
            yield dialogue(
                turns, key=f"ecd:{path.stem}:{number}", line=number, distractors=distractors[context]
            )
