"""The demo's model: a retrieval answerer trained on support questions.

Training learns, for every word, how strongly it points at each help-centre article
(smoothed word/intent counts from the training questions plus the article's own words).
Answering scores every article for the question's words and returns the best article as
the answer with its id as the citation. Small, deterministic, and really trained: its
accuracy on the held-out eval set depends on what it learned.

``latency_ms`` and ``degrade`` exist so the demo can produce a regressed candidate (slower
or less accurate) whose canary analysis must fail; they are model parameters logged to
MLflow like any other.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

WORD = re.compile(r"[a-z0-9]+")
STOP = {"i", "my", "to", "the", "a", "do", "how", "can", "you", "me", "is", "it", "what",
        "of", "for", "please", "want", "help", "way", "where", "need", "about", "question",
        "quick", "possible"}


def tokens(text: str) -> list[str]:
    return [w for w in WORD.findall(text.lower()) if w not in STOP]


@dataclass
class RetrievalModel:
    weights: dict[str, dict[str, float]] = field(default_factory=dict)
    articles: dict[str, dict[str, str]] = field(default_factory=dict)
    latency_ms: int = 0
    degrade: float = 0.0  # fraction of answers deliberately misrouted (a regression)

    def to_json(self) -> dict:
        return {"weights": self.weights, "articles": self.articles,
                "latency_ms": self.latency_ms, "degrade": self.degrade}

    @classmethod
    def from_json(cls, data: dict) -> RetrievalModel:
        return cls(data["weights"], data["articles"], int(data.get("latency_ms", 0)),
                   float(data.get("degrade", 0.0)))

    @classmethod
    def train(cls, questions: list[tuple[str, str]], corpus: list[dict[str, str]],
              **params: float) -> RetrievalModel:
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        for question, intent in questions:
            for w in tokens(question):
                counts[w][intent] += 1
        for art in corpus:
            for w in tokens(art["title"] + " " + art["text"]):
                counts[w][art["id"]] += 0.5
        intents = [a["id"] for a in corpus]
        weights = {}
        for w, per in counts.items():
            total = sum(per.values())
            idf = math.log(1 + len(intents) / len(per))
            weights[w] = {i: idf * c / total for i, c in per.items()}
        return cls(weights, {a["id"]: a for a in corpus}, **params)

    def scores(self, question: str) -> Counter[str]:
        score: Counter[str] = Counter()
        for w in tokens(question):
            for intent, value in self.weights.get(w, {}).items():
                score[intent] += value
        return score

    def answer(self, question: str) -> dict[str, str]:
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        ranked = self.scores(question).most_common()
        if not ranked:
            return {"intent": "", "answer": "I could not find an article; handing over to a "
                    "person.", "citation": ""}
        best = ranked[0][0]
        if self.degrade and len(ranked) > 1:
            # deterministic per question: the same question is always degraded or not
            if (sum(map(ord, question)) % 1000) / 1000 < self.degrade:
                best = ranked[1][0]
        art = self.articles[best]
        return {"intent": best, "answer": art["text"], "citation": art["id"]}

    def accuracy(self, questions: list[tuple[str, str]]) -> float:
        if not questions:
            return 0.0
        hits = sum(self.answer(q)["intent"] == intent for q, intent in questions)
        return hits / len(questions)
