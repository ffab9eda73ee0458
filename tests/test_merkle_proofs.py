"""Inclusion and consistency proofs (RFC 9162 §2.1) against transparency-dev/merkle's vectors.

tests/data/merkle_vectors.json holds the published values of github.com/transparency-dev/merkle
(testonly/constants.go, reference_test.go and testdata/{inclusion,consistency}); the code
below is ours.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from govctl.ledger import merkle

V = json.loads((Path(__file__).parent / "data" / "merkle_vectors.json").read_text())
LEAVES = [merkle.leaf_hash(bytes.fromhex(x)) for x in V["leafInputs"]]
H = bytes.fromhex


def test_leaf_hashes_and_roots_match_the_published_values():
    assert [h.hex() for h in LEAVES] == V["leafHashes"]
    for size, want in V["roots"].items():
        assert merkle.mth(LEAVES[: int(size)]).hex() == want


@pytest.mark.parametrize("case", V["inclusion"] + V["inclusionAll"],
                         ids=lambda c: f"{c['leafIndex']}of{c['treeSize']}")
def test_inclusion_proofs_match_the_vectors(case):
    leaves = LEAVES[: case["treeSize"]]
    proof = merkle.inclusion_proof(leaves, case["leafIndex"])
    assert [p.hex() for p in proof] == case["proof"]
    assert merkle.verify_inclusion(case["leafIndex"], case["treeSize"], H(case["leafHash"]),
                                   proof, H(case["root"]))


@pytest.mark.parametrize("case", V["consistency"] + V["consistencyAll"],
                         ids=lambda c: f"{c['size1']}to{c['size2']}")
def test_consistency_proofs_match_the_vectors(case):
    leaves = LEAVES[: case["size2"]]
    proof = merkle.consistency_proof(leaves, case["size1"])
    assert [p.hex() for p in proof] == case["proof"]
    assert merkle.verify_consistency(case["size1"], case["size2"], H(case["root1"]),
                                     H(case["root2"]), proof)


@pytest.mark.parametrize("case", V["inclusionProbes"], ids=lambda c: c["file"])
def test_inclusion_probes_accept_and_reject_as_upstream(case):
    got = merkle.verify_inclusion(case["leafIndex"], case["treeSize"], H(case["leafHash"]),
                                  [H(p) for p in case["proof"]], H(case["root"]))
    assert got is not case["wantErr"]


@pytest.mark.parametrize("case", V["consistencyProbes"], ids=lambda c: c["file"])
def test_consistency_probes_accept_and_reject_as_upstream(case):
    got = merkle.verify_consistency(case["size1"], case["size2"], H(case["root1"]),
                                    H(case["root2"]), [H(p) for p in case["proof"]])
    assert got is not case["wantErr"]


def test_proofs_on_larger_trees_verify_and_detect_a_changed_leaf():
    leaves = [merkle.leaf_hash(str(i).encode()) for i in range(23)]
    for n in (1, 2, 5, 16, 23):
        r = merkle.mth(leaves[:n])
        for i in range(n):
            p = merkle.inclusion_proof(leaves[:n], i)
            assert merkle.verify_inclusion(i, n, leaves[i], p, r)
            assert not merkle.verify_inclusion(i, n, merkle.leaf_hash(b"x"), p, r)
        for m in range(1, n + 1):
            p = merkle.consistency_proof(leaves[:n], m)
            assert merkle.verify_consistency(m, n, merkle.mth(leaves[:m]), r, p)
            if m < n:
                assert not merkle.verify_consistency(m, n, merkle.leaf_hash(b"x"), r, p)
