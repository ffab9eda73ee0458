"""The demo's data and model are deterministic, held out, and really trained."""

from __future__ import annotations

from govctl.demo import corpus
from govctl.demo.model import RetrievalModel


def _data(tmp_path):
    corpus.write_corpus(tmp_path / "corpus.jsonl")
    corpus.write_raw_questions(tmp_path / "raw.csv")
    corpus.split_questions(tmp_path / "raw.csv", tmp_path / "train.csv", tmp_path / "eval.csv")
    return (corpus.read_questions(tmp_path / "train.csv"),
            corpus.read_questions(tmp_path / "eval.csv"),
            corpus.read_corpus(tmp_path / "corpus.jsonl"))


def test_files_are_deterministic(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        _data(d)
    for name in ("corpus.jsonl", "raw.csv", "train.csv", "eval.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes()


def test_eval_set_is_held_out(tmp_path):
    train, evals, _ = _data(tmp_path)
    assert train and evals
    assert not {q for q, _ in train} & {q for q, _ in evals}


def test_training_beats_no_training_and_degradation_hurts(tmp_path):
    train, evals, docs = _data(tmp_path)
    trained = RetrievalModel.train(train, docs).accuracy(evals)
    untrained = RetrievalModel.train([], docs).accuracy(evals)
    degraded = RetrievalModel.train(train, docs, degrade=0.3).accuracy(evals)
    assert trained > untrained
    assert degraded < trained - 0.1
    answer = RetrievalModel.train(train, docs).answer("how do i get a refund")
    assert answer["intent"] == "refund" and answer["citation"] == "refund"
