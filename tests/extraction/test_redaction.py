"""Private data is replaced by typed placeholders before text leaves for the model; KPI figures never are."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime

import pandas as pd
import pytest

from kpi_pipeline.catalog import parse_catalog
from kpi_pipeline.extraction.numbers import find_quantities
from kpi_pipeline.extraction.offline import OfflineBackend
from kpi_pipeline.extraction.pipeline import RawDay, extract_day, source_docs
from kpi_pipeline.extraction.redaction import (
    RedactionSettingError,
    as_configured,
    redact_source,
    redact_text,
    redaction_on,
)
from kpi_pipeline.extraction.schema import SourceDoc
from kpi_pipeline.warehouse.tables import RAW_SLACK_MESSAGES

# Figures as KPI text writes them: none of them may change, or a value would be lost or misread.
KPI_PHRASES = [
    "error rate 3.2% after the hotfix",
    "p95 latency 340 ms, p99 1.2 s",
    "revenue $1,234,567.89 this quarter",
    "ARR €12.5M, up from €11.9M",
    "11 900 weekly active users",
    "1 234 567 requests served",
    "1 234 567 890 requests this month",
    "+12 500 000 EUR pipeline added",
    "+1 234 567 signups year to date",
    "report for 2026-07-31",
    "on 31/07/2026 and 31.07.2026",
    "released 2026-07-31T14:30:00Z",
    "standup at 14:30 UTC, review 10:30-11:45",
    "v1.2.3 shipped, 2.14.0-rc.1 next",
    "version 10.4.1234.5678 of the agent",
    "ETA 3-5 days",
    "ranges like 100-200 and 20-30%",
    "uptime 99.95% in Q3 2026",
    "2026-Q3 OKR review",
    "NPS +42 (from +38)",
    "conversion +12.5 pp week over week",
    "churn -0.8% month over month",
    "MRR grew from $80k to $95k",
    "ticket PLAT-1234 and build #1190 closed",
    "4,000,000 events, 4 000 000 in the EU format",
    "12 345 678 rows backfilled",
    "a 2.5x speed-up, 1e6 ops",
    "ratio 1:2, 16:9 screens",
    "0.25 0.5 0.75 quantiles",
    "from 120 to 340 tickets",
    "order 4111111111111112 (not Luhn-valid)",
    "count 1234567890123456 rows (starts with 1)",
    "IBAN-shaped DE89370400440532013001 with a bad checksum",
    "Slack ts 1720000000.000100 in the log",
    "<https://acme.slack.com/archives/C0123/p1720000000000100|thread>",
    "call volume 12 345 678 this week",
    "phone calls answered: 1 234 567",
    "mobile crash-free sessions 99.5%",
    "cell A1 says 42",
    "deploys today: 12, rollbacks: 0",
    "MTTR 2h 15m, MTTD 4 min",
    "commit a1b2c3d4e5f6 deployed to 10.0.0.1",
    "SSN-shaped but impossible: 000-12-3456, 666-12-3456, 912-34-5678, 123-00-4567, 123-45-0000",
    "QA 12 34 56 C is no insurance number, nor is AB 12 34 56 E",
    "1,000,000th customer",
    "budget 1.5-2.0 million",
    "zip 02139, room 4111",
    "text me 2026-07-31 results",
    "Best fitness: <tel:28919.8689279|28919.8689279>",
    "sprint 42: 38 of 40 points, 95%",
    "CVE-2024-3094 patched in 5.6.1",
    "+3.5% QoQ, -2% YoY",
    "request 07919465-5683-4752-aea9-784608c05fcb failed",
    "Timestamp in format 0123456789.012345",
]

PRIVATE = {
    "EMAIL": [
        "alice@example.com",
        "Bob.Smith@Example.co.uk",
        "first.last+kpi@mail.acme.io",
        "j.doe@sub.domain.example.org",
        "o'brien@example.ie",
        "user_name@example-company.com",
        "a@b.co",
        "x-ray@hyphen-domain.net",
        "CAPS@EXAMPLE.COM",
        "jörg.müller@beispiel.de",
        "name123@numbers456.com",
        "firstname.lastname@apache.org",
        "dev+alerts+p1@acme.dev",
        "sales@company.travel",
        "noreply@github.com",
        "42@answers.example",
        "me@my-site.xyz",
        "email.with.dots@d.e.f.example",
        "ops%team@acme.com",
        "a.b-c_d@e-f.gh",
        "priya.sharma1@brightloop.io",
        "security@pypi.org",
        "team@data.houston.tx.us",
        "first_last@mail.example.co.jp",
        "x@example.technology",
        "zoë@example.fr",
        "test.email+tag@gmail.com",
        "pbathla@flexgenpowersystems.com",
        "neerajtandon25@gmail.com",
        "ziggy.jonsson.nyc@gmail.com",
    ],
    "PHONE": [
        "+1 415 555 0134",
        "+1 (415) 555-0134",
        "+1-415-555-0134",
        "+14155550134",
        "(415) 555-0134",
        "415-555-0134",
        "415.555.0134",
        "415 555 0134",
        "1-800-555-0199",
        "+44 20 7946 0958",
        "+44 (0)20 7946 0958",
        "+447700900123",
        "020 7946 0958",
        "07700 900123",
        "(020) 7946 0958",
        "+49 30 12345678",
        "+49 (0)30 1234567",
        "0151 12345678",
        "030 1234567",
        "+33 1 23 45 67 89",
        "06 12 34 56 78",
        "01.23.45.67.89",
        "+34 912 345 678",
        "+91 98765 43210",
        "+81 3-1234-5678",
        "+61 2 9876 5432",
        "+55 11 91234-5678",
        "+86 138 0013 8000",
        "+7 495 123-45-67",
        "+353 1 234 5678",
        "+31 20 123 4567",
        "+41 44 668 18 00",
    ],
    "CARD": [
        "4111111111111111",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "4012 8888 8888 1881",
        "4222222222222",
        "5555 5555 5555 4444",
        "5105105105105100",
        "3782 822463 10005",
        "371449635398431",
        "3787-344936-71000",
        "6011 1111 1111 1117",
        "6011000990139424",
        "3530 1113 3330 0000",
        "3566002020360505",
        "3056 930902 5904",
        "38520000023237",
        "5200 8282 8282 8210",
        "4000056655665556",
        "2223 0031 2200 3222",
        "6200000000000005",
        "4242 4242 4242 4242",
        "5454-5454-5454-5454",
        "36227206271667",
        "4000 0025 0000 3155",
        "5425233430109903",
        "2222 4200 0000 1113",
        "6759649826438453",
        "4917 6100 0000 0000 003",
        "6250941006528599",
        "4035 5010 0000 0008",
        "2720992593319364",
        "5019717010103742",
    ],
    "IBAN": [
        "DE89 3704 0044 0532 0130 00",
        "DE89370400440532013000",
        "GB29 NWBK 6016 1331 9268 19",
        "GB82WEST12345698765432",
        "FR14 2004 1010 0505 0001 3M02 606",
        "ES9121000418450200051332",
        "IT60 X054 2811 1010 0000 0123 456",
        "NL91ABNA0417164300",
        "BE68 5390 0754 7034",
        "CH9300762011623852957",
        "AT61 1904 3002 3457 3201",
        "PL61109010140000071219812874",
        "SE45 5000 0000 0583 9825 7466",
        "DK5000400440116243",
        "FI21 1234 5600 0007 85",
        "NO9386011117947",
        "IE29 AIBK 9311 5212 3456 78",
        "PT50000201231234567890154",
        "LU28 0019 4006 4475 0000",
        "GR1601101250000000012300695",
        "CZ65 0800 0000 1920 0014 5399",
        "HU42117730161111101800000000",
        "RO49 AAAA 1B31 0075 9384 0000",
        "SK3112000000198742637541",
        "SI56 2633 0001 2039 086",
        "HR1210010051863000160",
        "BG80 BNBG 9661 1020 3456 78",
        "LT121000011101001000",
        "LV80 BANK 0000 4351 9500 1",
        "EE382200221020145685",
        "MT84 MALT 0110 0001 2345 MTLC AST0 01S",
        "SA0380000000608010167519",
        "BR1800360305000010009795493C1",
    ],
    "ID": [
        "123-45-6789",
        "078-05-1120",
        "219-09-9999",
        "457-55-5462",
        "512-34-7788",
        "001-01-0001",
        "665-99-9999",
        "700-12-3456",
        "899-01-2345",
        "321-54-9876",
        "404-40-4040",
        "555-12-3456",
        "134-56-7890",
        "268-44-1201",
        "610-23-4589",
        "AB 12 34 56 C",
        "AB123456C",
        "CE 98 76 54 A",
        "JG103759A",
        "NW 01 02 03 B",
        "PR 11 22 33 D",
        "ZY 45 67 89 A",
        "HK 20 30 40 B",
        "SN 99 88 77 C",
        "TW 12 12 12 D",
        "EH 31 41 59 A",
        "LM 27 18 28 B",
        "WZ 60 70 80 C",
        "MA 10 20 30 D",
        "KC 55 66 77 A",
    ],
    "SECRET": [
        "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
        "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
        "xoxp-11731706867-321311368407-319706615745-facd2299712e432c",
        "xoxa-2-123456789012-abcdefabcdef",
        "xoxs-1234567890-abcdefghijkl",
        "xoxr-1-ABCDEFGHIJ-0123456789",
        "xoxe-1-My0xLTEyMzQ1Njc4OTAx",
        "xapp-1-A0123456789-1234567890123-0123456789abcdef",
        "sk-ant-api03-Zx8y7W6v5U4t3S2r1Q0p-AbCdEfGhIjKlMnOpQrStUvWxYz_0123456789",
        "sk-ant-admin01-abcdefghijklmnopqrstuvwxyz",
        "sk-ant-api03-short_key_12",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        "gho_16C7e42F292c6912E7710c838347Ae178B4a",
        "ghu_16C7e42F292c6912E7710c838347Ae178B4a",
        "ghs_16C7e42F292c6912E7710c838347Ae178B4a",
        "ghr_1B4a2e77838347a7E420ce178F2E7c6912E169246c34E1ccbF66C46812d16D5B1A9Dc86A1498",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQR",
        "github_pat_11AAAAAAA0bbbbbbbbbbbb_cccccccccccccccccccccccccccccccccccccccccccccccccccccccccc",
        "AKIAIOSFODNN7EXAMPLE",
        "AKIAJ2QZ7YJ3OBKJ4PLQ",
        "ASIAY34FZKBOKMUTVV7A",
        "AKIA1234567890ABCDEF",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
        "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJhY21lIiwiZXhwIjoxNzIwMDAwMDAwfQ.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9.eyJ1c2VyIjoiYWxpY2UifQ.MEUCIQDx-abc_def0123456789",
        "eyJraWQiOiJrMSJ9.eyJzY29wZSI6InJlYWQifQ.c2lnbmF0dXJlLXBhcnQ",
        "xoxb-2-abcdefghijklmnop",
        "xoxp-987654321098-987654321098-987654321098-0123456789abcdef0123456789abcdef",
        "sk-ant-oat01-AbCdEf0123456789-xyz",
    ],
}
PRIVATE_CASES = [(kind, value) for kind, values in PRIVATE.items() for value in values]
# Words that say a phone number follows: then a local number with no other shape is one too.
PHONE_CUES = [
    "phone: 555-0134",
    "call me at 555 0134",
    "mobile 5550134",
    "tel. 723 45 67",
    "reach me on 8 12 34 56",
    "WhatsApp +447700900123",
    "fax #: 555 0199",
]
ID_CUES = ["SSN: 123456789", "social security number 123 45 6789", "national ID 987654321"]


def test_the_tables_are_as_large_as_the_issue_asks() -> None:
    assert len(KPI_PHRASES) >= 40
    assert all(len(values) >= 30 for values in PRIVATE.values()), {k: len(v) for k, v in PRIVATE.items()}


@pytest.mark.parametrize("phrase", KPI_PHRASES)
def test_kpi_figures_are_never_redacted(phrase: str) -> None:
    assert redact_text(phrase) == phrase


@pytest.mark.parametrize(("kind", "value"), PRIVATE_CASES)
def test_each_private_value_becomes_its_typed_placeholder_and_nothing_else_changes(kind: str, value: str) -> None:
    assert redact_text(f"ping {value} today, error rate 3.2%") == f"ping [{kind}_1] today, error rate 3.2%"
    assert redact_text(f"({value}).") == f"([{kind}_1])."


@pytest.mark.parametrize("phrase", PHONE_CUES)
def test_a_local_number_after_a_word_that_announces_a_phone_is_a_phone(phrase: str) -> None:
    number = re.search(r"\+?\d[\d .-]*\d", phrase)
    assert number is not None
    redacted = redact_text(phrase)
    assert redacted == phrase[: number.start()] + "[PHONE_1]" + phrase[number.end() :]


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("WHATSAPP: 555 0134", "WHATSAPP: [PHONE_1]"),
        ("r\u0131ng me on 555 0134", "r\u0131ng me on [PHONE_1]"),  # dotless i: IGNORECASE reads "ring me"
        ("what\u017fapp 555 0134", "what\u017fapp [PHONE_1]"),  # long s
        ("\u0131d number: 123456789", "\u0131d number: [ID_1]"),
    ],
)
def test_a_cue_in_capitals_or_with_a_letter_that_case_folds_to_ascii_still_announces_the_number(
    text: str, redacted: str
) -> None:
    assert redact_text(text) == redacted


def test_a_source_with_nothing_private_comes_back_as_it_was() -> None:
    doc = SourceDoc(
        "jira", "jira:PLAT-12", "error rate 3.2% on <@U0001A5A0>", datetime(2026, 7, 1, tzinfo=UTC), None, "PLAT-12"
    )
    assert redact_source(doc) is doc


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("+1 415 555 0134 12 days", "[PHONE_1] 12 days"),
        ("+1 (415) 555-0134 3 times", "[PHONE_1] 3 times"),
        ("call 020 7946 0958 2026 budget", "call [PHONE_1] 2026 budget"),
    ],
)
def test_a_figure_written_right_after_a_phone_number_is_kept(text: str, redacted: str) -> None:
    assert redact_text(text) == redacted


@pytest.mark.parametrize("phrase", ID_CUES)
def test_nine_digits_after_a_word_that_announces_an_identity_number_are_one(phrase: str) -> None:
    number = re.search(r"\d[\d ]*\d", phrase)
    assert number is not None
    assert redact_text(phrase) == phrase[: number.start()] + "[ID_1]" + phrase[number.end() :]


def test_the_same_value_keeps_its_number_and_different_values_get_their_own() -> None:
    text = (
        "alice@example.com pinged Bob@Example.com, then ALICE@example.com again; "
        "call +1 415 555 0134 or (415) 555-0134, card 4111 1111 1111 1111 = 4111111111111111"
    )
    assert redact_text(text) == (
        "[EMAIL_1] pinged [EMAIL_2], then [EMAIL_1] again; call [PHONE_1] or [PHONE_2], card [CARD_1] = [CARD_1]"
    )


def test_slack_mailto_links_and_tokens_in_urls_are_redacted_where_they_stand() -> None:
    text = "write <mailto:ops@acme.io|ops@acme.io>; file https://files.slack.com/x.js?t=xoxe-1173-3213-facd2299 ok"
    assert redact_text(text) == "write <mailto:[EMAIL_1]|[EMAIL_1]>; file https://files.slack.com/x.js?t=[SECRET_1] ok"


def test_a_capitalised_word_after_a_grouped_iban_is_not_part_of_it() -> None:
    assert redact_text("pay to BE68 5390 0754 7034 THEN report") == "pay to [IBAN_1] THEN report"


def test_a_secret_wins_over_the_shapes_inside_it() -> None:
    token = "xoxb-4111111111111111-14155550134-abcdef"
    assert redact_text(f"token {token}") == "token [SECRET_1]"


def test_placeholders_carry_no_number_that_extraction_or_grounding_could_read() -> None:
    redacted = redact_text(
        "NPS 42: a@b.co, +1 415 555 0134, 4111111111111111, DE89370400440532013000, AKIAIOSFODNN7EXAMPLE"
    )
    assert [q.value for q in find_quantities(redacted)] == [42.0]


def test_title_and_text_of_a_source_share_one_numbering_and_everything_else_is_kept() -> None:
    doc = SourceDoc(
        "jira",
        "jira:OPS-7",
        "Reported by bob@acme.io; cc alice@acme.io and bob@acme.io. Error rate 4%.",
        datetime(2026, 7, 3, 9, tzinfo=UTC),
        url="https://acme.atlassian.net/browse/OPS-7",
        title="Escalation from alice@acme.io",
        channel="OPS",
    )
    redacted = redact_source(doc)
    assert redacted.title == "Escalation from [EMAIL_1]"
    assert redacted.text == "Reported by [EMAIL_2]; cc [EMAIL_1] and [EMAIL_2]. Error rate 4%."
    assert (redacted.source_id, redacted.url, redacted.channel, redacted.observed_at) == (
        doc.source_id,
        doc.url,
        doc.channel,
        doc.observed_at,
    )


@pytest.mark.parametrize(
    ("setting", "on"),
    [
        *[(None, True), ("", True), ("true", True), ("TRUE", True), (" yes ", True), ("1", True), ("on", True)],
        *[("false", False), ("False", False), ("no", False), ("0", False), ("off", False)],
    ],
)
def test_kpi_redact_is_on_unless_set_to_a_no(setting: str | None, on: bool) -> None:
    assert redaction_on(setting) is on


def test_a_kpi_redact_that_is_neither_yes_nor_no_is_one_line_naming_the_setting() -> None:
    with pytest.raises(RedactionSettingError) as raised:
        redaction_on("maybe")
    assert str(raised.value) == "KPI_REDACT='maybe' is not a yes or a no: set it to true (the default) or false"


def test_as_configured_redacts_unless_the_environment_turns_it_off() -> None:
    doc = SourceDoc("slack", "slack:C1:1.0", "mail a@b.co", datetime(2026, 7, 3, tzinfo=UTC))
    assert [d.text for d in as_configured([doc], {})] == ["mail [EMAIL_1]"]
    assert [d.text for d in as_configured([doc], {"KPI_REDACT": "false"})] == ["mail a@b.co"]


DAY = date(2026, 7, 3)
CATALOG = parse_catalog(
    {
        "metrics": [
            {
                "id": "api_error_rate",
                "description": "Failed API requests",
                "unit": "percent",
                "aliases": ["error rate"],
                "validation": {"min": 0, "max": 100},
            },
        ]
    }
)
MESSAGE = "error rate is 2.5% today, details from alice@example.com or +1 415 555 0134"


def slack_day(text: str) -> RawDay:
    row = {c: None for c in RAW_SLACK_MESSAGES.column_names}
    row.update(channel_id="C1", channel_name="engineering", ts="1783069200.000100", text=text, day=DAY)
    return RawDay(slack_messages=pd.DataFrame([row], columns=RAW_SLACK_MESSAGES.column_names))


def test_the_days_sources_are_redacted_by_default_and_verbatim_with_kpi_redact_false(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KPI_REDACT", raising=False)
    assert [d.text for d in source_docs(DAY, slack_day(MESSAGE))] == [
        "error rate is 2.5% today, details from [EMAIL_1] or [PHONE_1]"
    ]
    monkeypatch.setenv("KPI_REDACT", "false")
    assert [d.text for d in source_docs(DAY, slack_day(MESSAGE))] == [MESSAGE]


@pytest.mark.parametrize("setting", ["true", "false"])
def test_a_value_is_grounded_in_the_text_the_model_saw_and_its_evidence_carries_no_private_data(
    monkeypatch: pytest.MonkeyPatch, setting: str
) -> None:
    monkeypatch.setenv("KPI_REDACT", setting)
    result = extract_day(DAY, slack_day(MESSAGE), CATALOG, OfflineBackend())
    value = result.values.iloc[0]
    assert (value["status"], value["value"], value["grounded"]) == ("ok", 2.5, True)
    evidence = json.dumps([json.loads(e) for e in result.candidates["evidence"]])
    assert "2.5%" in evidence
    assert ("alice@example.com" in evidence or "+1 415 555 0134" in evidence) is (setting == "false")
