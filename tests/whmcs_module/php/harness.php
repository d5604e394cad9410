<?php
/*
 * Runs a generated forwarder module the way WHMCS would, without WHMCS.
 * Usage: php harness.php MODULE_DIR NAME CALLS.json
 * CALLS.json: [{"function": "CreateAccount", "params": {...}, "model": {...} | null, "post": {...}}, ...]
 * ("post": the client's form fields, as $_POST), or {"calls": [...], "db": {"tblhosting": [rows], ...},
 * "failing": ["table", ...]} to give the module WHMCS's database layer (capsule.php beside this file, a
 * stand-in for WHMCS\Database\Capsule holding those tables).
 * Prints {"results": [...], "log": [...]} as JSON, plus "db" (the tables after the calls) and "queries" with a db.
 * Only WHMCS's own functions and classes are stubbed (logModuleCall, the service model, Capsule).
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

/** Stands in for Carbon, which WHMCS's models return for date columns: a DateTime that prints itself. */
class FakeCarbon extends DateTime
{
    public function __toString(): string
    {
        return $this->format('Y-m-d H:i:s');
    }
}

/**
 * Stands in for WHMCS's Eloquent service model: attributes through __get/__isset. regdate and nextduedate given as
 * strings become DateTime objects; any attribute given as {"DateTime": "..."} or {"Carbon": "..."} becomes that object
 * (WHMCS keeps 0000-00-00 for "no date", and PHP turns it into -0001-11-30), {"raw": "..."} stays the string.
 */
class FakeServiceModel
{
    private $attributes;

    public function __construct(array $attributes)
    {
        foreach ($attributes as $key => $value) {
            if (is_array($value) && isset($value['DateTime'])) {
                $attributes[$key] = new DateTime($value['DateTime']);
            } elseif (is_array($value) && isset($value['Carbon'])) {
                $attributes[$key] = new FakeCarbon($value['Carbon']);
            } elseif (is_array($value) && isset($value['raw'])) {
                $attributes[$key] = $value['raw'];
            } elseif (in_array($key, ['regdate', 'nextduedate'], true) && is_string($value)) {
                $attributes[$key] = new DateTime($value);
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

$input = json_decode(file_get_contents($callsFile), true);
$calls = isset($input['calls']) ? $input['calls'] : $input;
if (isset($input['db'])) {
    require __DIR__ . '/capsule.php';
    \WHMCS\Database\Capsule::$tables = $input['db'];
    \WHMCS\Database\Capsule::$failing = isset($input['failing']) ? $input['failing'] : [];
}

$results = [];
foreach ($calls as $call) {
    $params = isset($call['params']) ? $call['params'] : [];
    if (isset($call['model'])) {
        $params['model'] = new FakeServiceModel($call['model']);
    }
    $_POST = isset($call['post']) ? $call['post'] : [];
    $results[] = call_user_func($name . '_' . $call['function'], $params);
}
$output = ['results' => $results, 'log' => $GLOBALS['module_log']];
if (isset($input['db'])) {
    $output['db'] = \WHMCS\Database\Capsule::$tables;
    $output['queries'] = \WHMCS\Database\Capsule::$queries;
}
echo json_encode($output, JSON_UNESCAPED_SLASHES);
