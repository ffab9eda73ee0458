"""One read's memo of MLflow's answers: within :func:`memo` (a read that changes nothing:
``status``, ``model verify``, a release's state) each question goes to the store once — over
HTTP each is a round trip to the server — and no ping follows an answer. Answers are
copies, so a caller may change what it gets; :func:`forget` (called by ``mlflowstore``'s
clients, through which every write goes) drops them before a write."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_memo: ContextVar[dict[tuple[Any, ...], Any] | None] = ContextVar("mlflow_memo", default=None)


@contextmanager
def memo() -> Iterator[None]:
    token = _memo.set({}) if _memo.get() is None else None
    try:
        yield
    finally:
        if token is not None:
            _memo.reset(token)


def active() -> bool:
    return _memo.get() is not None


def prime(key: tuple[Any, ...], value: Any) -> None:
    """Within a memo, take ``value`` as the answer to ``key`` (learnt with another one)."""
    answers = _memo.get()
    if answers is not None:
        answers.setdefault(key, value)


def forget() -> None:
    answers = _memo.get()
    if answers:
        answers.clear()


def answer(key: tuple[Any, ...], ask: Callable[[], Any], *, ping: bool = False) -> Any:
    """``ask()``'s answer to the question ``key``, asked once per memo (a failure is not
    remembered); a ping after any answer is not sent."""
    answers = _memo.get()
    if answers is None:
        return ask()
    if ping and answers:
        return None
    if key not in answers:
        answers[key] = ask()
    return copy.deepcopy(answers[key])
