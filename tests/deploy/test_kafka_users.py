"""deploy/k8s/components/kafka-access: the generated files are what generate.py renders.

What the files say (each service's KafkaUser allows what contracts.catalogue.access
computes, each process signs in as its own service's user; chorus-keda describes what the
ScaledObjects measure, chorus-operator reads the dead-letter topics) is checked where it
is applied, on the rendered manifests, in test_k8s.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from support import load_file

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPONENTS = REPO_ROOT / "deploy" / "k8s" / "components"
COMPONENT = COMPONENTS / "kafka-access"
COMMAND = ".venv/bin/python deploy/k8s/components/kafka-access/generate.py"


def _generator() -> Any:
    return load_file("chorus_kafka_access", COMPONENT / "generate.py")


def test_files_are_what_the_generator_renders() -> None:
    rendered = _generator().rendered()
    assert set(rendered) == {"users.yaml", "credentials.yaml"}
    stale = sorted(
        name
        for name, text in rendered.items()
        if not (COMPONENT / name).is_file() or (COMPONENT / name).read_text() != text
    )
    assert not stale, f"{stale} differ from what generate.py renders: run `{COMMAND}`"
    for text in rendered.values():
        assert text.startswith("# Generated from contracts/catalogue/access.py"), text[:80]
        assert COMMAND in text.split("\n", 2)[1], "the header says how to regenerate"


def test_the_strimzi_component_brings_the_users_and_their_credentials() -> None:
    kustomization = yaml.safe_load((COMPONENT / "kustomization.yaml").read_text())
    assert kustomization["kind"] == "Component"
    assert kustomization["resources"] == ["users.yaml"]
    assert {"path": "credentials.yaml"} in kustomization["patches"]
    # Kafka asks every client to sign in: it never comes without its users.
    strimzi = yaml.safe_load((COMPONENTS / "strimzi" / "kustomization.yaml").read_text())
    assert "../kafka-access" in strimzi["components"]
