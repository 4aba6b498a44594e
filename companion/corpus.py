"""The text the book trains small things on, offline (chapter 2: the Hugging Face toolkit).

Two sources, both shipped with the book or with Python itself, so nothing is downloaded:

- ``sentences``: a few dozen short English sentences and their Chinese translations, written for
  this book (licence: the book's). They are *parallel*: the same meaning in two languages, which is
  what a tokenizer comparison needs.
- ``pydoc``: the English reference text of Python's own documentation, as shipped in the standard
  library module :mod:`pydoc_data.topics` (the text behind ``help("if")``; PSF licence). It is split
  into paragraphs, with the ``*****`` / ``=====`` heading underlines removed. Its exact size depends
  on the Python version (3.11 here: about 0.46 million characters).

:func:`load_corpus` returns a list of documents (sentences first, then paragraphs, in a fixed
order), optionally cut to a character budget. The decoder chapter uses it for a tiny pretraining run
and this chapter trains a BPE tokenizer on it.
"""

from __future__ import annotations

import csv
import json
import os
import random
import re
from collections.abc import Sequence
from pathlib import Path

SOURCES: tuple[str, ...] = ("sentences", "pydoc")

#: English sentences and their Chinese translations, written for the book.
PARALLEL_SENTENCES: tuple[tuple[str, str], ...] = (
    ("Attention lets every token look at every other token.",
     "注意力让每个词元都能看到其他所有词元。"),
    ("A language model predicts the next token from the ones before it.",
     "语言模型根据前面的词元预测下一个词元。"),
    ("The tokenizer turns text into a list of integers.",
     "分词器把文本变成一串整数。"),
    ("An encoder reads the whole input at once.",
     "编码器一次读完整个输入。"),
    ("A decoder writes its answer one token at a time.",
     "解码器一次写出答案中的一个词元。"),
    ("Most chat models today are decoder-only transformers.",
     "如今大多数对话模型都是只有解码器的 Transformer。"),
    ("The agent calls a tool when it needs a fact it does not know.",
     "当智能体需要一个它不知道的事实时，它会调用工具。"),
    ("Small models run on a laptop without a graphics card.",
     "小模型可以在没有显卡的笔记本电脑上运行。"),
    ("We measure before we believe.",
     "我们先测量，再相信。"),
    ("The weather is sunny in Beijing today.",
     "今天北京天气晴朗。"),
    ("Please reset my password, I cannot log in.",
     "请帮我重置密码，我无法登录。"),
    ("My order arrived two days late.",
     "我的订单晚到了两天。"),
    ("How much does the premium plan cost per month?",
     "高级套餐每个月多少钱？"),
    ("The invoice shows the wrong address.",
     "发票上的地址写错了。"),
    ("Thank you, the problem is solved.",
     "谢谢，问题已经解决了。"),
    ("Fine-tuning adapts a pretrained model to a new task.",
     "微调让预训练模型适应新的任务。"),
    ("LoRA trains two small matrices instead of the whole weight.",
     "LoRA 只训练两个小矩阵，而不是整个权重。"),
    ("A good test can fail.",
     "好的测试是可能失败的。"),
    ("The cat sat on the mat and looked at the dog.",
     "猫坐在垫子上，看着那只狗。"),
    ("Reading code is the fastest way to learn a library.",
     "读代码是学习一个库最快的方法。"),
    ("Perplexity is the exponential of the average negative log-likelihood.",
     "困惑度是平均负对数似然的指数。"),
    ("Embeddings place similar sentences close together.",
     "嵌入把意思相近的句子放在一起。"),
    ("The library was closed on Sunday, so I studied at home.",
     "图书馆星期天不开门，所以我在家学习。"),
    ("Python is a popular language for machine learning.",
     "Python 是机器学习中常用的语言。"),
)

_UNDERLINE = re.compile(r"^\s*([*=\-~^])\1{2,}\s*$")


def sentences(language: str = "en") -> list[str]:
    """The book's hand-written sentences in ``language`` ("en" or "zh"), in a fixed order (ch. 2).

    The i-th English sentence and the i-th Chinese sentence say the same thing.
    """
    if language not in ("en", "zh"):
        raise ValueError(f"language must be 'en' or 'zh', got {language!r}")
    index = 0 if language == "en" else 1
    return [pair[index] for pair in PARALLEL_SENTENCES]


def pydoc_paragraphs() -> list[str]:
    """Paragraphs of Python's docs from ``pydoc_data.topics``, topics in sorted order (ch. 2).

    Paragraphs are separated by blank lines; heading underlines (``****``, ``====``) are dropped and
    each paragraph is stripped, so none is empty.
    """
    from pydoc_data.topics import topics

    paragraphs: list[str] = []
    for name in sorted(topics):
        lines = [line for line in topics[name].splitlines() if not _UNDERLINE.match(line)]
        for block in re.split(r"\n\s*\n", "\n".join(lines)):
            text = block.strip("\n").rstrip()
            if text.strip():
                paragraphs.append(text)
    return paragraphs


def load_corpus(
    limit_chars: int | None = None, sources: Sequence[str] = SOURCES
) -> list[str]:
    """Documents of the book's corpus, sentences (English then Chinese) before pydoc (ch. 2).

    With ``limit_chars`` the result is the longest prefix of the full list whose total length
    ``sum(len(d))`` is at most ``limit_chars``; without it, everything.
    """
    if limit_chars is not None and (isinstance(limit_chars, bool) or limit_chars < 0):
        raise ValueError(f"limit_chars must be None or a non-negative int, got {limit_chars!r}")
    unknown = [s for s in sources if s not in SOURCES]
    if unknown or not sources:
        raise ValueError(f"sources must be a non-empty subset of {SOURCES}, got {tuple(sources)!r}")
    documents: list[str] = []
    if "sentences" in sources:
        documents += sentences("en") + sentences("zh")
    if "pydoc" in sources:
        documents += pydoc_paragraphs()
    if limit_chars is None:
        return documents
    kept: list[str] = []
    total = 0
    for document in documents:
        if total + len(document) > limit_chars:
            break
        kept.append(document)
        total += len(document)
    return kept


#: Categories of the synthetic support tickets, and template pieces for each, in both languages.
TICKET_CATEGORIES: tuple[str, ...] = ("account", "billing", "shipping", "bug", "feature")

_TICKET_TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    "account": {
        "en": ("I cannot log in to my account since {day}.",
               "Please reset my password, the reset email never arrives.",
               "How do I change the email address on my account?",
               "My account was locked after three wrong passwords."),
        "zh": ("从{day}开始我就登录不了账户。",
               "请帮我重置密码，重置邮件一直收不到。",
               "怎样修改账户绑定的邮箱？",
               "输错三次密码后我的账户被锁定了。"),
    },
    "billing": {
        "en": ("I was charged twice for order {order}.",
               "The invoice for order {order} shows the wrong address.",
               "How much does the premium plan cost per month?",
               "Please refund the {amount} dollars I paid by mistake."),
        "zh": ("订单 {order} 被扣了两次款。",
               "订单 {order} 的发票上地址写错了。",
               "高级套餐每个月多少钱？",
               "请退还我误付的 {amount} 元。"),
    },
    "shipping": {
        "en": ("Order {order} has not arrived after {days} days.",
               "The parcel for order {order} was delivered to the wrong address.",
               "Can I change the delivery date of order {order}?",
               "The box of order {order} arrived damaged."),
        "zh": ("订单 {order} 已经 {days} 天了还没到。",
               "订单 {order} 的包裹送错了地址。",
               "订单 {order} 可以改送货日期吗？",
               "订单 {order} 的箱子到的时候已经破了。"),
    },
    "bug": {
        "en": ("The app crashes when I open the settings page.",
               "Export to PDF fails with error code {code}.",
               "The search box returns no results since the update on {day}.",
               "Pictures do not load on the mobile website."),
        "zh": ("打开设置页面时应用会崩溃。",
               "导出 PDF 失败，错误代码 {code}。",
               "{day}更新以后搜索框什么都搜不到。",
               "手机网页上的图片加载不出来。"),
    },
    "feature": {
        "en": ("Please add a dark mode to the app.",
               "It would be great to export reports as CSV.",
               "Could you support login with a security key?",
               "I would like to share a list with my team."),
        "zh": ("希望应用能加上深色模式。",
               "如果能把报表导出成 CSV 就好了。",
               "能不能支持用安全密钥登录？",
               "我想把清单分享给我的团队。"),
    },
}
_URGENT = {"en": " This is urgent, please help today.", "zh": "很急，请今天处理。"}
_DAYS = {"en": ("Monday", "Tuesday", "Friday", "yesterday"), "zh": ("周一", "周二", "周五", "昨天")}


def make_support_tickets(n: int = 400, seed: int = 0, zh_share: float = 0.25) -> list[dict]:
    """``n`` synthetic customer-support tickets, the same for the same ``seed`` (chapter 2).

    Each row: ``id`` (1..n), ``language`` ("en"/"zh", Chinese with probability ``zh_share``),
    ``category`` (one of :data:`TICKET_CATEGORIES`), ``priority`` ("high" exactly when the text says
    it is urgent, else "normal") and ``text``. Written from templates for this book.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if not 0.0 <= zh_share <= 1.0:
        raise ValueError(f"zh_share must be in [0, 1], got {zh_share!r}")
    rng = random.Random(seed)
    rows = []
    for index in range(1, n + 1):
        language = "zh" if rng.random() < zh_share else "en"
        category = rng.choice(TICKET_CATEGORIES)
        template = rng.choice(_TICKET_TEMPLATES[category][language])
        text = template.format(
            day=rng.choice(_DAYS[language]),
            order=rng.randint(10_000, 99_999),
            days=rng.randint(3, 21),
            amount=rng.randint(5, 200),
            code=f"E{rng.randint(100, 999)}",
        )
        urgent = rng.random() < 0.2
        if urgent:
            text += _URGENT[language]
        rows.append({
            "id": index,
            "language": language,
            "category": category,
            "priority": "high" if urgent else "normal",
            "text": text,
        })
    return rows


def write_support_tickets(
    folder: str | os.PathLike[str], n: int = 400, seed: int = 0
) -> tuple[str, str]:
    """Write :func:`make_support_tickets` as ``support_tickets.jsonl`` and ``.csv`` in ``folder``.

    Returns the two file names. UTF-8, one JSON object per line; CSV with a header row.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"folder must be an existing directory, got {str(folder)!r}")
    rows = make_support_tickets(n, seed)
    with open(folder / "support_tickets.jsonl", "w", encoding="utf-8", newline="\n") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    with open(folder / "support_tickets.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return "support_tickets.jsonl", "support_tickets.csv"
