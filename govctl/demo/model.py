"""The demo's model: a retrieval answerer trained on support questions.

Training learns, for every word, how strongly it points at each help-centre article
(smoothed word/intent counts from the training questions plus the article's own words).
Answering scores every article for the question's words and returns the best article as
the answer with its id as the citation. Small, deterministic, and really trained: its
accuracy on the held-out eval set depends on what it learned.

The demo has no LLM, so the latency the canary judges comes from :class:`LatencyModel`, a
seeded model of an LLM endpoint's latency (log-normal time to first token plus a time per
output token), drawn per request id: the same request always takes the same modelled time,
whatever the machine's load, so every canary verdict of the demo is reproducible. Its
parameters and ``degrade`` are model parameters logged to MLflow like any other; the demo's
regressed candidate is a shift of them (``extra_latency_ms``: a bigger context to prefill).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from statistics import NormalDist

WORD = re.compile(r"[a-z0-9]+")
STOP = {"i", "my", "to", "the", "a", "do", "how", "can", "you", "me", "is", "it", "what",
        "of", "for", "please", "want", "help", "way", "where", "need", "about", "question",
        "quick", "possible"}


def tokens(text: str) -> list[str]:
    return [w for w in WORD.findall(text.lower()) if w not in STOP]


@dataclass(frozen=True)
class LatencyModel:
    """Modelled latency of one request to an LLM endpoint, in milliseconds:

        latency = ttft + extra_latency_ms + ms_per_token * tokens_out
        ttft    = ttft_median_ms * exp(ttft_sigma * z),  z ~ N(0, 1)

    The time to first token (queueing and prefill) is log-normal, the usual shape of a
    serving latency; decoding costs a fixed time per output token. ``z`` is drawn from
    SHA-256 of the request id, so one request always gets the same latency. Defaults: a
    median of about 130 ms and a p95 of about 185 ms for the demo's 30-40 token answers.
    """

    ttft_median_ms: float = 60.0
    ttft_sigma: float = 0.35
    ms_per_token: float = 2.0
    extra_latency_ms: float = 0.0

    def sample(self, request_id: str, tokens_out: int) -> float:
        digest = hashlib.sha256(f"govctl-demo-latency\x00{request_id}".encode()).digest()
        u = (int.from_bytes(digest[:8], "big") + 0.5) / 2**64  # uniform in (0, 1)
        ttft = self.ttft_median_ms * math.exp(self.ttft_sigma * NormalDist().inv_cdf(u))
        return round(ttft + self.extra_latency_ms + self.ms_per_token * tokens_out, 3)

    def params(self) -> dict[str, float]:
        return asdict(self)


@dataclass
class RetrievalModel:
    weights: dict[str, dict[str, float]] = field(default_factory=dict)
    articles: dict[str, dict[str, str]] = field(default_factory=dict)
    latency: LatencyModel = field(default_factory=LatencyModel)
    degrade: float = 0.0  # fraction of answers deliberately misrouted (a regression)

    def to_json(self) -> dict:
        return {"weights": self.weights, "articles": self.articles,
                "latency": self.latency.params(), "degrade": self.degrade}

    @classmethod
    def from_json(cls, data: dict) -> RetrievalModel:
        return cls(data["weights"], data["articles"], LatencyModel(**data.get("latency", {})),
                   float(data.get("degrade", 0.0)))

    @classmethod
    def train(cls, questions: list[tuple[str, str]], corpus: list[dict[str, str]],
              latency: LatencyModel | None = None, degrade: float = 0.0) -> RetrievalModel:
        counts: defaultdict[str, defaultdict[str, float]] = defaultdict(lambda: defaultdict(float))
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
        return cls(weights, {a["id"]: a for a in corpus}, latency or LatencyModel(), degrade)

    def scores(self, question: str) -> dict[str, float]:
        score: defaultdict[str, float] = defaultdict(float)
        for w in tokens(question):
            for intent, value in self.weights.get(w, {}).items():
                score[intent] += value
        return score

    def answer(self, question: str) -> dict[str, str]:
        ranked = sorted(self.scores(question).items(), key=lambda kv: -kv[1])
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
