from __future__ import annotations

import pytest
from pydantic import ValidationError

from people.config import LOCAL_SCIM_TOKEN, PeopleSettings


def test_local_default_token_for_demo() -> None:
    assert PeopleSettings(env="local").tenant_tokens == {"demo": LOCAL_SCIM_TOKEN}


def test_short_token_refused_outside_local_without_echoing_it() -> None:
    with pytest.raises(ValidationError) as refused:
        PeopleSettings(
            env="production",
            jwt_secret="s" * 40,
            pseudonym_key="p" * 40,
            scim_tokens='{"acme": "short-secret-value"}',
        )
    assert "PEOPLE_SCIM_TOKENS" in str(refused.value)
    assert "short-secret-value" not in str(refused.value)


def test_no_default_token_outside_local() -> None:
    settings = PeopleSettings(env="production", jwt_secret="s" * 40, pseudonym_key="p" * 40)
    assert settings.tenant_tokens == {}


@pytest.mark.parametrize("raw", ['{"acme": "email"}', "[]", "nope"])
def test_employee_id_choice_checked(raw: str) -> None:
    with pytest.raises(ValidationError):
        PeopleSettings(employee_id=raw)
