"""The addon page's parameters: only its own are read, bad values fall back, links keep the rest."""

import pytest

from puq_bridge.admin.query import PAGE_PARAMS, Action, AddonRequest, PageQuery


def test_only_the_pages_own_parameters_are_read():
    query = PageQuery.read(
        {"puq_near": "3", "puq_service": "42", "puq_origin": "UsageUpdate", "module": "x", "e": "1"}
    )
    assert query == PageQuery(near=3, service=42, origin="UsageUpdate")
    assert set(query.params()) <= set(PAGE_PARAMS)


@pytest.mark.parametrize(
    "value", ["0", "-1", "abc", "1e3", "", " ", "99999999999", ["2"], None, 2.5, True]
)
def test_a_value_that_does_not_parse_gets_the_default(value):
    query = PageQuery.read({"puq_near": value, "puq_run": value, "puq_origin": value})
    assert (query.near, query.run, query.origin) == (1, None, None)


def test_a_query_that_is_not_a_mapping_is_the_default():
    assert PageQuery.read(["puq_near", "2"]) == PageQuery() == PageQuery.read(None)


def test_links_keep_the_other_parameters_and_leave_defaults_out():
    query = PageQuery(near=2, service=7)
    link = "addonmodules.php?module=puqzimbra"
    assert query.link(link, "puq-usage", large=3) == (
        "addonmodules.php?module=puqzimbra&puq_near=2&puq_large=3&puq_service=7#puq-usage"
    )
    assert query.link(link, near=1, service=None) == link


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(1)",
        "https://evil.example.com/addonmodules.php?module=puqzimbra",
        "addonmodules.php?module=puqzimbra&x=<b>",
        "addonmodules.php?module=Puq",
        "",
        None,
    ],
)
def test_a_module_link_that_is_not_whmcs_own_is_replaced(link):
    request = AddonRequest.read({"module": "puqzimbra", "modulelink": link})
    assert request.modulelink == "addonmodules.php?module=puqzimbra"


def test_the_frame_is_checked_part_by_part():
    request = AddonRequest.read(
        {
            "module": "puq zimbra",
            "lang": "de",
            "version": "0.1.0<script>",
            "token": 'abc"def',
            "admin_id": "7",
            "query": {"puq_runs": "2"},
        }
    )
    assert (request.module, request.lang, request.version, request.token) == (
        "puqbridge",
        None,
        None,
        "",
    )
    assert request.admin_id == 7 and request.query.runs == 2
    good = AddonRequest.read({"module": "m1", "lang": "pl", "version": "0.2.0", "token": "ab12"})
    assert (good.modulelink, good.lang, good.version, good.token) == (
        "addonmodules.php?module=m1",
        "pl",
        "0.2.0",
        "ab12",
    )


@pytest.mark.parametrize(
    "block, expected",
    [
        ({"name": "sync", "server": "", "token_ok": True}, Action("sync", None, True)),
        ({"name": "sync", "server": "mail1", "token_ok": 1}, Action("sync", "mail1", False)),
        ({"name": "test", "server": "m\nx", "token_ok": True}, Action("test", None, True)),
        ({"name": "delete", "server": "mail1", "token_ok": True}, None),
        ("sync", None),
        (None, None),
    ],
)
def test_actions_are_ours_or_none(block, expected):
    assert Action.read(block) == expected
