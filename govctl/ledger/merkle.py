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


# --- proofs (RFC 9162 §2.1.3 and §2.1.4) -------------------------------------------------


def _k(n: int) -> int:
    """The largest power of two strictly less than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _mth_range(leaves: list[bytes], lo: int, hi: int) -> bytes:
    """MTH of ``leaves[lo:hi]`` folded with a frontier (iterative: no recursion limit)."""
    frontier: list[bytes] = []
    for i in range(lo, hi):
        frontier = append(frontier, i - lo, leaves[i])
    return root(frontier)


def inclusion_proof(leaves: list[bytes], index: int) -> list[bytes]:
    """``PATH(index, D[n])`` over leaf hashes, sibling nearest the leaf first."""
    n = len(leaves)
    if not 0 <= index < n:
        raise ValueError(f"leaf {index} is not in a tree of size {n}")
    path: list[bytes] = []
    lo, hi = 0, n
    while hi - lo > 1:
        k = _k(hi - lo)
        if index < lo + k:
            path.append(_mth_range(leaves, lo + k, hi))
            hi = lo + k
        else:
            path.append(_mth_range(leaves, lo, lo + k))
            lo = lo + k
    return list(reversed(path))


def consistency_proof(leaves: list[bytes], first: int) -> list[bytes]:
    """``PROOF(first, D[n])``: that the tree of ``first`` leaves is a prefix of this one."""
    n = len(leaves)
    if not 0 < first <= n:
        raise ValueError(f"no consistency proof from size {first} to size {n}")
    path: list[bytes] = []
    lo, hi, m, complete = 0, n, first, True
    while m != hi - lo:
        k = _k(hi - lo)
        if m <= k:
            path.append(_mth_range(leaves, lo + k, hi))
            hi = lo + k
        else:
            path.append(_mth_range(leaves, lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    if not complete:
        path.append(_mth_range(leaves, lo, hi))
    return list(reversed(path))


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes]) -> bytes:
    """The root an inclusion proof implies (RFC 9162 §2.1.3.2); raises ValueError if malformed."""
    if index >= size or index < 0:
        raise ValueError(f"leaf index {index} is beyond the tree size {size}")
    if len(leaf) != 32:
        raise ValueError("a leaf hash is 32 bytes")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ValueError("the inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("the inclusion proof is too short")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes], root_hash: bytes) -> bool:
    try:
        return root_from_inclusion(index, size, leaf, proof) == root_hash
    except ValueError:
        return False


def verify_consistency(first: int, second: int, first_hash: bytes, second_hash: bytes,
                       proof: list[bytes]) -> bool:
    """RFC 9162 §2.1.4.2, with transparency-dev/merkle's edge cases."""
    if first <= 0 or second < first:
        return False
    if first == second:
        return not proof and first_hash == second_hash
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_hash)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0
