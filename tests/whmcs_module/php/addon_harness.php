<?php
/*
 * Runs a generated addon module the way WHMCS's admin area would, without WHMCS.
 * Usage: php addon_harness.php MODULES_DIR NAME CALLS.json
 * CALLS.json: [{"function": "config" | "activate" | "deactivate" | "output" | "sidebar",
 *               "language": "english" | "polish", "method": "GET" | "POST", "get": {...}, "post": {...}}, ...]
 * Prints {"results": [...]} as JSON: what each function returned, or printed (output). Only WHMCS's own pieces are
 * stood in for: the admin's language file in $vars['_lang'], the module link, the session's form token
 * (generate_token) and admin id.
 */
define('WHMCS', true);

const FORM_TOKEN = 'a94a8fe5ccb19ba61c4c0873d391e987982fbbd3';

function generate_token($type = 'form')
{
    return $type === 'plain' ? FORM_TOKEN : '<input type="hidden" name="token" value="' . FORM_TOKEN . '" />';
}

list(, $modules, $name, $callsFile) = $argv;
require $modules . '/addons/' . $name . '/' . $name . '.php';
$_SESSION = ['adminid' => 1];

$results = [];
foreach (json_decode(file_get_contents($callsFile), true) as $call) {
    $_GET = isset($call['get']) ? $call['get'] : [];
    $_POST = isset($call['post']) ? $call['post'] : [];
    $_SERVER['REQUEST_METHOD'] = isset($call['method']) ? $call['method'] : 'GET';
    $_ADDONLANG = [];
    $language = isset($call['language']) ? $call['language'] : 'english';
    if (is_readable($modules . '/addons/' . $name . '/lang/' . $language . '.php')) {
        include $modules . '/addons/' . $name . '/lang/' . $language . '.php';
    }
    $vars = ['modulelink' => 'addonmodules.php?module=' . $name, 'version' => '', '_lang' => $_ADDONLANG];
    $function = $name . '_' . $call['function'];
    if ($call['function'] === 'output') {
        ob_start();
        $returned = $function($vars);
        $results[] = ob_get_clean();
    } elseif (in_array($call['function'], ['sidebar'], true)) {
        $results[] = $function($vars);
    } else {
        $results[] = $function();
    }
}
echo json_encode(['results' => $results], JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
