<?php
/*
 * Runs a generated forwarder module the way WHMCS would, without WHMCS.
 * Usage: php harness.php MODULE_DIR NAME CALLS.json
 * CALLS.json: [{"function": "CreateAccount", "params": {...}, "model": {...} | null, "post": {...}}, ...]
 * ("post": the client's form fields, as $_POST.)
 * Prints {"results": [...], "log": [...]} as JSON. Only WHMCS's own functions are stubbed (logModuleCall).
 * A function that redirects the browser prints its page and exits instead: run it as the only call.
 */
define('WHMCS', true);

$GLOBALS['module_log'] = [];

function logModuleCall($module, $action, $request, $response, $processed = '', $replace = [])
{
    $GLOBALS['module_log'][] = [
        'module' => $module, 'action' => $action, 'request' => $request,
        'response' => $response, 'processed' => $processed, 'replace' => $replace,
    ];
}

/** Stands in for WHMCS's Eloquent service model: attributes through __get/__isset, dates as Carbon-like objects. */
class FakeServiceModel
{
    private $attributes;

    public function __construct(array $attributes)
    {
        foreach (['regdate', 'nextduedate'] as $date) {
            if (isset($attributes[$date])) {
                $attributes[$date] = new DateTime($attributes[$date]);
            }
        }
        $this->attributes = $attributes;
    }

    public function __get($key)
    {
        return isset($this->attributes[$key]) ? $this->attributes[$key] : null;
    }

    public function __isset($key)
    {
        return isset($this->attributes[$key]);
    }
}

list(, $dir, $name, $callsFile) = $argv;
require $dir . '/' . $name . '.php';

$results = [];
foreach (json_decode(file_get_contents($callsFile), true) as $call) {
    $params = isset($call['params']) ? $call['params'] : [];
    if (isset($call['model'])) {
        $params['model'] = new FakeServiceModel($call['model']);
    }
    $_POST = isset($call['post']) ? $call['post'] : [];
    $results[] = call_user_func($name . '_' . $call['function'], $params);
}
echo json_encode(['results' => $results, 'log' => $GLOBALS['module_log']], JSON_UNESCAPED_SLASHES);
