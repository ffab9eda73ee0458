"""RFC 6962 Merkle tree hashing with an append-only compact range ("frontier").

leaf = SHA256(0x00 || entry), node = SHA256(0x01 || left || right). The frontier holds the
roots of the perfect subtrees that make up the tree, largest first; folding it from the
right gives exactly RFC 6962's MTH for any tree size.
"""

from __future__ import annotations

import hashlib

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def append(frontier: list[bytes], size: int, leaf: bytes) -> list[bytes]:
    """Frontier of a tree of ``size + 1`` leaves, given the frontier of ``size`` leaves."""
    out = list(frontier)
    node = leaf
    n = size
    while n & 1:
        node = node_hash(out.pop(), node)
        n >>= 1
    out.append(node)
    return out


def root(frontier: list[bytes]) -> bytes:
    if not frontier:
        return EMPTY_ROOT
    node = frontier[-1]
    for left in reversed(frontier[:-1]):
        node = node_hash(left, node)
    return node


def mth(leaves: list[bytes]) -> bytes:
    """Reference MTH over leaf *hashes*, straight from RFC 6962 §2.1 (for tests)."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))
