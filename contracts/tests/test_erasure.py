from contracts.erasure import is_pseudonym, person_key, pseudonym


def test_a_pseudonym_comes_from_the_event_not_the_person() -> None:
    assert pseudonym("evt-1") == pseudonym("evt-1")
    assert pseudonym("evt-1") != pseudonym("evt-2")
    assert is_pseudonym(pseudonym("evt-1")) and len(pseudonym("evt-1")) == len("erased-") + 16
    assert not is_pseudonym("alice") and not is_pseudonym(None)


def test_a_person_key_names_neither_tenant_nor_person() -> None:
    key = person_key("demo", "alice")
    assert key == person_key("demo", "alice") != person_key("other", "alice")
    assert "alice" not in key and "demo" not in key and len(key) == 64
