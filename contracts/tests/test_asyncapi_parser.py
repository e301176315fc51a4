"""The official AsyncAPI parser (npm's @asyncapi/parser) finds no error in the committed
documents. `make test` installs it first (`make asyncapi-parser`)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from contracts.catalogue.asyncapi import DOCS_DIR

PARSER_DIR = DOCS_DIR.parents[1] / "contracts" / "asyncapi"
ERROR = 0  # the parser's severities: 0 error, 1 warning, 2 information, 3 hint


def _parse(paths: list[Path]) -> dict[str, list[dict[str, Any]]]:
    """Each document's diagnostics, from one run of the parser."""
    node = shutil.which("node")
    assert node, "the AsyncAPI parser needs Node.js on PATH (apt-get install nodejs npm)"
    installed = PARSER_DIR / "node_modules" / "@asyncapi" / "parser" / "package.json"
    assert installed.exists(), "the AsyncAPI parser is not installed: run `make asyncapi-parser`"
    done = subprocess.run(
        [node, str(PARSER_DIR / "validate.mjs"), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()]
    return {result["document"]: result["diagnostics"] for result in results}


def test_documents_pass_the_asyncapi_parser(tmp_path: Path) -> None:
    documents = sorted(DOCS_DIR.glob("*.asyncapi.yaml"))
    assert documents
    # One broken document beside them: the parser must say so, or it checks nothing.
    broken = yaml.safe_load(documents[0].read_text())
    operation = next(iter(broken["operations"].values()))
    operation["channel"] = {"$ref": "#/channels/no-such-topic"}
    control = tmp_path / "broken.asyncapi.yaml"
    control.write_text(yaml.safe_dump(broken))

    diagnostics = _parse([*documents, control])

    assert set(diagnostics) == {str(p) for p in [*documents, control]}
    assert any(d["severity"] == ERROR for d in diagnostics.pop(str(control)))
    errors = {
        Path(path).name: [f"{d['path']}: {d['message']}" for d in found if d["severity"] == ERROR]
        for path, found in diagnostics.items()
    }
    assert errors == {Path(path).name: [] for path in diagnostics}
