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

import re
from collections.abc import Sequence

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
