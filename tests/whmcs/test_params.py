"""The one reader of WHMCS's module params: settings, names, server fields, and what the
forwarder sends; each part checked only when used."""

import datetime as dt
from decimal import Decimal

import pytest

from puq_bridge.errors import ParamsError
from puq_bridge.whmcs.params import (
    PARAM_KEYS,
    SETTINGS,
    ClientDetails,
    ModuleParams,
    ProductSettings,
    ServerParams,
    ServiceTarget,
    config_options,
    normalize_domain,
    primary_mailbox,
)
from tests.support.zimbra import GiB, MiB


def params(**extra):
    base = {
        "serviceid": "42",
        "domain": "firma.pl",
        "username": "biuro",
        "password": "Start-Pass-123",
        "configoption1": "512",
        "configoption2": "20",
        "configoption3": "10",
        "configoption4": "",
        "configoption5": "locked",
        "configoption6": "domain",
    }
    base.update(extra)
    return base


def settings_of(raw):
    return ModuleParams.read(raw).product


def test_config_options_are_the_eight_settings_in_whmcs_shape():
    options = config_options()
    assert list(options) == [s.label for s in SETTINGS]
    assert len(options) == 8
    for field in options.values():
        assert set(field) >= {"FriendlyName", "Type", "Size", "Default", "Description"}
        assert field["Type"] in ("text", "dropdown", "yesno")
    assert options["Suspension policy"]["Options"] == "locked,maintenance,closed"
    assert options["Tenancy"]["Options"] == "domain,server"
    assert options["When total space is full"]["Options"] == (
        "block sending,block sending and receiving,warn only"
    )
    assert options["Sign-on to any mailbox"]["Options"] == "on,off"


def test_quota_policy_and_mailbox_signon_settings():
    defaults = settings_of({})
    assert (defaults.quota_policy, defaults.mailbox_signon) == ("BLOCKSEND", True)
    parsed = settings_of({"configoption7": "Block sending and receiving", "configoption8": "off"})
    assert (parsed.quota_policy, parsed.mailbox_signon) == ("BLOCKSENDRECEIVE", False)
    assert settings_of({"configoption7": "warn only"}).quota_policy == "ALLOWSENDRECEIVE"


def test_the_mailbox_a_client_asked_for_is_read_and_sent_back():
    read = ModuleParams.read({"signon_mailbox": " Anna@Firma.pl ", "domain": "firma.pl"})
    assert read.signon_mailbox == "Anna@Firma.pl"
    assert ModuleParams.read(read.to_wire()).signon_mailbox == "Anna@Firma.pl"
    assert "signon_mailbox" not in ModuleParams.read({}).to_wire()


def test_settings_defaults_and_parsing():
    defaults = settings_of({})
    assert (defaults.quota_mb, defaults.max_mailboxes, defaults.total_space_bytes) == (
        1024,
        0,
        None,
    )
    assert (defaults.cos, defaults.suspension_policy, defaults.tenancy) == ("", "locked", "domain")
    parsed = settings_of(
        params(
            configoption3="1,5",
            configoption4="premium",
            configoption5="Maintenance",
            configoption6="server",
        )
    )
    assert (parsed.quota_mb, parsed.max_mailboxes, parsed.total_space_gb) == (512, 20, 1.5)
    assert (parsed.cos, parsed.suspension_policy, parsed.tenancy) == (
        "premium",
        "maintenance",
        "server",
    )
    assert parsed.quota_bytes == 512 * MiB and parsed.total_space_bytes == int(1.5 * GiB)
    assert settings_of({"configoption3": "0"}).total_space_bytes is None
    assert ProductSettings.of(quota_mb=512, tenancy="server") == settings_of(
        {"configoption1": "512", "configoption6": "server"}
    )


@pytest.mark.parametrize(
    "text, gib",
    [
        ("50", 50),
        ("50 GB", 50),
        ("50GB", 50),
        ("1.5", 1.5),
        ("1,5 gb", 1.5),
        ("0", None),
        ("", None),
    ],
)
def test_total_space_setting_is_read_like_everywhere_else(text, gib):
    expected = int(gib * GiB) if gib else None
    assert settings_of({"configoption3": text}).total_space_bytes == expected
    # only setting 3 is read: a bad setting 5 does not matter here
    bad_policy = {"configoption3": text, "configoption5": "not a policy"}
    assert settings_of(bad_policy).total_space_bytes == expected


@pytest.mark.parametrize(
    "key, value, expect",
    [
        (
            "configoption1",
            "lots",
            "'Default mailbox quota (MB)' (configoption1) must be a whole number",
        ),
        ("configoption1", "-5", "configoption1"),
        ("configoption1", "1.5", "configoption1"),
        ("configoption2", "ten", "'Maximum mailboxes' (configoption2)"),
        ("configoption3", "big", "'Total space (GB)' (configoption3) must be a number"),
        ("configoption3", "nan", "configoption3"),
        (
            "configoption3",
            "-1",
            "'Total space (GB)' (configoption3) must be a number of GB, 0 or more",
        ),
        ("configoption3", "50 MB", "configoption3"),
        ("configoption5", "deleted", "must be one of locked, maintenance, closed"),
        ("configoption6", "cluster", "must be one of domain, server"),
        ("configoption7", "bounce", "must be one of block sending, block sending and receiving"),
        ("configoption8", "maybe", "must be one of on, off"),
    ],
)
def test_bad_settings_name_the_setting(key, value, expect):
    settings = settings_of({key: value})
    attr = SETTINGS[int(key.removeprefix("configoption")) - 1].attr
    with pytest.raises(ParamsError, match="product setting") as err:
        getattr(settings, attr)
    assert expect in str(err.value)
    others = [s.attr for s in SETTINGS if s.attr != attr]
    for other in others:  # every other setting still reads (its default)
        getattr(settings, other)


@pytest.mark.parametrize(
    "given, expect",
    [
        ("Firma.PL", "firma.pl"),
        (" firma.pl. ", "firma.pl"),
        ("zażółć.pl", "xn--za-6ja4f8n1l.pl"),
        ("a-b.c.example", "a-b.c.example"),
    ],
)
def test_domains_are_normalised(given, expect):
    assert normalize_domain(given) == expect


@pytest.mark.parametrize(
    "given, expect",
    [
        (None, "has no domain"),
        ("", "has no domain"),
        ("localhost", "invalid domain"),
        ("no space.pl", "invalid domain"),
        ("-a.pl", "invalid domain"),
        ("a..pl", "invalid domain"),
        ("a" * 64 + ".pl", "invalid domain"),
        ("firma.pl/../x", "invalid domain"),
        ("firma.p1", "invalid domain"),
    ],
)
def test_bad_domains(given, expect):
    with pytest.raises(ParamsError, match=expect):
        normalize_domain(given)


@pytest.mark.parametrize(
    "username, expect",
    [
        ("", "admin@firma.pl"),
        ("Biuro", "biuro@firma.pl"),
        ("jan.kowalski", "jan.kowalski@firma.pl"),
        ("biuro@firma.pl", "biuro@firma.pl"),
    ],
)
def test_primary_mailbox(username, expect):
    assert primary_mailbox(username, "firma.pl") == expect


@pytest.mark.parametrize(
    "username, expect",
    [
        ("a b", "invalid mailbox name"),
        (".jan", "invalid mailbox name"),
        ("jan..k", "invalid mailbox name"),
        ("x" * 65, "invalid mailbox"),
        ("jan@other.pl", "not in the service's domain firma.pl"),
    ],
)
def test_bad_mailbox_names(username, expect):
    with pytest.raises(ParamsError, match=expect):
        primary_mailbox(username, "firma.pl")


def test_service_target_reads_the_params():
    assert ModuleParams.read(params()).target == ServiceTarget(42, "firma.pl", "biuro@firma.pl")
    with pytest.raises(ParamsError, match="serviceid must be a number"):
        ModuleParams.read(params(serviceid="x1")).target


def test_service_id_is_parsed_once_with_one_error():
    read = ModuleParams.read(params(serviceid="x1"))
    for attempt in (lambda: read.service_id, read.require_service_id):
        with pytest.raises(ParamsError, match="serviceid must be a number, got 'x1'"):
            attempt()
    with pytest.raises(ParamsError, match="serviceid is missing"):
        ModuleParams.read({}).require_service_id()


def test_a_malformed_setting_breaks_only_what_reads_it():
    read = ModuleParams.read(params(configoption1="1 GB"))
    assert read.product.tenancy == "domain" and read.product.total_space_bytes == 10 * GiB
    with pytest.raises(ParamsError, match=r"'Default mailbox quota \(MB\)' \(configoption1\)"):
        read.product.quota_bytes


@pytest.mark.parametrize("value", ["0000-00-00", "-0001-11-30", "", None])
def test_zero_dates_are_no_date(value):
    read = ModuleParams.read(params(service={"nextduedate": value, "regdate": "2026-01-15"}))
    assert read.service.date("nextduedate") is None
    assert read.service.date("regdate") == dt.date(2026, 1, 15)


def test_bad_service_fields_name_the_field():
    read = ModuleParams.read(params(service={"regdate": "15.01.2026", "amount": "49 zł"}))
    with pytest.raises(ParamsError, match="service.regdate is not a date"):
        read.service.date("regdate")
    with pytest.raises(ParamsError, match="service.amount is not an amount"):
        read.service.amount("amount")
    assert ModuleParams.read(params(service={"amount": "49.00"})).service.amount("amount") == (
        Decimal("49.00")
    )


@pytest.mark.parametrize("block", ["clientsdetails", "service", "configoptions"])
def test_a_block_that_is_not_an_object_is_a_params_error(block):
    with pytest.raises(ParamsError, match=f"{block} must be an object"):
        ModuleParams.read(params(**{block: "x"}))


def test_server_fields_make_a_zimbra_entry():
    read = ModuleParams.read(
        params(
            serverid="3",
            serverhostname="mail1.example.com",
            serverport="",
            serversecure="on",
            serverusername="admin@example.com",
            serverpassword="s3cret",
        )
    )
    entry = read.server.zimbra_entry()
    assert (entry.name, entry.whmcs_server, entry.url) == (
        "mail1.example.com",
        3,
        "https://mail1.example.com:7071",
    )
    assert entry.admin_user == "admin@example.com" and entry.password == "s3cret"
    assert "s3cret" not in repr(read)


@pytest.mark.parametrize(
    "fields, url",
    [
        ({"serversecure": ""}, "https://mail1.example.com:7071"),
        ({"serversecure": "0", "serverport": "8443"}, "https://mail1.example.com:8443"),
        ({"serversecure": "on", "serverport": "7071"}, "https://mail1.example.com:7071"),
        ({"serverhostname": "", "serverip": "2001:db8::5"}, "https://[2001:db8::5]:7071"),
    ],
)
def test_a_params_only_server_is_reached_over_https_whatever_the_secure_box_says(fields, url):
    # Zimbra's admin port speaks HTTPS only: an unticked "Secure" box must not make it http://
    server = {
        "serverid": "3",
        "serverhostname": "mail1.example.com",
        "serverusername": "admin@example.com",
        "serverpassword": "s3cret",
    }
    entry = ModuleParams.read(params(**{**server, **fields})).server.zimbra_entry()
    assert (entry.url, entry.verify) == (url, True)


def test_the_typed_server_keeps_its_fields_and_takes_only_tls_settings_from_the_entry():
    from puq_bridge.config import ZimbraConfig

    typed = ModuleParams.read(
        params(
            serverid="3",
            serverhostname="10.0.0.9",
            serverport="7443",
            serverusername="typed@example.com",
            serverpassword="typed-pw",
        )
    ).server
    plain = ZimbraConfig("mail1", 3, "http://proxy.local:8080", "admin@x.pl", "entry-pw", True, 5)
    entry = typed.zimbra_entry(like=plain)
    assert (entry.url, entry.admin_user, entry.password, entry.timeout) == (
        "http://10.0.0.9:7443",
        "typed@example.com",
        "typed-pw",
        5,
    )
    tls = ZimbraConfig("mail1", 3, "https://mail1:7071", "a@x.pl", "pw", "/etc/ssl/ca.pem", 9)
    assert (typed.zimbra_entry(like=tls).url, typed.zimbra_entry(like=tls).verify) == (
        "https://10.0.0.9:7443",
        "/etc/ssl/ca.pem",
    )


@pytest.mark.parametrize(
    "fields, expect",
    [
        ({}, "no Zimbra server"),
        ({"serverhostname": "h.pl", "serverport": "70a"}, "serverport must be a port number"),
        ({"serverhostname": "h.pl", "serverusername": "a@h.pl"}, "no username or password"),
    ],
)
def test_bad_server_fields(fields, expect):
    with pytest.raises(ParamsError, match=expect):
        ModuleParams.read(params(**fields)).server.zimbra_entry()


def test_built_params_go_over_the_wire_and_read_back_the_same():
    built = ModuleParams.build(
        service_id=7,
        domain="firma.pl",
        username="biuro",
        password="pw-1234",
        product=ProductSettings.of(quota_mb=256, tenancy="server"),
        server=ServerParams("3", "mail1.example.com", "10.0.0.1", "7071", True, "adm", "spw"),
        client=ClientDetails("5", "polish", "PLN"),
        service={"regdate": "2026-01-15", "amount": "49.00"},
        options={"Total space (GB)": "2"},
        product_id=12,
    )
    wire = built.to_wire()
    assert set(wire) - {"configoptions", "customfields", "clientsdetails", "service"} <= set(
        PARAM_KEYS
    ) | {f"configoption{i}" for i in range(1, len(SETTINGS) + 1)}
    again = ModuleParams.read(wire)
    assert again.target == ServiceTarget(7, "firma.pl", "biuro@firma.pl")
    assert (again.product.quota_mb, again.product.tenancy) == (256, "server")
    assert again.server == built.server and again.client == built.client
    assert again.service.date("regdate") == dt.date(2026, 1, 15)
    assert again.options == {"Total space (GB)": "2"} and wire["pid"] == 12


def test_secrets_are_the_service_and_server_passwords():
    read = ModuleParams.read(params(serverpassword="srv-pass"))
    assert sorted(read.secrets()) == ["Start-Pass-123", "srv-pass"]
    with pytest.raises(ParamsError, match="no password") as err:
        ModuleParams.read(params(password="")).required_password()
    assert "Start-Pass" not in str(err.value)


def test_usage_update_rows_read_back_and_bad_ones_are_named():
    from puq_bridge.whmcs.params import HostingRow

    server = ServerParams(server_id="3", hostname="mail1.example.com")
    rows = [HostingRow(42, "firma.pl", 12, "Active", 118, 0)]
    wire = ModuleParams.usage_update(server, rows).to_wire()
    assert wire["services"] == [
        {
            "id": 42,
            "domain": "firma.pl",
            "pid": 12,
            "status": "Active",
            "diskusage": 118,
            "disklimit": 0,
        }
    ]
    (read,) = ModuleParams.read(wire).hosting
    assert read == HostingRow(42, "firma.pl", 12, "Active", 118, 0, 3, "mail1.example.com")
    assert read.config_options == {}
    odd = ModuleParams.read({"services": [{"id": "7", "diskusage": "n/a"}]}).hosting
    assert (odd[0].id, odd[0].disk_usage_mb, odd[0].product_id) == (7, 0, None)
    for services, message in (
        ("x", "services must be a list"),
        (["x"], r"services\[0\] must be an object"),
        ([{"id": "7"}, {"id": "seven"}], r"services\[1\].id must be a service id, got 'seven'"),
    ):
        with pytest.raises(ParamsError, match=message):
            ModuleParams.read({"services": services}).hosting
    with pytest.raises(ParamsError, match="regenerate it"):
        ModuleParams.read({"serverid": "3"}).hosting
