"""The adapter's mailbox self-service functions (client area): CreateMailbox, DeleteMailbox,
SetMailboxPassword, SetMailboxQuota, AddAlias, RemoveAlias and SetForwarding.

The forwarder passes each function's form fields (:data:`~puq_bridge.whmcs.params.ACTION_FIELDS`)
as ``action``; :class:`~puq_bridge.selfservice.MailboxActions` checks and runs the action. Each
answers as WHMCS expects of a client-area function: ``"success"``, or the refusal in the client's
language, naming the field (``selfservice.field.*`` and ``selfservice.error.*``); the precise cause
goes to the log and the audit only.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Callable

from puq_bridge.errors import ParamsError, PuqBridgeError, SelfServiceError
from puq_bridge.selfservice import ActionRequest, MailboxActions, Plan
from puq_bridge.whmcs.params import ACTION_FIELDS, ModuleParams

if TYPE_CHECKING:
    from whmcs_module.context import AdapterContext

log = logging.getLogger(__name__)

#: ClientAreaAllowedFunctions entries of the self-service forms (label → function).
CLIENT_FUNCTIONS = {
    "Create a mailbox": "CreateMailbox",
    "Delete a mailbox": "DeleteMailbox",
    "Set a mailbox password": "SetMailboxPassword",
    "Set a mailbox quota": "SetMailboxQuota",
    "Add an alias": "AddAlias",
    "Remove an alias": "RemoveAlias",
    "Set forwarding": "SetForwarding",
}
#: what a client is told when no catalog can be read.
FALLBACK_MESSAGE = "The change could not be made. Please try again later or contact support."


def action_request(function: str, params: ModuleParams, ctx: "AdapterContext") -> ActionRequest:
    """The checked-to-be request of one client action, from WHMCS's params (raises
    :class:`ParamsError` for a malformed service or product setting)."""
    target = params.target
    product = params.product
    entry = ctx.entry_for(params.server)
    return ActionRequest(
        function=function,
        fields={k: params.action_field(k) for k in ACTION_FIELDS[function]},
        service_id=params.require_service_id(),
        domain=target.domain,
        primary=target.mailbox,
        tenancy=product.tenancy,
        status=params.service.text("status") or params.status,
        plan=Plan(
            max_mailboxes=product.max_mailboxes,
            total_space_bytes=product.total_space_bytes,
            default_quota_mb=product.quota_mb,
            cos=product.cos,
        ),
        user_id=params.client.client_id,
        protected=(entry.admin_user.lower(),),
    )


def run_action(function: str, params: ModuleParams, ctx: "AdapterContext") -> str:
    """Run one self-service function: ``"success"`` or the client's message."""
    try:
        request = action_request(function, params, ctx)
        entry = ctx.entry_for(params.server)
        actions = MailboxActions(
            ctx.zimbra(entry),
            store=ctx.store,
            policies=ctx.password_policies,
            locks=ctx.address_locks,
        )
        actions.run(request)
    except SelfServiceError as err:
        log.warning(
            "%s refused for service %s (%s): %s", function, params.service_id_text, err.reason, err
        )
        return client_message(err, params, ctx)
    except (ParamsError, PuqBridgeError) as err:
        log.warning("%s failed for service %s: %s", function, params.service_id_text, err)
        return client_message(SelfServiceError("unavailable", str(err)), params, ctx)
    ctx.render_cache.clear()  # the page shows the change now, not in a minute
    return "success"


def client_message(err: SelfServiceError, params: ModuleParams, ctx: "AdapterContext") -> str:
    """The refusal in the client's language: "<field>: <reason>" (the reason alone without a
    field)."""
    try:
        renderer = ctx.renderer
        catalog = renderer.catalog(renderer.language_for(params.client.language or None))
        key = f"selfservice.error.{err.reason}"
        if not catalog.has(key):
            key = "selfservice.error.unavailable"
        text = catalog.text(key, **err.values) if err.values else catalog.text(key)
        field_key = f"selfservice.field.{err.field}"
        if err.field and catalog.has(field_key):
            return f"{catalog.text(field_key)}: {text}"
        return text
    except Exception as err2:  # a broken catalog must not hide the refusal
        log.warning("self-service message: translations unavailable (%s)", err2)
        return FALLBACK_MESSAGE


def _function(name: str) -> Callable[[ModuleParams, "AdapterContext"], str]:
    def handler(params: ModuleParams, ctx: "AdapterContext") -> str:
        return run_action(name, params, ctx)

    handler.__name__ = handler.__qualname__ = name
    handler.__doc__ = f"{name} (client area): see :mod:`whmcs_module.selfservice_views`."
    return handler


#: adapter functions, one per self-service form.
FUNCTIONS = {name: _function(name) for name in ACTION_FIELDS}
