<?php
/*
 * The return-type checks of WHMCS's own module test (WHMCS/sample-provisioning-module, tests/WHMCSModuleTest.php, a
 * PHPUnit test) run on a generated module without PHPUnit: ConfigOptions must exist, and every function of the list
 * that the module defines is called with an empty params array and must return the type WHMCS expects.
 * Usage: php module_test.php MODULE_DIR NAME
 * Prints {"config_options": bool, "checks": {"Function": {"expected": type, "actual": type}}, "log": n} as JSON.
 */
define('WHMCS', true);

$GLOBALS['module_log'] = 0;

function logModuleCall($module, $action, $request, $response, $processed = '', $replace = [])
{
    $GLOBALS['module_log']++;
}

list(, $dir, $name) = $argv;
require $dir . '/' . $name . '.php';

$expected = [
    'ConfigOptions' => 'array',
    'MetaData' => 'array',
    'CreateAccount' => 'string',
    'SuspendAccount' => 'string',
    'UnsuspendAccount' => 'string',
    'TerminateAccount' => 'string',
    'ChangePassword' => 'string',
    'ChangePackage' => 'string',
    'TestConnection' => 'array',
    'AdminCustomButtonArray' => 'array',
    'ClientAreaCustomButtonArray' => 'array',
    'AdminServicesTabFields' => 'array',
    'AdminServicesTabFieldsSave' => 'null',
    'ServiceSingleSignOn' => 'array',
    'AdminSingleSignOn' => 'array',
    'ClientArea' => 'array',
];

$checks = [];
foreach ($expected as $function => $type) {
    if (!function_exists($name . '_' . $function)) {
        continue;
    }
    $result = call_user_func($name . '_' . $function, []);
    $actual = is_array($result) ? 'array' : (is_null($result) ? 'null' : (is_string($result) ? 'string' : gettype($result)));
    $checks[$function] = ['expected' => $type, 'actual' => $actual];
}
echo json_encode([
    'config_options' => function_exists($name . '_ConfigOptions'),
    'checks' => $checks,
    'log' => $GLOBALS['module_log'],
]);
