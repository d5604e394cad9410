<?php
/*
 * A stand-in for WHMCS's database layer (WHMCS\Database\Capsule, Laravel's query builder; developer-docs
 * advanced/db-interaction.md) over in-memory tables, for the forwarder tests. It does what the forwarder uses:
 * Capsule::table(), join() on equal columns, where() (= or another comparison), get([columns]) giving an iterable
 * collection of stdClass rows (keys without the table prefix, as Laravel's), update([values]) returning the rows
 * changed, and Capsule::raw('now()'). Every query is logged; failing tables throw like a database error would.
 */

namespace WHMCS\Database {

    class Expression
    {
        public $sql;

        public function __construct($sql)
        {
            $this->sql = $sql;
        }
    }

    /** Laravel's Collection as far as a caller may rely on it: iterable and countable, not an array. */
    class Collection implements \IteratorAggregate, \Countable
    {
        private $items;

        public function __construct(array $items)
        {
            $this->items = $items;
        }

        public function getIterator(): \Iterator
        {
            return new \ArrayIterator($this->items);
        }

        public function count(): int
        {
            return count($this->items);
        }
    }

    class Builder
    {
        private $table;
        private $joins = [];
        private $wheres = [];

        public function __construct($table)
        {
            $this->table = $table;
        }

        public function join($table, $first, $operator, $second)
        {
            if ($operator !== '=') {
                throw new \RuntimeException("stand-in joins on = only, not $operator");
            }
            $this->joins[] = [$table, $first, $second];
            return $this;
        }

        public function where($column, $operator, $value = null)
        {
            if (func_num_args() === 2) {
                list($operator, $value) = ['=', $operator];
            }
            $this->wheres[] = [$column, $operator, $value];
            return $this;
        }

        /** Rows of the table (joined ones merged in), keyed 'table.column'. */
        private function rows()
        {
            $rows = [];
            foreach (Capsule::rows($this->table) as $index => $row) {
                $rows[] = [$index, $this->qualify($this->table, $row)];
            }
            foreach ($this->joins as list($table, $first, $second)) {
                $joined = [];
                foreach ($rows as list($index, $row)) {
                    foreach (Capsule::rows($table) as $other) {
                        $merged = $row + $this->qualify($table, $other);
                        if (array_key_exists($first, $merged) && array_key_exists($second, $merged)
                            && (string) $merged[$first] === (string) $merged[$second]) {
                            $joined[] = [$index, $merged];
                        }
                    }
                }
                $rows = $joined;
            }
            $matching = [];
            foreach ($rows as list($index, $row)) {
                if ($this->matches($row)) {
                    $matching[] = [$index, $row];
                }
            }
            return $matching;
        }

        private function qualify($table, array $row)
        {
            $out = [];
            foreach ($row as $key => $value) {
                $out[$table . '.' . $key] = $value;
            }
            return $out;
        }

        private function column(array $row, $column)
        {
            $key = strpos($column, '.') === false ? $this->table . '.' . $column : $column;
            if (!array_key_exists($key, $row)) {
                throw new \RuntimeException("SQLSTATE[42S22]: Column not found: Unknown column '$column'");
            }
            return $row[$key];
        }

        private function matches(array $row)
        {
            foreach ($this->wheres as list($column, $operator, $value)) {
                $have = $this->column($row, $column);
                $ok = $operator === '=' ? (string) $have === (string) $value
                    : ($operator === '!=' ? (string) $have !== (string) $value : false);
                if (!$ok) {
                    return false;
                }
            }
            return true;
        }

        public function get($columns = ['*'])
        {
            Capsule::log('select', $this->table, $this->joins, $this->wheres, $columns);
            $out = [];
            foreach ($this->rows() as list(, $row)) {
                $object = new \stdClass();
                foreach ($columns === ['*'] ? array_keys($row) : $columns as $column) {
                    $name = substr($column, strrpos($column, '.') === false ? 0 : strrpos($column, '.') + 1);
                    $object->$name = $this->column($row, $column);
                }
                $out[] = $object;
            }
            return new Collection($out);
        }

        public function update(array $values)
        {
            Capsule::log('update', $this->table, $this->joins, $this->wheres, $values);
            $changed = 0;
            foreach ($this->rows() as list($index, )) {
                foreach ($values as $column => $value) {
                    if ($value instanceof Expression) {
                        $value = $value->sql === 'now()' ? date('Y-m-d H:i:s') : $value->sql;
                    }
                    Capsule::set($this->table, $index, $column, $value);
                }
                $changed++;
            }
            return $changed;
        }
    }

    class Capsule
    {
        public static $tables = [];
        public static $failing = [];
        public static $queries = [];

        public static function table($name)
        {
            if (in_array($name, self::$failing, true)) {
                throw new \RuntimeException("SQLSTATE[HY000]: General error: table $name is locked");
            }
            return new Builder($name);
        }

        public static function raw($sql)
        {
            return new Expression($sql);
        }

        public static function rows($table)
        {
            if (!isset(self::$tables[$table])) {
                throw new \RuntimeException("SQLSTATE[42S02]: Base table or view not found: $table");
            }
            return self::$tables[$table];
        }

        public static function set($table, $index, $column, $value)
        {
            self::$tables[$table][$index][$column] = $value;
        }

        public static function log($kind, $table, $joins, $wheres, $what)
        {
            $values = [];
            foreach ($what as $key => $value) {
                $values[$key] = $value instanceof Expression ? ['raw' => $value->sql] : $value;
            }
            self::$queries[] = [
                'kind' => $kind, 'table' => $table, 'joins' => $joins, 'wheres' => $wheres, 'values' => $values,
            ];
        }
    }
}
