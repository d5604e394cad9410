"""Loading and validating the TOML config: error messages naming file and key, search order, secret
warnings."""

import logging
import os

import pytest

from puq_bridge.config import ENV_CONFIG, find_config, load_config, split_listen
from puq_bridge.errors import ConfigError

ENV = {
    "WHMCS_API_SECRET": "whmcs-s3cret",
    "ZIMBRA_MAIL1_PASSWORD": "zimbra-s3cret",
    "PUQ_BRIDGE_SECRET": "adapter-s" + "x" * 31,
}

WHMCS = """[whmcs]
url = "https://billing.example.com/"
identifier = "api-id"
secret_env = "WHMCS_API_SECRET"
"""

ZIMBRA = """
[[zimbra]]
name = "mail1"
whmcs_server = 3
url = "https://mail1.example.com:7071"
admin_user = "admin@example.com"
password_env = "ZIMBRA_MAIL1_PASSWORD"
"""

FULL = (
    WHMCS
    + ZIMBRA
    + """
[[zimbra]]
name = "mail2"
whmcs_server = "Mail2.Example.com"
url = "https://mail2.example.com:7071"
admin_user = "admin@example.com"
password = "literal-pw"
verify = false

[sync]
products = [12, 14]
concurrency = 4

[adapter]
listen = "[::1]:8750"
secret_env = "PUQ_BRIDGE_SECRET"
"""
)


def write(tmp_path, text, name="puq-bridge.toml", mode=0o600):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def test_full_config_loads_with_types(tmp_path):
    cfg = load_config(write(tmp_path, FULL), env=ENV)
    assert cfg.whmcs.url == "https://billing.example.com" and cfg.whmcs.secret == "whmcs-s3cret"
    assert (cfg.whmcs.verify, cfg.whmcs.timeout, cfg.whmcs.access_key) == (True, 30.0, None)
    assert [z.name for z in cfg.zimbra] == ["mail1", "mail2"]
    assert cfg.zimbra[1].password == "literal-pw" and cfg.zimbra[1].verify is False
    assert cfg.sync.products == (12, 14) and cfg.sync.concurrency == 4
    assert cfg.adapter.host_port == ("::1", 8750) and cfg.adapter.secret == ENV["PUQ_BRIDGE_SECRET"]
    for secret in ("whmcs-s3cret", "zimbra-s3cret", "literal-pw", "adapter-s"):
        assert secret not in repr(cfg)


def test_zimbra_for_by_id_and_by_hostname(tmp_path):
    cfg = load_config(write(tmp_path, FULL), env=ENV)
    assert cfg.zimbra_for(server_id=3).name == "mail1"
    assert cfg.zimbra_for(server_id="3").name == "mail1"  # WHMCS params carry strings
    assert cfg.zimbra_for(server_id=9, hostname="mail2.example.com ").name == "mail2"
    assert cfg.zimbra_for(server_id=9, hostname="mail9.example.com") is None
    assert cfg.zimbra_for() is None
    assert (
        cfg.zimbra_named("mail2").url == "https://mail2.example.com:7071"
        and cfg.zimbra_named("x") is None
    )


@pytest.mark.parametrize(
    "text, env, key, message",
    [
        (WHMCS + "colour = 'blue'\n", ENV, "whmcs.colour", "unknown key"),
        (WHMCS + "[extra]\n", ENV, "extra", "unknown key"),
        (
            WHMCS + ZIMBRA.replace('admin_user = "admin@example.com"\n', ""),
            ENV,
            "zimbra[0].admin_user",
            "missing required key",
        ),
        (
            WHMCS.replace('identifier = "api-id"\n', ""),
            ENV,
            "whmcs.identifier",
            "missing required key",
        ),
        (
            WHMCS.replace('secret_env = "WHMCS_API_SECRET"\n', ""),
            ENV,
            "whmcs.secret",
            "missing required key",
        ),
        ("[sync]\n", ENV, "whmcs", "missing required section"),
        (WHMCS + "timeout = 'slow'\n", ENV, "whmcs.timeout", "must be int or float, got str"),
        (WHMCS + "timeout = true\n", ENV, "whmcs.timeout", "must be int or float, got bool"),
        (WHMCS + "timeout = 0\n", ENV, "whmcs.timeout", "must be greater than 0"),
        (
            WHMCS + ZIMBRA.replace("whmcs_server = 3", "whmcs_server = 3.5"),
            ENV,
            "zimbra[0].whmcs_server",
            "a server id (int) or hostname (str)",
        ),
        (WHMCS + "[sync]\nproducts = ['12']\n", ENV, "sync.products", "list of WHMCS product ids"),
        (WHMCS, {}, "whmcs.secret_env", "environment variable WHMCS_API_SECRET is not set"),
        (
            WHMCS + "verify = '/nonexistent/ca.pem'\n",
            ENV,
            "whmcs.verify",
            "CA bundle not found: /nonexistent/ca.pem",
        ),
        (
            WHMCS + "secret = 'inline'\n",
            ENV,
            "whmcs.secret",
            "give either secret or secret_env, not both",
        ),
        (WHMCS + ZIMBRA + ZIMBRA, ENV, "zimbra[1].name", "duplicate server name 'mail1'"),
        (WHMCS + "[adapter]\nlisten = '8750'\n", ENV, "adapter.listen", "expected HOST:PORT"),
        (
            WHMCS + "[adapter]\nlisten = 'localhost:99999'\n",
            ENV,
            "adapter.listen",
            "expected HOST:PORT",
        ),
        (
            WHMCS.replace("https://billing", "ftp://billing"),
            ENV,
            "whmcs.url",
            "must be an http:// or https:// URL",
        ),
        (WHMCS + "[zimbra]\nname = 'x'\n", ENV, "zimbra", "must be an array of tables"),
        (
            WHMCS + ZIMBRA + "max_requests_per_second = -1\n",
            ENV,
            "zimbra[0].max_requests_per_second",
            "must be 0 (no limit) or a number of requests a second",
        ),
        (
            WHMCS + ZIMBRA + "read_plan = 'fast'\n",
            ENV,
            "zimbra[0].read_plan",
            "must be one of 'auto', 'server', 'domain', got 'fast'",
        ),
        (WHMCS + "[sync]\npage_rows = 10\n", ENV, "sync.page_rows", "must be at least 100"),
        (
            WHMCS.replace('secret_env = "WHMCS_API_SECRET"', 'secret = ""'),
            ENV,
            "whmcs.secret",
            "must not be empty",
        ),
    ],
)
def test_errors_name_file_and_key(tmp_path, text, env, key, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path, env=env)
    assert (err.value.file, err.value.key) == (str(path), key)
    assert str(err.value).startswith(f"{path}: {key}: ") and message in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "text, message", [("[whmcs\n", "not valid TOML"), (b"\xff\xfe", "not valid TOML")]
)
def test_unreadable_documents(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ConfigError, match=message) as err:
        load_config(path, env=ENV)
    assert err.value.file == str(path)


def test_secret_value_never_in_type_errors(tmp_path):
    path = write(tmp_path, WHMCS.replace('secret_env = "WHMCS_API_SECRET"', "secret = 123456789"))
    with pytest.raises(ConfigError, match="whmcs.secret: must be str") as err:
        load_config(path, env=ENV)
    assert "123456789" not in str(err.value)


# --- search order ---------------------------------------------------------------------------------


@pytest.fixture
def places(tmp_path, monkeypatch):
    """An empty working directory and HOME, with no $PUQ_BRIDGE_CONFIG."""
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir(), home.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv(ENV_CONFIG, raising=False)
    return work, home


def test_search_order(places, tmp_path):
    work, home = places
    user = home / ".config" / "puq-bridge" / "config.toml"
    user.parent.mkdir(parents=True)
    write(user.parent, WHMCS, "config.toml")
    assert find_config(env={}) == user
    local = write(work, WHMCS)
    assert find_config(env={}).resolve() == local
    named = write(tmp_path, WHMCS, "named.toml")
    assert find_config(env={ENV_CONFIG: str(named)}) == named
    explicit = write(tmp_path, WHMCS, "explicit.toml")
    assert find_config(explicit, env={ENV_CONFIG: str(named)}) == explicit


def test_environment_variable_used_by_load_config(places, tmp_path, monkeypatch):
    named = write(tmp_path, WHMCS.replace("api-id", "from-env"), "named.toml")
    monkeypatch.setenv(ENV_CONFIG, str(named))
    monkeypatch.setenv("WHMCS_API_SECRET", "x-secret")
    cfg = load_config()
    assert (cfg.whmcs.identifier, cfg.path) == ("from-env", named)


def test_named_file_missing_and_nothing_found(places, tmp_path):
    with pytest.raises(ConfigError, match="config file not found") as err:
        find_config(tmp_path / "nope.toml", env={})
    assert err.value.file == str(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="missing.toml: config file not found"):
        find_config(env={ENV_CONFIG: str(tmp_path / "missing.toml")})
    if not os.path.exists("/etc/puq-bridge/config.toml"):
        with pytest.raises(
            ConfigError, match=r"no config file: give --config or \$PUQ_BRIDGE_CONFIG"
        ):
            find_config(env={})


# --- literal secrets in readable files ------------------------------------------------------------


@pytest.mark.parametrize(
    "mode, literal, warned",
    [
        (0o644, True, True),
        (0o640, True, True),
        (0o600, True, False),
        (0o644, False, False),
    ],
)
def test_warning_for_readable_file_with_literal_secret(tmp_path, caplog, mode, literal, warned):
    text = (
        FULL
        if literal
        else FULL.replace('password = "literal-pw"', 'password_env = "ZIMBRA_MAIL1_PASSWORD"')
    )
    path = write(tmp_path, text, mode=mode)
    with caplog.at_level(logging.WARNING, logger="puq_bridge.config"):
        load_config(path, env=ENV)
    assert ("zimbra[1].password" in caplog.text and "chmod 600" in caplog.text) is warned
    assert "literal-pw" not in caplog.text


def test_split_listen():
    assert split_listen("127.0.0.1:8750") == ("127.0.0.1", 8750)
    with pytest.raises(ValueError):
        split_listen(":8750")


@pytest.mark.parametrize("lang", ["pl", "en"])
def test_default_lang_of_a_shipped_catalog(tmp_path, lang):
    cfg = load_config(write(tmp_path, WHMCS + f"[render]\ndefault_lang = '{lang}'\n"), env=ENV)
    assert cfg.render.default_lang == lang


def test_default_lang_from_an_operators_catalog(tmp_path):
    (tmp_path / "tpl" / "i18n").mkdir(parents=True)
    (tmp_path / "tpl" / "i18n" / "de.json").write_text("{}", encoding="utf-8")
    text = WHMCS + f"[render]\ntemplates_dir = '{tmp_path / 'tpl'}'\ndefault_lang = 'de'\n"
    assert load_config(write(tmp_path, text), env=ENV).render.default_lang == "de"


@pytest.mark.parametrize("toml_value", ["'de'", "''", "'../en'", "'EN'", '"pl\\n"'])
def test_default_lang_without_a_catalog_names_the_key(tmp_path, toml_value):
    (tmp_path / "tpl").mkdir()  # an operator's folder without i18n/de.json
    path = write(
        tmp_path,
        WHMCS + f"[render]\ntemplates_dir = '{tmp_path / 'tpl'}'\ndefault_lang = {toml_value}\n",
    )
    with pytest.raises(ConfigError) as err:
        load_config(path, env=ENV)
    assert (err.value.file, err.value.key) == (str(path), "render.default_lang")
    assert "no translations for" in str(err.value) and "use pl or en" in str(err.value)
    assert "\n" not in str(err.value)


def test_request_rate_read_plan_and_page_rows(tmp_path):
    from puq_bridge.config import parse_config

    zimbra = {
        "name": "mail1",
        "whmcs_server": 3,
        "url": "https://mail1.example.com:7071",
        "admin_user": "admin@example.com",
        "password": "pw",
    }
    raw = {
        "whmcs": {"url": "https://b.example.com", "identifier": "i", "secret": "s"},
        "zimbra": [zimbra, {**zimbra, "name": "mail2", "max_requests_per_second": 0}],
        "sync": {"page_rows": 50_000},
    }
    config = parse_config(raw, tmp_path / "c.toml", {})
    first, second = config.zimbra
    assert (first.max_requests_per_second, first.read_plan) == (20.0, "auto")  # under Zimbra's 30
    assert second.max_requests_per_second is None  # 0: no limit (zimbraHttpThrottleSafeIPs)
    assert config.sync.page_rows == 50_000


def test_ignore_servers_take_ids_and_hostnames(tmp_path):
    from puq_bridge.config import parse_config

    raw = {
        "whmcs": {"url": "https://b.example.com", "identifier": "i", "secret": "s"},
        "sync": {"ignore_servers": [7, "Old.Example.com"]},
    }
    sync = parse_config(raw, tmp_path / "c.toml", {}).sync
    assert (
        sync.ignores(7, None) and sync.ignores("7", "x") and sync.ignores(None, "old.example.COM")
    )
    assert not sync.ignores(8, "new.example.com")
    with pytest.raises(ConfigError, match="sync.ignore_servers"):
        parse_config(dict(raw, sync={"ignore_servers": [True]}), tmp_path / "c.toml", {})


@pytest.mark.parametrize(
    "secret, expect",
    [("x", "too short (1 characters)"), ("change-me-to-64-random-hex-characters", "placeholder")],
)
def test_a_weak_adapter_secret_is_refused(tmp_path, secret, expect):
    env = dict(ENV, PUQ_BRIDGE_SECRET=secret)
    with pytest.raises(ConfigError, match="adapter.secret") as err:
        load_config(write(tmp_path, FULL, mode=0o600), env=env)
    assert expect in str(err.value) and "puq-bridge secret" in str(err.value)


def test_the_secret_command_prints_a_strong_secret():
    from click.testing import CliRunner

    from puq_bridge.cli import main

    first, second = (CliRunner().invoke(main, ["secret"]).stdout.strip() for _ in range(2))
    assert len(first) >= 40 and first != second and first.isprintable() and " " not in first
# --- [store]: SQLite path or PostgreSQL url -------------------------------------------------------


def test_store_is_sqlite_by_default_and_postgresql_with_a_url(tmp_path):
    cfg = load_config(
        write(tmp_path, WHMCS + "[store]\npath = '/var/lib/x/usage.sqlite3'\n"), env=ENV
    )
    assert cfg.store.url is None and str(cfg.store.path) == "/var/lib/x/usage.sqlite3"
    text = WHMCS + (
        "[store]\nurl = 'postgresql://bridge@db.example.com:5432/puqbridge'\n"
        "password_env = 'DB_PW'\ntimeout = 3\n"
    )
    cfg = load_config(write(tmp_path, text), env={**ENV, "DB_PW": "db-s3cret"})
    assert cfg.store.url == "postgresql://bridge@db.example.com:5432/puqbridge"
    assert (cfg.store.password, cfg.store.timeout) == ("db-s3cret", 3.0)
    assert cfg.store.secrets == ["db-s3cret"] and "db-s3cret" not in repr(cfg)


def test_store_url_from_the_environment_may_carry_the_password(tmp_path):
    url = "postgresql://bridge:in-url-pw@db.example.com/puqbridge"
    cfg = load_config(
        write(tmp_path, WHMCS + "[store]\nurl_env = 'DB_URL'\n"), env={**ENV, "DB_URL": url}
    )
    assert cfg.store.url == url and cfg.store.secrets == ["in-url-pw"]
    assert "in-url-pw" not in repr(cfg)


@pytest.mark.parametrize(
    "store, env, key, message",
    [
        (
            "path = '/x.sqlite3'\nurl = 'postgresql://u@h/db'",
            {},
            "store.url",
            "give either path (SQLite) or url (PostgreSQL), not both",
        ),
        ("url = 'mysql://u:pw@h/db'", {}, "store.url", "must be a postgresql://"),
        ("url_env = 'DB_URL'", {"DB_URL": "https://u:pw@h/db"}, "store.url_env", "got https://..."),
        ("url = 'postgresql://u@h'", {}, "store.url", "names no database"),
        ("password = 'pw-alone'", {}, "store.password", "a password is for a PostgreSQL url"),
        ("url_env = 'DB_URL'", {}, "store.url_env", "environment variable DB_URL is not set"),
        ("url = 'postgresql://u@h/db'\ntimeout = 0", {}, "store.timeout", "greater than 0"),
    ],
)
def test_store_errors_name_the_key_and_never_the_password(tmp_path, store, env, key, message):
    path = write(tmp_path, WHMCS + f"[store]\n{store}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, env={**ENV, **env})
    assert err.value.key == key and message in str(err.value)
    assert "pw" not in str(err.value).replace(str(path), "")
