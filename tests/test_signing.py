"""Canonical JSON (RFC 8785) and DSSE v1 envelopes."""

from __future__ import annotations

import json

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from govctl.errors import InputError, IntegrityError
from govctl.signing import dsse
from govctl.signing.canonical import MAX_SAFE_INT, canonical_bytes, strict_loads
from govctl.signing.keys import KeyStore, verify_signature


def test_dsse_pae_spec_example():
    # DSSE v1 protocol.md: PAE("http://example.com/HelloWorld", "hello world")
    assert (
        dsse.pae("http://example.com/HelloWorld", b"hello world")
        == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_pae_counts_bytes_not_characters():
    assert dsse.pae("t", "é".encode()) == b"DSSEv1 1 t 2 \xc3\xa9"


def test_rfc8785_sorting_example():
    # RFC 8785 §3.2.3: keys sorted by UTF-16 code units.
    data = json.loads(
        '{"\\u20ac":"Euro Sign","\\r":"Carriage Return","\\ufb33":"Hebrew Letter Dalet With '
        'Dagesh","1":"One","\\ud83d\\ude00":"Emoji: Grinning Face","\\u0080":"Control",'
        '"\\u00f6":"Latin Small Letter O With Diaeresis"}'
    )
    out = json.loads(canonical_bytes(data))
    assert list(out) == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


def test_rfc8785_string_and_literals_example():
    # RFC 8785 §3.2.2 (the parts govctl admits: no floats in signed content)
    data = json.loads(
        '{"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
        '"literals":[null,true,false]}'
    )
    assert canonical_bytes(data) == (
        b'{"literals":[null,true,false],"string":"\xe2\x82\xac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )


def test_rfc8785_numbers_example_through_library():
    # The library we rely on reproduces the RFC's number serialisation example.
    data = json.loads('{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001]}')
    assert rfc8785.dumps(data) == b'{"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27]}'


def test_floats_refused_in_signed_content():
    with pytest.raises(InputError, match=r"\$\.slo\.p95.*float"):
        canonical_bytes({"slo": {"p95": 1.5}})


def test_unsafe_integers_refused():
    assert canonical_bytes({"n": MAX_SAFE_INT}) == b'{"n":9007199254740991}'
    with pytest.raises(InputError, match="2\\^53"):
        canonical_bytes({"n": MAX_SAFE_INT + 1})


@pytest.mark.parametrize(
    "text,fragment",
    [
        ('{"a": 1, "a": 2}', "duplicate key"),
        ('{"a": 1.5}', "float"),
        ('{"a": 9007199254740993}', "2^53"),
        ('{"a": NaN}', "float"),
    ],
)
def test_strict_parser_fails_closed(text, fragment):
    with pytest.raises(InputError, match=fragment.replace("^", "\\^")):
        strict_loads(text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-MAX_SAFE_INT, MAX_SAFE_INT) | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_canonical_round_trip_is_a_fixed_point(value):
    once = canonical_bytes(value)
    assert strict_loads(once) == value
    assert canonical_bytes(strict_loads(once)) == once


@given(st.dictionaries(st.text(max_size=6), st.integers(0, 100), max_size=6))
def test_canonical_is_independent_of_key_order(d):
    reordered = dict(reversed(list(d.items())))
    assert canonical_bytes(d) == canonical_bytes(reordered)


def _key(tmp_path, name="k"):
    store = KeyStore(tmp_path / "keys")
    store.generate(name, passphrase_env=None)
    return store.load(name)


def test_envelope_round_trip_and_type_binding(tmp_path):
    key = _key(tmp_path)
    payload = canonical_bytes({"a": 1})
    env = dsse.Envelope(
        dsse.AGREEMENT, payload,
        [dsse.Signature(key.key_id, key.sign(dsse.pae(dsse.AGREEMENT, payload)))],
    )
    back = dsse.Envelope.loads(env.dumps())
    assert back.payload == payload and back.payload_type == dsse.AGREEMENT
    sig = back.signatures[0].sig
    assert verify_signature(key.public_raw, sig, dsse.pae(dsse.AGREEMENT, payload))
    # the same signature can never be replayed as another document kind
    assert not verify_signature(key.public_raw, sig, dsse.pae(dsse.CHECKLIST_SIGNOFF, payload))
    assert not verify_signature(key.public_raw, sig, dsse.pae(dsse.AGREEMENT, payload + b" "))


@pytest.mark.parametrize(
    "text",
    [
        "[]",
        '{"payloadType": "x", "payload": "not base64!", "signatures": []}',
        '{"payloadType": "x", "payload": "", "signatures": [{"sig": 3}]}',
        '{"payloadType": "x", "payload": "", "signatures": [], "payload": ""}',
        "not json",
    ],
)
def test_malformed_envelopes_are_integrity_errors(text):
    with pytest.raises(IntegrityError):
        dsse.Envelope.loads(text)
