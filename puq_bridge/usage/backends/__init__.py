"""Where the usage store keeps its tables: the embedded SQLite file (:mod:`.sqlite`) or a PostgreSQL
database shared by several bridge instances (:mod:`.postgres`, imported only when a store names
one). Both speak :class:`.base.Backend`."""
