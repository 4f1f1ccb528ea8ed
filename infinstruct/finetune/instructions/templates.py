"""Task templates: several phrasings per task, in English and in Chinese.

Each example picks one phrasing deterministically (by a hash of its source), so the model
learns the task rather than one wording, and a rebuild gives the same set. Prompts put the
instruction first, then a blank line, then the input: that is the Alpaca split point
(``instruction`` / ``input``) on export.

Class labels are always answered with the label names themselves (``negative``, ...,
``card_arrival``), whatever the instruction language, so one scheme serves every language.
Changing any text here changes ``template_hash()`` and therefore the set's input hash.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

#: Bump when the generation logic (not only the wording) changes what a build produces.
#: 3: one language rule (core/text.py: "AAPL 跌" is zh), one PII list, one sentence end.
GENERATOR_VERSION = 3

LANGS: tuple[str, str] = ("en", "zh")

TEMPLATES: dict[str, dict[str, dict[str, list[str]]]] = {
    "support_reply": {
        "en": {
            "system": [
                "You are a customer support agent for {org}. Reply to the customer helpfully and concisely.",
                "You work on the support team of {org}. Answer the customer's messages politely and solve their problem.",
                "Act as {org}'s support agent: be friendly, be brief, and move the customer's issue forward.",
            ],
        },
        "zh": {
            "system": [
                "你是{org}的客服人员，请礼貌、简洁地回复顾客。",
                "你在{org}的客服团队工作，请耐心回答顾客的问题并帮助解决。",
                "请以{org}客服的身份与顾客对话：友好、简短，并推动问题解决。",
            ],
        },
    },
    "dialogue_reply": {
        "en": {
            "system": [
                "You are an assistant in the {domain} domain. Reply as the agent in this conversation.",
                "Continue this {domain} conversation as the agent; keep each reply short and useful.",
                "You answer users on behalf of a {domain} service. Reply as the agent would.",
            ],
        },
        "zh": {
            "system": [
                "你是{domain}领域的助手，请以服务人员的身份回复对话。",
                "请以服务人员的身份继续这段{domain}对话，回复简短而有用。",
                "你代表一个{domain}服务回答用户，请像服务人员那样回复。",
            ],
        },
    },
    "intent_classification": {
        "en": {
            "prompt": [
                "Which intent does this customer message express? Answer with one of: {options}.\n\n{text}",
                "Classify the customer's request into one intent from this list: {options}. Reply with the intent name only.\n\n{text}",
                "A customer wrote the message below. Pick its intent ({options}) and answer with that label.\n\n{text}",
            ],
        },
        "zh": {
            "prompt": [
                "这条客户消息表达的意图是什么？请从以下选项中选一个作答：{options}。\n\n{text}",
                "请把客户的请求归入下列意图之一：{options}。只回答意图名称。\n\n{text}",
                "下面是一位客户写的消息，请判断其意图（{options}），并直接给出该标签。\n\n{text}",
            ],
        },
    },
    "sentiment_classification": {
        "en": {
            "prompt": [
                "What is the sentiment of this financial text for investors? Answer negative, neutral or positive.\n\n{text}",
                "Classify the market sentiment of the following text as negative, neutral, or positive.\n\n{text}",
                "Is this finance news bearish (negative), neutral, or bullish (positive)? Reply with one word: negative, neutral or positive.\n\n{text}",
                "Read the text and label its sentiment from an investor's point of view (negative / neutral / positive).\n\n{text}",
            ],
        },
        "zh": {
            "prompt": [
                "从投资者角度看，这段金融文本的情感倾向是什么？请回答 negative、neutral 或 positive。\n\n{text}",
                "请将下面文本的市场情绪分类为 negative、neutral 或 positive 之一。\n\n{text}",
                "这条财经消息是利空（negative）、中性（neutral）还是利好（positive）？只回答一个英文标签。\n\n{text}",
                "阅读以下文本，从投资者视角标注其情感（negative / neutral / positive）。\n\n{text}",
            ],
        },
    },
    "text_classification": {
        "en": {
            "prompt": [
                "Label the text below with one of these {label_set} labels: {options}.\n\n{text}",
                "Which {label_set} label fits this text best? Choose from {options} and reply with the label only.\n\n{text}",
                "Classify the following text ({label_set}: {options}).\n\n{text}",
            ],
        },
        "zh": {
            "prompt": [
                "请用下列{label_set}标签之一标注下面的文本：{options}。\n\n{text}",
                "哪个{label_set}标签最符合这段文本？请从 {options} 中选择，只回答标签。\n\n{text}",
                "请对以下文本进行分类（{label_set}：{options}）。\n\n{text}",
            ],
        },
    },
    "entity_extraction": {
        "en": {
            "prompt": [
                "List the companies or stock tickers this text is about, separated by commas.\n\n{text}",
                "Extract the ticker symbols or company names mentioned below. Answer as a comma-separated list.\n\n{text}",
                "Which companies (or tickers) does the following finance text mention? Give them comma-separated.\n\n{text}",
            ],
        },
        "zh": {
            "prompt": [
                "列出这段文本涉及的公司或股票代码，用英文逗号分隔。\n\n{text}",
                "请抽取下文提到的股票代码或公司名称，以英文逗号分隔作答。\n\n{text}",
                "下面这段财经文本提到了哪些公司（或股票代码）？请用英文逗号分隔列出。\n\n{text}",
            ],
        },
    },
    "headline_writing": {
        "en": {
            "prompt": [
                "Write a headline for this news story.\n\n{text}",
                "Give the following financial news summary a short, informative title.\n\n{text}",
                "Suggest a news headline (one line) for this text.\n\n{text}",
            ],
        },
        "zh": {
            "prompt": [
                "请为这则新闻写一个标题。\n\n{text}",
                "给下面的财经新闻摘要起一个简短、信息量大的标题。\n\n{text}",
                "请为这段文字拟一行新闻标题。\n\n{text}",
            ],
        },
    },
    "item_description": {
        "en": {
            "prompt": [
                "Describe this {item_kind} for a customer in a few sentences.\n\n{metadata}",
                "Write a short description of the {item_kind} below from its details.\n\n{metadata}",
                "Tell me about this {item_kind}.\n\n{metadata}",
            ],
        },
        "zh": {
            "prompt": [
                "请根据以下信息，用几句话向顾客介绍这个{item_kind}。\n\n{metadata}",
                "请根据下面的详细信息，为这个{item_kind}写一段简短的介绍。\n\n{metadata}",
                "给我介绍一下这个{item_kind}。\n\n{metadata}",
            ],
        },
    },
    "next_item": {
        "en": {
            "prompt": [
                "A user liked these {item_kind}s, oldest first:\n{history}\n\nWhich of these candidates will they most likely like next? Answer with its title only.\n{candidates}",
                "Given this user's liked {item_kind}s (in order):\n{history}\n\nPick the one candidate they would enjoy next and reply with its title.\n{candidates}",
                "Recommend one {item_kind} from the candidates for a user whose history is:\n{history}\n\nCandidates:\n{candidates}",
            ],
        },
        "zh": {
            "prompt": [
                "某用户按时间顺序喜欢过这些{item_kind}：\n{history}\n\n下列候选中，他最可能接下来喜欢哪一个？只回答名称。\n{candidates}",
                "根据该用户喜欢过的{item_kind}（按顺序）：\n{history}\n\n请从候选中选出他接下来会喜欢的一个，并回答其名称。\n{candidates}",
                "用户的历史记录如下：\n{history}\n\n请从以下候选{item_kind}中推荐一个：\n{candidates}",
            ],
        },
    },
    "document_qa": {
        "en": {
            "prompt": [
                'What does our {domain} material say about "{title}"?',
                "Tell me about {title}.",
                'Explain "{title}" based on the {domain} documents.',
            ],
        },
        "zh": {
            "prompt": [
                "我们的{domain}资料中关于“{title}”是怎么说的？",
                "请介绍一下{title}。",
                "请根据{domain}文档解释“{title}”。",
            ],
        },
    },
    "continuation": {
        "en": {
            "prompt": [
                "Continue this {domain} text.\n\n{text}",
                "Write the next part of the following {domain} document.\n\n{text}",
                "Here is the beginning of a {domain} text; carry on where it stops.\n\n{text}",
            ],
        },
        "zh": {
            "prompt": [
                "请续写这段{domain}文本。\n\n{text}",
                "请写出下面这篇{domain}文档的后续内容。\n\n{text}",
                "以下是一段{domain}文本的开头，请接着写下去。\n\n{text}",
            ],
        },
    },
    "curated_qa": {
        "en": {
            "system": [
                "You are the support assistant. Answer the user's question accurately and concisely.",
                "You answer customers' questions with the organisation's approved answers.",
                "Help the user: give a correct, short answer to their question.",
            ],
        },
        "zh": {
            "system": [
                "你是客服助手，请准确、简洁地回答用户的问题。",
                "请用本机构认可的答案回答顾客的问题。",
                "请帮助用户：简短而准确地回答他的问题。",
            ],
        },
    },
}

#: Words the templates fill in, per language, when a source gives no better value.
DEFAULTS: dict[str, dict[str, str]] = {
    "en": {"org": "the company", "item_kind": "item"},
    "zh": {"org": "本公司", "item_kind": "商品"},
}
ITEM_KINDS: dict[str, dict[str, str]] = {
    "movie": {"en": "movie", "zh": "电影"},
    "product": {"en": "product", "zh": "商品"},
    "item": {"en": "item", "zh": "物品"},
}
LIST_SEPARATOR: dict[str, str] = {"en": ", ", "zh": "、"}
TASKS: tuple[str, ...] = tuple(TEMPLATES)


def phrasings(task: str, lang: str, slot: str) -> list[str]:
    """All phrasings of one slot (``system`` or ``prompt``) of a task in a language."""
    return TEMPLATES[task][lang][slot]


def template_hash() -> str:
    """Hash of every phrasing and the generator version: part of a set's input hash."""
    payload: dict[str, Any] = {
        "generator": GENERATOR_VERSION,
        "templates": TEMPLATES,
        "defaults": DEFAULTS,
        "item_kinds": ITEM_KINDS,
    }
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()
