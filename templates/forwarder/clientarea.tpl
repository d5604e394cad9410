{* puq-bridge: the client-area tabs, rendered (and escaped) by the bridge. *}
{$puqbridge_html nofilter}
