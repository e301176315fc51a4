"""The PATCH engine, the filter and what a person's events say: pure rules, from tables."""

from __future__ import annotations

from typing import Any

import pytest

from people.domain import scim
from people.domain.scim import ENTERPRISE_SCHEMA, PATCH_SCHEMA, Person, ScimError


def person(**extra: Any) -> Person:
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_SCHEMA],
        "userName": "alice",
        "externalId": "e-1",
        "active": True,
        "emails": [{"type": "work", "value": "alice@corp.local", "primary": True}],
        "name": {"givenName": "Alice", "familyName": "Adams"},
        **extra,
    }
    return scim.parse_user(body)


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_SCHEMA], "Operations": list(operations)}


@pytest.mark.parametrize(
    ("operation", "read", "expected"),
    [
        # Entra: capitalised op, a value path, booleans as strings.
        (
            {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "a@b.example"},
            lambda p: p.emails[0].value,
            "a@b.example",
        ),
        ({"op": "Replace", "path": "active", "value": "False"}, lambda p: p.active, False),
        ({"op": "replace", "path": "active", "value": "True"}, lambda p: p.active, True),
        # Okta: replace without a path.
        ({"op": "replace", "value": {"active": False}}, lambda p: p.active, False),
        ({"op": "add", "path": "title", "value": "Writer"}, lambda p: p.title, "Writer"),
        ({"op": "remove", "path": "name.givenName"}, lambda p: p.name.given_name, None),
        (
            {"op": "Add", "path": f"{ENTERPRISE_SCHEMA}:department", "value": "Sales"},
            lambda p: scim.enterprise(p).department,
            "Sales",
        ),
        # Entra's manager as a bare id.
        (
            {"op": "Add", "path": f"{ENTERPRISE_SCHEMA}:manager", "value": "m-1"},
            scim.manager_ref,
            "m-1",
        ),
        (
            {"op": "replace", "value": {f"{ENTERPRISE_SCHEMA}:manager": {"value": "m-2"}}},
            scim.manager_ref,
            "m-2",
        ),
        (
            {"op": "add", "value": {"preferredLanguage": "fi-FI", "displayName": "Al"}},
            lambda p: (p.preferred_language, p.display_name),
            ("fi-FI", "Al"),
        ),
    ],
)
def test_patch_applies(operation: dict[str, Any], read: Any, expected: Any) -> None:
    before = person()
    after = scim.patch_user(before, patch(operation))
    assert read(after) == expected
    assert before.active is True and before.title is None  # the original is untouched


@pytest.mark.parametrize(
    ("operation", "scim_type"),
    [
        ({"op": "replace", "path": "shoeSize", "value": 1}, "invalidPath"),
        ({"op": "replace", "path": 'emails[type eq "work"', "value": "x"}, "invalidPath"),
        ({"op": "remove"}, "noTarget"),
        ({"op": "replace", "path": "id", "value": "x"}, "mutability"),
        ({"op": "move", "path": "title", "value": "x"}, "invalidValue"),
        ({"op": "replace", "path": "active", "value": "perhaps"}, "invalidValue"),
        # A required attribute cannot be unassigned, nor emptied (a 500 before: the event
        # refused the empty userName).
        ({"op": "remove", "path": "userName"}, "mutability"),
        ({"op": "Replace", "path": "userName", "value": ""}, "invalidValue"),
        ({"op": "replace", "value": {"userName": " "}}, "invalidValue"),
    ],
)
def test_patch_refuses_and_applies_nothing(operation: dict[str, Any], scim_type: str) -> None:
    before = person()
    with pytest.raises(ScimError) as refused:
        scim.patch_user(before, patch({"op": "add", "path": "title", "value": "T"}, operation))
    assert refused.value.status == 400
    assert refused.value.scim_type == scim_type
    assert before.title is None


@pytest.mark.parametrize(
    "body", [[], {"Operations": []}, {"Operations": "replace"}, {"Operations": [1]}]
)
def test_malformed_patch_bodies(body: Any) -> None:
    with pytest.raises(ScimError) as refused:
        scim.patch_user(person(), body)
    assert refused.value.status == 400


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "add", "path": "displayName", "value": ""},
        {"op": "replace", "value": {"displayName": "  "}},
    ],
)
def test_a_group_keeps_a_name(operation: dict[str, Any]) -> None:
    group = scim.parse_group({"displayName": "Sales"})
    with pytest.raises(ScimError) as refused:
        scim.patch_group(group, patch(operation))
    assert (refused.value.status, refused.value.scim_type) == (400, "invalidValue")
    assert group.display_name == "Sales"


def test_group_members_as_entra_and_okta_send_them() -> None:
    group = scim.parse_group({"displayName": "Sales", "members": [{"value": "u1"}]})
    group.id = "g1"
    add = {"name": "addMember", "op": "Add", "path": "members", "value": [{"value": "u2"}]}
    group = scim.patch_group(group, patch(add))
    assert [m.value for m in group.members or []] == ["u1", "u2"]
    entra_remove = {"op": "Remove", "path": "members", "value": [{"$ref": None, "value": "u1"}]}
    group = scim.patch_group(group, patch(entra_remove))
    assert [m.value for m in group.members or []] == ["u2"]
    okta_remove = {"op": "remove", "path": 'members[value eq "u2"]'}
    assert not scim.patch_group(group, patch(okta_remove)).members
    rename = {"op": "replace", "value": {"id": "g1", "displayName": "Sales EMEA"}}
    assert scim.patch_group(group, patch(rename)).display_name == "Sales EMEA"


@pytest.mark.parametrize(
    ("text", "equal"),
    [
        ('userName eq "Alice"', {"username": "Alice"}),
        ('externalId eq "e-1" and userName eq "alice"', {"externalid": "e-1", "username": "alice"}),
        ('userName eq "a" or userName eq "b"', {}),
        ('userName sw "a"', {}),
    ],
)
def test_filter_equalities(text: str, equal: dict[str, str]) -> None:
    search = scim.parse_search(Person, text, None, None, 100)
    assert dict(search.equalities) == equal


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ('userName eq "ALICE"', True),  # userName is not caseExact
        ('externalId eq "E-1"', False),  # externalId is
        ('userName eq "alice" and active eq true', True),
        ('userName eq "alice" and title pr', False),
        ('emails[type eq "work" and value co "corp"]', True),
        ('name.familyName sw "Ad" or userName eq "x"', True),
    ],
)
def test_filter_matches(text: str, matches: bool) -> None:
    search = scim.parse_search(Person, text, None, None, 100)
    assert scim.matches(search.filter, person()) is matches


@pytest.mark.parametrize(
    "text", ["userName eq", 'userName eq "a" and (', "shoeSize eq 1", 'userName zz "a"']
)
def test_malformed_filters(text: str) -> None:
    with pytest.raises(ScimError) as refused:
        scim.parse_search(Person, text, None, None, 100)
    assert (refused.value.status, refused.value.scim_type) == (400, "invalidFilter")


def test_paging_bounds() -> None:
    search = scim.parse_search(Person, None, "0", "5000", 200)
    assert (search.start_index, search.count) == (1, 200)
    with pytest.raises(ScimError):
        scim.parse_search(Person, None, "one", None, 200)


def test_what_the_event_says() -> None:
    alice = person(
        title=" Writer ",
        preferredLanguage="de-DE",
        addresses=[
            {"type": "home", "locality": "Bergen"},
            {"type": "work", "locality": "Oslo"},
        ],
        **{ENTERPRISE_SCHEMA: {"department": "Sales", "manager": {"value": "m-1"}}},
    )
    facts = scim.person_facts(alice, "alice", ["b", "a"], "bob")
    assert facts == {
        "employee_id": "alice",
        "user_name": "alice",
        "display_name": "Alice Adams",
        "active": True,
        "groups": ["a", "b"],
        "location": "Oslo",
        "languages": ["de-DE"],
        "department": "Sales",
        "manager_id": "bob",
        "title": "Writer",
    }


@pytest.mark.parametrize(
    ("body", "scim_type"),
    [
        ({"userName": "x", "shoeSize": 42}, "invalidValue"),
        ({"displayName": "no user name"}, "invalidValue"),
        ([], "invalidSyntax"),
        ({"userName": "x", "active": "perhaps"}, "invalidValue"),
    ],
)
def test_user_bodies_refused(body: Any, scim_type: str) -> None:
    with pytest.raises(ScimError) as refused:
        scim.parse_user(body)
    assert (refused.value.status, refused.value.scim_type) == (400, scim_type)


def test_employee_id_by_tenant_choice() -> None:
    alice = person()
    assert scim.employee_id_of(alice, "userName") == "alice"
    assert scim.employee_id_of(alice, "externalId") == "e-1"
    with pytest.raises(ScimError):
        scim.employee_id_of(scim.parse_user({"userName": "x"}), "externalId")
