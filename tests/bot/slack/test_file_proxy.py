"""The signed media links on their own: what makes a link good, expired or forged, and
the setting that keys them. (Through the edge: tests/bot/test_what_is_texted.py.)"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from bot.settings import SettingsError, load_settings
from bot.slack import file_proxy

SECRET = b"k" * 32
NOW = 1_800_000_000.0


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_a_link_is_good_until_it_expires() -> None:
    url = file_proxy.signed_url(
        public_url="https://caretbot.example.com",
        secret=SECRET,
        file_id="F0ABC",
        name="badge photo.png",
        now=NOW,
    )
    assert url.startswith("https://caretbot.example.com/slack/files/F0ABC/badge%20photo.png?")
    query = _query(url)
    assert int(query["expires"]) == NOW + file_proxy.URL_TTL_SECONDS

    def status(now: float, **changes: str) -> int:
        args = {"secret": SECRET, "file_id": "F0ABC", **query, **changes}
        return file_proxy.check_signature(now=now, **args)  # type: ignore[arg-type]

    assert status(NOW + file_proxy.URL_TTL_SECONDS) == 200
    assert status(NOW + file_proxy.URL_TTL_SECONDS + 1) == 404
    assert status(NOW, file_id="F0OTHER") == 403
    assert status(NOW, expires=str(int(query["expires"]) + 60)) == 403
    assert status(NOW, signature="") == 403
    assert status(NOW, expires="soon") == 403
    assert file_proxy.check_signature(secret=b"x" * 32, file_id="F0ABC", now=NOW, **query) == 403


def test_the_key_is_media_url_secret_or_derived_from_the_signing_secret() -> None:
    derived = load_settings(SLACK_SIGNING_SECRET="s" * 32).media_url_secret
    assert derived == load_settings(SLACK_SIGNING_SECRET="s" * 32).media_url_secret
    assert derived not in (b"s" * 32,)  # never the signing secret itself
    own = load_settings(SLACK_SIGNING_SECRET="s" * 32, MEDIA_URL_SECRET="m" * 40)
    assert own.media_url_secret == b"m" * 40


def test_a_short_media_url_secret_is_refused_with_where_to_get_one() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(MEDIA_URL_SECRET="short")
    assert "MEDIA_URL_SECRET" in str(caught.value)
    assert "secrets.token_hex(32)" in str(caught.value)
