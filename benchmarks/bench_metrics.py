"""Speed of the chapter 6 metrics against the reference libraries, and of batched sliding windows.

Rows: corpus BLEU on 1,000 sentence pairs (companion vs ``sacrebleu.corpus_bleu``), ROUGE on the
same pairs (companion vs ``rouge_score``), and SmolLM2 perplexity of a ~500-token text with
64-token windows (the companion's batched windows vs one forward pass per window).
"""

from __future__ import annotations

import random
import time

WORDS = [
    "the", "cat", "dog", "sat", "ran", "on", "under", "mat", "rug", "big", "small", "red", "blue",
    "quickly", "slowly", "today", "it", "is", "was", "raining", "sunny", "and", "or", "but", "a",
    "an", "of", "to", "in",
]


def _timed(fn, repeat: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def _pairs(n: int, seed: int = 0) -> tuple[list[str], list[list[str]]]:
    rng = random.Random(seed)
    preds = [" ".join(rng.choices(WORDS, k=rng.randint(5, 25))) for _ in range(n)]
    refs = [[" ".join(rng.choices(WORDS, k=rng.randint(5, 25)))] for _ in range(n)]
    return preds, refs


def _one_window_at_a_time(model, ids, max_length: int, stride: int) -> None:
    import torch

    from companion.metrics.perplexity import sliding_windows

    with torch.no_grad():
        for begin, end, _ in sliding_windows(len(ids), max_length, stride):
            model(input_ids=ids[begin:end].unsqueeze(0))


def run() -> list[dict]:
    import numpy as np
    import sacrebleu
    from rouge_score.rouge_scorer import RougeScorer

    from companion import metrics
    from companion.corpus import pydoc_paragraphs
    from companion.models import load_smollm2

    preds, refs = _pairs(1000)
    ours_bleu = _timed(lambda: metrics.bleu(preds, refs))
    sacre = _timed(lambda: sacrebleu.corpus_bleu(preds, [[r[0] for r in refs]]))
    ours_rouge = _timed(lambda: metrics.rouge(preds, refs))
    scorer = RougeScorer(["rouge1", "rouge2", "rougeL"])
    library = _timed(lambda: np.mean([scorer.score(r[0], p)["rougeL"].fmeasure
                                      for p, r in zip(preds, refs, strict=True)]))

    model, tokenizer = load_smollm2()
    text = "\n\n".join(pydoc_paragraphs()[40:60])
    ids = tokenizer(text, return_tensors="pt")["input_ids"][0][:512]
    text = tokenizer.decode(ids)
    batched = _timed(lambda: metrics.perplexity(model, tokenizer, text, max_length=64, stride=32))
    single = _timed(lambda: _one_window_at_a_time(model, ids, 64, 32))
    return [
        {"name": "BLEU, 1000 pairs (companion)", "value": ours_bleu, "unit": "s",
         "reference": "sacrebleu.corpus_bleu", "ratio": ours_bleu / sacre},
        {"name": "ROUGE-1/2/L, 1000 pairs (companion)", "value": ours_rouge, "unit": "s",
         "reference": "rouge_score RougeScorer", "ratio": ours_rouge / library},
        {"name": "perplexity, 512 tokens, 64-token windows (batched)", "value": batched,
         "unit": "s", "reference": "one forward pass per window", "ratio": batched / single},
    ]
