"""Referral-source rule evaluation: which Zenoti referral source a visit gets."""

import pytest

from attribution.sources import visit_facts
from tenants.models import ReferralRule
from tenants.referral import referral_source_for

GOOGLE_ADS = "11111111-1111-1111-1111-111111111111"
META = "22222222-2222-2222-2222-222222222222"
WEBSITE = "33333333-3333-3333-3333-333333333333"


def rule(org, position, field, value, source_id, operator="equals", label=""):
    return ReferralRule.objects.create(
        organization=org,
        position=position,
        field=field,
        operator=operator,
        value=value,
        referral_source_id=source_id,
        label=label,
    )


def facts(url, referrer=""):
    return visit_facts(url, referrer)


def test_equals_matches_the_whole_value_case_insensitively(org):
    google = rule(org, 0, "utm_source", "Google", GOOGLE_ADS, label="Google Ads")
    result = referral_source_for(org, facts("https://x.test/?utm_source=GOOGLE"))
    assert result.rule == google
    assert (result.source_id, result.label, result.why, result.number) == (
        GOOGLE_ADS,
        "Google Ads",
        "rule",
        1,
    )
    assert referral_source_for(org, facts("https://x.test/?utm_source=googlemail")).why == "none"


def test_contains_matches_part_of_the_value(org):
    rule(org, 0, "utm_campaign", "spring", META, operator="contains")
    result = referral_source_for(org, facts("https://x.test/?utm_campaign=2026_Spring_Sale"))
    assert result.source_id == META


def test_first_matching_rule_by_position_wins(org):
    rule(org, 1, "utm_medium", "cpc", GOOGLE_ADS)
    first = rule(org, 0, "utm_source", "facebook", META)
    result = referral_source_for(org, facts("https://x.test/?utm_source=facebook&utm_medium=cpc"))
    assert result.rule == first
    assert result.number == 1


@pytest.mark.parametrize(
    "param,network",
    [("gclid", "google"), ("fbclid", "meta"), ("msclkid", "microsoft")],
)
def test_click_network_comes_from_the_click_id(org, param, network):
    rule(org, 0, "click_network", network, META)
    result = referral_source_for(org, facts(f"https://x.test/?{param}=abc123"))
    assert result.why == "rule"
    assert result.rule.value == network


def test_referrer_domain_ignores_www(org):
    rule(org, 0, "referrer_domain", "instagram.com", META)
    result = referral_source_for(org, facts("https://x.test/", "https://www.instagram.com/p/1/"))
    assert result.source_id == META


def test_no_match_falls_back_to_the_default(org):
    org.default_referral_source_id = WEBSITE
    org.default_referral_source_label = "Website"
    rule(org, 0, "utm_source", "google", GOOGLE_ADS)
    result = referral_source_for(org, facts("https://x.test/?utm_source=bing"))
    assert (result.source_id, result.label, result.rule, result.why) == (
        WEBSITE,
        "Website",
        None,
        "default",
    )


def test_no_match_and_no_default_gives_no_source(org):
    rule(org, 0, "utm_source", "google", GOOGLE_ADS)
    result = referral_source_for(org, facts("https://x.test/"))
    assert (result.source_id, result.rule, result.why) == ("", None, "none")


def test_rules_of_other_organizations_are_ignored(org, other_org):
    rule(other_org, 0, "utm_source", "google", GOOGLE_ADS)
    assert referral_source_for(org, facts("https://x.test/?utm_source=google")).why == "none"


def test_rules_are_read_with_one_query(org, django_assert_num_queries):
    for n in range(5):
        rule(org, n, "utm_source", f"source{n}", GOOGLE_ADS)
    with django_assert_num_queries(1):
        assert referral_source_for(org, facts("https://x.test/?utm_source=source4")).number == 5
