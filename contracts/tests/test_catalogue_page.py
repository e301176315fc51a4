"""`make docs`: the catalogue page shows every topic with its producer, subscribers, key and
data fields, and links the documents it is rendered from."""

from __future__ import annotations

import html
import re
from pathlib import Path

from contracts import ALL_EVENTS, PostShared
from contracts.catalogue import subscriptions_to
from contracts.catalogue.page import build


def _section(page: str, topic: str) -> str:
    start = page.index(f'<h3 id="topic-{topic}">')
    return page[start : page.index("</section>", start)]


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def test_the_page_shows_every_topic_with_who_publishes_and_reads_it(tmp_path: Path) -> None:
    page = build(tmp_path).read_text()

    for event in ALL_EVENTS:
        section = _text(_section(page, event.topic))
        assert f"Producer{', '.join(event.producers())}" in section.replace("\n", "")
        assert event.event_type() in section
        assert event.key_pattern() in section
        for subscription in subscriptions_to(event.topic):
            assert f"{subscription.service}{subscription.group}" in section.replace("\n", "")
            assert subscription.why in section
        data_class = event.model_fields["data"].annotation
        assert data_class is not None
        for name in data_class.model_fields:
            assert f"<code>{name}</code>" in _section(page, event.topic)
    assert 'href="#type-Network">Network</a>' in _section(page, PostShared.topic)
    assert '<h3 id="type-Network">' in page


def test_the_page_links_a_copy_of_each_document(tmp_path: Path) -> None:
    page = build(tmp_path).read_text()
    for link in re.findall(r'href="([a-z]+\.asyncapi\.yaml)"', page):
        assert (tmp_path / link).is_file()
    assert 'href="share.asyncapi.yaml"' in page
