{* puq-bridge: the client-area tabs, rendered (and escaped) by the bridge; its sign-on forms get
   WHMCS's CSRF token here, as the bridge never sees it. *}
{$puqbridge_html|replace:'__PUQ_CSRF_TOKEN__':$token nofilter}
