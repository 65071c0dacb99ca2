"""The rules behind the admin pages that need no database: which passwords are too weak, and that a channel's
secret never survives masking, in the URL or in what apprise says about it."""

from __future__ import annotations

import pytest

from desk.channels import masked, plugin_for
from desk.errors import InvalidInput
from desk.masking import scrub
from desk.users import check_password


@pytest.mark.parametrize(("password", "code"), [
    ("short-1", "password.too_short"), ("12345678", "password.weak"), ("abcdefghij", "password.weak"),
    ("liaison-bazhou-1", "password.weak"), ("aaaa1111", "password.weak")])
def test_weak_passwords_are_refused_naming_the_password_field(password, code):
    with pytest.raises(InvalidInput) as refused:
        check_password(password, "bazhou")
    assert (refused.value.code, refused.value.field) == (code, "password")


def test_a_mixed_password_is_accepted():
    check_password("correct-horse-9", "bazhou")


@pytest.mark.parametrize("url", [
    "wecombot://0123456789abcdef0123456789abcdef", "dingtalk://tok0123456789abcdef/?secret=SEC0123456789",
    "json://desk:pa55word-0042@10.0.0.5:8080/hook/t0ken-0042?+X-Api-Key=k3y-0042",
    "mailto://liaison:mail-pass-0042@example.com"])
def test_a_channel_secret_is_masked_in_its_address_and_in_apprises_words(url):
    plugin = plugin_for(url)
    assert plugin is not None
    shown = masked(plugin)
    secrets = [s for s in ("0123456789abcdef0123456789abcdef", "tok0123456789abcdef", "SEC0123456789", "pa55word-0042",
                           "k3y-0042", "mail-pass-0042") if s in url]
    assert secrets and not any(s in shown for s in secrets), shown
    said = scrub(f"Failed to send to {url}: rejected {' '.join(secrets)}", url, shown)
    assert not any(s in said for s in secrets), said
