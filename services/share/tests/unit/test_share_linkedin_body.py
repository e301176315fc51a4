"""The body of a LinkedIn Posts API request, as LinkedIn documents it."""

from __future__ import annotations

from share.adapters.networks import Credentials, LinkedInPoster, Post


def test_article_post_body() -> None:
    poster = LinkedInPoster("https://api.linkedin.com", "202510")
    body = poster.request_body(
        Credentials(access_token="t", author="urn:li:person:abc"),
        Post(
            text="Proud of my team",
            link="https://go.example.com/l/Ab3dE5gH",
            title="We are hiring",
            description="Platform engineers",
        ),
    )
    assert body == {
        "author": "urn:li:person:abc",
        "commentary": "Proud of my team",
        "visibility": "PUBLIC",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "content": {
            "article": {
                "source": "https://go.example.com/l/Ab3dE5gH",
                "title": "We are hiring",
                "description": "Platform engineers",
            }
        },
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False,
    }
