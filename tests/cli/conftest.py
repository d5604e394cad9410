"""The CLI tests: one file per command module of ``puq_bridge.cli`` (``test_main`` for the group
itself).

Commands run through click's CliRunner (or as real processes) against the simulators served on
loopback, with a config file written to the test's tmp_path by ``tests.cli.support.write_bridge``
(secrets only through ``*_env``). Suite-wide fixtures (``fake_whmcs``, ``whmcs_server``,
``fake_zimbra``, ``zimbra_server``...) come from tests/support/; this folder has none of its own.
"""
