import hashlib
import hmac

import pytest

from contracts.erasure import (
    LOCAL_PSEUDONYM_KEY,
    is_pseudonym,
    person_key,
    pseudonym,
    use_pseudonym_key,
)


def test_a_pseudonym_comes_from_the_event_not_the_person() -> None:
    assert pseudonym("evt-1") == pseudonym("evt-1")
    assert pseudonym("evt-1") != pseudonym("evt-2")
    assert is_pseudonym(pseudonym("evt-1")) and len(pseudonym("evt-1")) == len("erased-") + 16
    assert not is_pseudonym("alice") and not is_pseudonym(None)


def test_a_person_key_names_neither_tenant_nor_person() -> None:
    key = person_key("demo", "alice")
    assert key == person_key("demo", "alice") != person_key("other", "alice")
    assert "alice" not in key and "demo" not in key and len(key) == 64


def test_a_person_key_is_keyed_by_the_pseudonym_key() -> None:
    # Not the unkeyed hash anyone could compute for every employee id of a dump.
    unkeyed = hashlib.sha256(b"demo:alice").hexdigest()
    assert person_key("demo", "alice") != unkeyed
    # An HMAC-SHA256 under the key: another key, another value; the same key, the same one.
    expected = hmac.new(LOCAL_PSEUDONYM_KEY.encode(), b"demo:alice", hashlib.sha256).hexdigest()
    assert person_key("demo", "alice") == expected
    assert person_key("demo", "alice", key=LOCAL_PSEUDONYM_KEY) == expected
    other = person_key("demo", "alice", key="another-installation-s-key-32-bytes")
    assert other != expected and other != unkeyed and len(other) == 64


def test_a_process_keys_every_person_key_with_its_own_key() -> None:
    before = person_key("demo", "alice")
    key = "this-installation-s-pseudonym-key-0123456789"
    try:
        use_pseudonym_key(key)
        assert person_key("demo", "alice") == person_key("demo", "alice", key=key) != before
    finally:
        use_pseudonym_key(LOCAL_PSEUDONYM_KEY)
    assert person_key("demo", "alice") == before
    with pytest.raises(ValueError, match="empty"):
        use_pseudonym_key("")
