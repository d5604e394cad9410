"""A small stand-in of WHMCS's ``clientarea.php?action=productdetails`` for the demo's served pages
(``puq-bridge demo --serve``), so a newcomer can manage mailboxes and see the result.

- ``GET …&id=N[&lang=pl|en]``: the service's page, rendered now from the store (so it shows the
  state after an action), with WHMCS's result box of the last action above it.
- ``POST`` with ``modop=custom&a=FUNCTION`` (a self-service form): the module function, as WHMCS
  runs it, then the browser back to the page (post/redirect/get). With ``php`` installed the call
  goes through the real generated forwarder (written to a private temporary folder, the form's
  fields as ``$_POST`` on stdin, never on disk); else straight to the adapter, with what the
  forwarder would send.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

from puq_bridge.whmcs.params import ACTION_FIELDS, SERVICE_FIELDS

if TYPE_CHECKING:
    from puq_bridge.demo.run import DemoEnvironment

log = logging.getLogger(__name__)

MODULE = "puqdemo"
#: what the PHP side does: WHMCS's constant, a silent module log, the form as $_POST, one call.
_RUNNER = """<?php
define('WHMCS', true);
function logModuleCall() {}
list(, $dir, $name) = $argv;
require $dir . '/modules/servers/' . $name . '/' . $name . '.php';
$call = json_decode(file_get_contents('php://stdin'), true);
$_POST = $call['post'];
$params = $call['params'];
$params['model'] = $call['model'];
echo json_encode(['result' => call_user_func($name . '_' . $call['function'], $params)]);
"""
#: WHMCS's box after a module function that answered "success".
DONE = {"pl": "Operacja zakończona pomyślnie.", "en": "Action completed successfully."}
LANGS = ("pl", "en")


class PhpForwarder:
    """The generated forwarder run by ``php`` for one call at a time."""

    def __init__(self, php: str, adapter_url: str, secret: str):
        from whmcs_module.forwarder import write_forwarder

        self.php = php
        self._dir = tempfile.TemporaryDirectory(prefix="puq-demo-forwarder-")
        write_forwarder(MODULE, self._dir.name, adapter_url, secret)
        self.runner = Path(self._dir.name) / "runner.php"
        self.runner.write_text(_RUNNER, encoding="utf-8")

    def call(self, function: str, params: dict[str, Any], post: dict[str, str]) -> Any:
        """``NAME_FUNCTION($params)`` with ``post`` as ``$_POST``; its return value."""
        service = params.get("service") or {}
        model = {attr: service[key] for key, attr in SERVICE_FIELDS.items() if key in service}
        call = {"function": function, "params": params, "model": model, "post": post}
        done = subprocess.run(
            [self.php, str(self.runner), self._dir.name, MODULE],
            input=json.dumps(call),
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            log.warning("demo forwarder: php exited %s", done.returncode)
            return "The forwarder failed; see the demo's output."
        return json.loads(done.stdout)["result"]

    def close(self) -> None:
        """Remove the forwarder's folder (its config holds the secret)."""
        self._dir.cleanup()


class ProductDetailsDesk:
    """``clientarea.php?action=productdetails`` of the demo (see the module docstring)."""

    def __init__(self, env: "DemoEnvironment", *, php: str | None = None):
        self.env = env
        php = php if php is not None else shutil.which("php")
        self.php = PhpForwarder(php, env.forwarder.url, env.adapter_secret) if php else None

    def handles(self, request) -> bool:
        """True for the productdetails page and its self-service forms."""
        if request.path != "/clientarea.php" or request.values.get("dosinglesignon"):
            return False
        if request.method == "POST":
            return request.form.get("modop") == "custom" and request.form.get("a") in ACTION_FIELDS
        return request.args.get("action") == "productdetails"

    def answer(self, request):
        """The page (GET) or the action then a redirect to the page (POST)."""
        from werkzeug.wrappers import Response

        try:
            service_id = int(request.values.get("id", ""))
        except ValueError:
            service_id = 0
        if service_id not in self.env.by_service_id:
            return Response("not found\n", status=404, mimetype="text/plain")
        lang = self._lang(request)
        if request.method == "POST":
            function = request.form["a"]
            post = {k: request.form.get(k, "") for k in ACTION_FIELDS[function]}
            result = self._call(service_id, function, post)
            query = {"action": "productdetails", "id": service_id, "lang": lang}
            query.update({"done": "1"} if result == "success" else {"error": str(result)[:300]})
            return Response(
                status=303,
                headers={
                    "Location": "/clientarea.php?" + urlencode(query),
                    "Cache-Control": "no-store",
                },
            )
        notice = DONE[lang] if request.args.get("done") else request.args.get("error", "")
        page = self.page(service_id, lang, notice, error=not request.args.get("done"))
        return Response(page, mimetype="text/html", headers={"Cache-Control": "no-store"})

    def page(self, service_id: int, lang: str, notice: str = "", *, error: bool = False) -> str:
        """The service's page now, with WHMCS's result box (``notice``) above the tabs."""
        from puq_bridge.clientarea.facts import facts_from_service
        from puq_bridge.clientarea.options import PageOptions
        from puq_bridge.clientarea.render import Renderer

        env = self.env
        now = dt.datetime.now(dt.timezone.utc)
        whmcs = env.whmcs()
        service = whmcs.service(service_id)
        client = whmcs.client_details(service.client_id)
        entry = env.config.zimbra_for(service.server_id, service.server_hostname)
        product = env.by_service_id[service_id].product
        options = PageOptions.for_service(
            status=service.status,
            tenancy=product.tenancy,
            mailbox_signon=True,
            max_mailboxes=product.max_mailboxes,
            token="",
            default_quota_mb=product.module_settings().quota_mb,
        )
        markup = Renderer().page(
            facts_from_service(service, client, entry),
            env.store.latest(service_id),
            env.store.history(service_id, now=now),
            lang=lang,
            now=now,
            options=options,
        )
        if notice:
            kind = "danger" if error else "success"
            box = (
                f'<div class="alert alert-{kind}" role="alert" data-puq="action-result">'
                f"{html.escape(notice)}</div>\n"
            )
            markup = markup.replace('<div class="card">', box + '<div class="card">', 1)
        return markup

    def close(self) -> None:
        """Remove the PHP forwarder's folder."""
        if self.php is not None:
            self.php.close()

    def _call(self, service_id: int, function: str, post: dict[str, str]) -> Any:
        params = self.env.module_params(service_id)
        if self.php is not None:
            return self.php.call(function, params, post)
        return self.env.forwarder.call(function, {**params, "action": post})

    @staticmethod
    def _lang(request) -> str:
        lang = request.values.get("lang", "")
        if lang in LANGS:
            return lang
        referrer = urlsplit(request.headers.get("Referer", ""))
        asked = parse_qs(referrer.query).get("lang", [""])[0]  # this stand-in's own page
        if asked in LANGS:
            return asked
        for code in LANGS:  # a written page: service-N-pl.html
            if referrer.path.endswith(f"-{code}.html"):
                return code
        return LANGS[0]
