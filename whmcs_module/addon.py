"""The addon module's functions: ``POST /whmcs/addon/<Function>`` → the HTML WHMCS shows on the
bridge's own admin page (``NAME_output``) and beside it (``NAME_sidebar``).

Kept apart from the server module's :data:`~whmcs_module.adapter.FUNCTIONS`, on a path of their
own, so an addon call can never be taken for a provisioning call or the other way round.
:func:`dispatch_addon` never raises: a failure becomes a readable box for the admin, with secrets
masked. An action ("Sync now", "Test now") runs only when the forwarder says WHMCS's form token
matched; it starts a job in the background (:class:`~puq_bridge.admin.jobs.AdminJobs`) and the page
shows its progress.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Mapping

from puq_bridge import __version__
from puq_bridge.admin.jobs import AdminJobs
from puq_bridge.admin.query import AddonRequest
from puq_bridge.admin.render import AdminRenderer
from puq_bridge.admin.view import UsageOverview, build_view
from puq_bridge.errors import ParamsError, PuqBridgeError
from puq_bridge.logs import mask_secrets

if TYPE_CHECKING:  # pragma: no cover
    from whmcs_module.context import AdapterContext

log = logging.getLogger(__name__)

#: seconds one socket read of the background WHMCS servers lookup may wait.
WHMCS_LOOKUP_TIMEOUT = 5.0


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class AddonState:
    """The addon page's state in one bridge process: its jobs and checks, its renderer, and the
    usage overview of the newest recorded run (rebuilt when a run is recorded).

    Args:
        ctx: the adapter's context (config, store, clients).
        clock: the current aware datetime.
    """

    def __init__(self, ctx: "AdapterContext", *, clock: Callable[[], dt.datetime] = _now):
        self.ctx, self.clock = ctx, clock
        self.renderer = AdminRenderer.from_config(ctx.config.render)
        self.jobs = AdminJobs(
            sync=self._sync,
            test=self._test,
            domains=self._domains,
            whmcs_servers=self._whmcs_servers if ctx.whmcs is not None else None,
            clock=clock,
            scrub=lambda text: mask_secrets(text, ctx.secrets()),
        )
        self._overview: UsageOverview | None = None
        self._lock = threading.Lock()

    # --- what the jobs do ------------------------------------------------------------------------

    def _entry(self, server: str):
        entry = self.ctx.config.zimbra_named(server)
        if entry is None:
            raise ParamsError(f"{server} is not a [[zimbra]] entry of the bridge's config")
        return entry

    def _sync(self, server: str | None, progress: Callable[[int, int], None]):
        from puq_bridge.usage.sync import SyncEngine

        ctx = self.ctx
        if ctx.whmcs is None:
            raise ParamsError("the usage sync needs the WHMCS API ([whmcs] in the config)")
        servers = [self._entry(server)] if server else None
        engine = SyncEngine.from_config(
            ctx.config, ctx.whmcs, ctx.zimbra, store=ctx.store, servers=servers
        )
        return engine.run(
            only_servers=[server] if server else None,
            progress=lambda result, done, total: progress(done, total),
            origin="addon",
        )

    def _test(self, server: str) -> str:
        zimbra = self.ctx.zimbra(self._entry(server))
        zimbra.authenticate()
        info = zimbra.version_info()
        return f"{info.version} ({info.host})" if info.host else info.version

    def _domains(self, server: str) -> list[str]:
        return [d.name for d in self.ctx.zimbra(self._entry(server)).all_domains()]

    def _whmcs_servers(self) -> list:
        from whmcs_module.payment_methods import quick_client

        return quick_client(self.ctx.whmcs, WHMCS_LOOKUP_TIMEOUT).servers()

    # --- the page --------------------------------------------------------------------------------

    def overview(self) -> UsageOverview | None:
        """The usage overview of the newest recorded run (``None`` without a store)."""
        store = self.ctx.store
        if store is None:
            return None
        last = store.last_run_id()
        cached = self._overview
        if cached is not None and cached.run_id == last:
            return cached
        with self._lock:
            if self._overview is None or self._overview.run_id != store.last_run_id():
                self._overview = UsageOverview.build(store)
            return self._overview

    def act(self, request: AddonRequest) -> tuple[str, dict[str, Any]] | None:
        """Run the request's action, if any; returns the notice (catalog key, values) to show."""
        action = request.action
        if action is None:
            return None
        who = f"admin {request.admin_id}" if request.admin_id else "an admin"
        if not action.token_ok:
            log.warning("addon: %s refused: WHMCS's form token did not match", action.name)
            return "notice.refused_token", {}
        server = action.server or None
        if server is not None and self.ctx.config.zimbra_named(server) is None:
            return "notice.refused_server", {"server": server}
        if action.name == "test":
            if server is None:
                return "notice.refused_nothing", {}
            job, started = self.jobs.start_test(server, by=who)
            return ("notice.test_started" if started else "notice.test_busy"), {"server": server}
        job, started = self.jobs.start_sync(server, by=who)
        name = job.server or "*"
        return ("notice.sync_started" if started else "notice.busy"), {"server": name}

    def view(self, request: AddonRequest, notice=None):
        """The page's data for ``request``."""
        ctx = self.ctx
        return build_view(
            request,
            store=ctx.store,
            servers=ctx.config.zimbra,
            jobs=self.jobs,
            overview=self.overview(),
            bridge_version=__version__,
            now=self.clock(),
            notice=notice,
        )


def output(request: AddonRequest, ctx: "AdapterContext") -> dict:
    """Output: run the action the admin sent (if any), then the whole page."""
    state: AddonState = ctx.addon
    notice = state.act(request)
    if notice and notice[1].get("server") == "*":
        catalog = state.renderer.catalog(request.lang)
        notice = (notice[0], {"server": catalog.text("jobs.all_servers")})
    return {"html": state.renderer.output(state.view(request, notice))}


def sidebar(request: AddonRequest, ctx: "AdapterContext") -> dict:
    """Sidebar: the last runs, a job under way, links to the sections."""
    state: AddonState = ctx.addon
    return {"html": state.renderer.sidebar(state.view(request))}


ADDON_FUNCTIONS: dict[str, Callable[[AddonRequest, "AdapterContext"], dict]] = {
    "Output": output,
    "Sidebar": sidebar,
}


def dispatch_addon(function: str, params: Mapping[str, Any], ctx: "AdapterContext") -> dict:
    """Run one addon function; returns ``{"html": ...}``. Never raises and never returns a
    secret: a failure becomes a readable box naming what failed (details in the log)."""
    handler = ADDON_FUNCTIONS.get(function)
    if handler is None:
        return {"html": _error_box(f"unknown addon function {str(function)[:60]!r}", None)}
    started = time.perf_counter()
    request = AddonRequest()
    try:
        request = AddonRequest.read(params)
        result, outcome = handler(request, ctx), "ok"
    except PuqBridgeError as err:
        message = mask_secrets(str(err), ctx.secrets())
        log.warning("addon %s: %s", function, message)
        result, outcome = {"html": _error_box(message, ctx, request)}, "error"
    except Exception as err:  # a bug must not reach WHMCS as a traceback
        log.error("addon %s failed unexpectedly: %s", function, type(err).__name__)
        log.debug("addon %s traceback", function, exc_info=True)
        message = f"internal error in {function} ({type(err).__name__}); see the puq-bridge log"
        result, outcome = {"html": _error_box(message, ctx, request)}, "error"
    elapsed = (time.perf_counter() - started) * 1000
    log.info("addon %s %s in %.1f ms", function, outcome, elapsed)
    return result


def _error_box(message: str, ctx, request: AddonRequest | None = None) -> str:
    title = "puq-bridge could not draw this page."
    try:
        if ctx is not None and request is not None:
            title = ctx.addon.renderer.catalog(request.lang).text("error.title")
    except Exception:  # a broken catalog must not hide the error itself
        log.debug("addon: catalog unavailable for the error box", exc_info=True)
    return (
        '<div class="alert alert-danger" role="alert" data-puq="addon-error">'
        f"<strong>{html.escape(title)}</strong> {html.escape(message)}</div>"
    )
