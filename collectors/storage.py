"""Where the collector's state lives: one SQLAlchemy engine on SQLite (embedded, default) or
PostgreSQL (at scale), one code path. The only module that knows the two apart."""
from __future__ import annotations

import contextlib
import zlib
from typing import Any, Callable, Iterable, Iterator, Mapping, NamedTuple, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from collectors import ConfigError

DEFAULT_DB = "sqlite:///fedharden-collector.sqlite3"
MIGRATION_LOCK = 0x6665_6468  # an arbitrary advisory-lock key owned by our migrations
SQLITE_PAIRS = 10_000  # (a, b) pairs per lookup: 20,000 parameters, under SQLite's 32,766
COPY_ROWS = 64  # upserts of at least this many rows go through COPY on PostgreSQL
_COPY_TABLES = "fedharden_copy_tables"  # connection info: the temporary tables this session holds


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` (the libpq form operators know) and plain SQLite paths."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if "://" not in url:
        return f"sqlite:///{url}"
    if not url.startswith(("sqlite:", "postgresql+psycopg:")):
        raise ConfigError(f"--db: unsupported database URL {redact(url)!r} (use sqlite:///PATH or postgresql://...)")
    return url


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL: show only its scheme
        return url.split("://", 1)[0] + "://..."


def _binds(columns: Iterable[str]) -> dict[str, Any]:
    return {c: sa.bindparam(f"v_{c}") for c in columns}


def inserted_id(result: sa.CursorResult[Any]) -> int:
    """The primary key a single-row INSERT gave its row."""
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the INSERT reported no primary key")
    return int(key[0])


def in_list(dialect: sa.engine.Dialect, column: Any, name: str) -> Any:
    """``column`` is one of the list bound as ``name``: for lookups by key of a few dozen values.

    On PostgreSQL as ``= ANY(array)``, one parameter: the driver prepares hot statements, and
    the generic plan of ``IN (%s, %s, ...)`` builds the list anew for every row it scans
    while a table is small enough to be scanned (checking 32 report ids against 4,000 reports:
    8 ms; 0.4 ms with the array, 5 ms with a plan made while the table was smaller). Without
    SQLAlchemy's casts (``::VARCHAR[]``), which would be evaluated per row the same way."""
    if dialect.name == "sqlite":
        return column.in_(sa.bindparam(name, expanding=True))
    return sa.type_coerce(column, sa.types.NullType()) == sa.any_(sa.bindparam(name, type_=sa.types.NullType()))


class Database:
    """An engine plus the two kinds of transaction the collector uses."""

    def __init__(self, url: str = DEFAULT_DB, *, pool_size: int = 10) -> None:
        self.url = normalize_url(url)
        try:
            parsed = sa.engine.make_url(self.url)
        except sa.exc.ArgumentError as exc:
            raise ConfigError(f"--db: {exc}") from None
        self.dialect = parsed.get_backend_name()
        self._statements: dict[tuple[Any, ...], Any] = {}
        self.engine = self._engine(parsed, pool_size)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def _engine(self, parsed: sa.engine.URL, pool_size: int) -> Engine:
        if parsed.get_backend_name() != "sqlite":
            # Commits wait for the write-ahead log to reach disk (the server's default): a report
            # is acknowledged only once it survives a crash. Group commit (collectors.ingest_queue)
            # pays that wait once for every report of a batch.
            # LIFO: the ingest writer gets back the connection it used last, on which the driver
            # has its statements prepared (per connection), instead of rotating through the pool.
            engine = sa.create_engine(parsed, pool_size=pool_size, max_overflow=pool_size // 2,
                                      pool_recycle=1800, pool_use_lifo=True)

            @sa.event.listens_for(engine, "rollback")
            def on_rollback(conn: Connection) -> None:
                # A temporary table created in the transaction rolled back is gone with it.
                conn.connection.info.pop(_COPY_TABLES, None)

            return engine
        engine = sa.create_engine(parsed, connect_args={"check_same_thread": False, "timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def on_connect(dbapi: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" below start transactions, not the driver.
            dbapi.isolation_level = None
            cur = dbapi.cursor()
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000", "foreign_keys=ON"):
                cur.execute(f"PRAGMA {pragma}")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def on_begin(conn: Connection) -> None:
            # Writers take the write lock up front: a deferred transaction that reads and then
            # writes can fail with "database is locked" instead of waiting its turn.
            readonly = conn.get_execution_options().get("fedharden_readonly", False)
            conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

        return engine

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back on any exception."""
        with self.engine.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn = conn.execution_options(fedharden_readonly=True)
            with conn.begin():
                yield conn

    # Writing many rows: one executemany per statement, which psycopg sends as one pipeline.
    # (Rows as one array per column through ``unnest`` were measured too: less driver work,
    # twice the database's.) Parameters are named v_<column>: a column's own name is reserved
    # in INSERT and UPDATE.

    def insert_many(self, conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        columns = tuple(rows[0])
        if not self.is_sqlite and len(rows) >= COPY_ROWS:  # streamed (see _upsert_copied)
            self._copy(conn, f"COPY {table.name} ({', '.join(columns)}) FROM STDIN",
                       ([row[c] for c in columns] for row in rows))
        else:
            self._many(conn, ("insert", table.name, columns), rows, lambda: self.insert(table).values(_binds(columns)))

    def upsert(self, conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]], keys: Sequence[str],
               assignments: Callable[[Any], Mapping[str, Any]], name: str) -> None:
        """Insert rows, or update the existing row with the same keys as ``assignments(excluded)``
        says (``name`` tells statements of one shape apart)."""
        if not rows:
            return
        columns = tuple(rows[0])

        def build() -> Any:
            insert = self.insert(table).values(_binds(columns))
            return insert.on_conflict_do_update(index_elements=list(keys), set_=dict(assignments(insert.excluded)))

        if not self.is_sqlite and len(rows) >= COPY_ROWS:
            self._upsert_copied(conn, table, rows, keys, assignments, name)
        else:
            self._many(conn, ("upsert", table.name, columns, tuple(keys), name), rows, build)

    def _upsert_copied(self, conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]],
                       keys: Sequence[str], assignments: Callable[[Any], Mapping[str, Any]], name: str) -> None:
        """A large upsert on PostgreSQL: the rows streamed with COPY into a temporary table of
        the session (emptied at each commit), then upserted from it in one statement. For a
        round of full reports, thousands of results, a quarter of the driver's CPU per row
        and half the database's, against one execution per row. The rows are upserted in key
        order, the order every transaction takes row locks in."""
        columns = tuple(rows[0])
        temp = f"fedharden_copy_{table.name}_{zlib.crc32(','.join(columns).encode()):08x}"  # one per shape

        def build() -> tuple[str, str, _DriverSQL]:
            shadow = sa.Table(temp, sa.MetaData(), *(sa.Column(c, table.c[c].type) for c in columns),
                              prefixes=["TEMPORARY"], postgresql_on_commit="DELETE ROWS")
            insert = self.insert(table)
            source = sa.select(*(shadow.c[c] for c in columns)).order_by(*(shadow.c[k] for k in keys))
            upsert = insert.from_select(list(columns), source).on_conflict_do_update(
                index_elements=list(keys), set_=dict(assignments(insert.excluded)))
            create = str(sa.schema.CreateTable(shadow).compile(dialect=self.engine.dialect))
            create = create.replace("CREATE TEMPORARY TABLE", "CREATE TEMPORARY TABLE IF NOT EXISTS", 1)
            return create, f"COPY {temp} ({', '.join(columns)}) FROM STDIN", _DriverSQL.of(upsert, self.engine)

        create, copy_sql, upsert = self.statement(("upsert-copied", table.name, columns, tuple(keys), name), build)
        held = conn.connection.info.setdefault(_COPY_TABLES, set())
        if temp not in held:
            conn.exec_driver_sql(create)
            held.add(temp)
        self._copy(conn, copy_sql, ([row[c] for c in columns] for row in rows))
        conn.exec_driver_sql(upsert.sql, upsert.constants or ())

    def _copy(self, conn: Connection, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """COPY ... FROM STDIN of ``rows`` on the connection's driver; its errors raised as
        SQLAlchemy's, as those of any statement (a lost connection marked as such)."""
        driver = conn.connection.driver_connection
        cursor = driver.cursor()  # type: ignore[union-attr]
        try:
            with cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
        except self.engine.dialect.loaded_dbapi.Error as exc:
            lost = self.engine.dialect.is_disconnect(exc, conn.connection.dbapi_connection, cursor)
            if lost:
                conn.invalidate()
            raise sa.exc.DBAPIError.instance(sql, None, exc, self.engine.dialect.loaded_dbapi.Error,
                                             connection_invalidated=lost) from None
        finally:
            cursor.close()

    def upsert_add(self, conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]],
                   keys: Sequence[str], add: Sequence[str]) -> None:
        """Insert rows, or add their ``add`` columns to the existing row with the same keys."""
        self.upsert(conn, table, rows, keys, lambda excluded: {c: table.c[c] + excluded[c] for c in add},
                    "add:" + ",".join(add))

    def upsert_replace(self, conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]],
                       keys: Sequence[str]) -> None:
        """Insert rows, or overwrite the existing row with the same keys."""
        if rows:
            columns = [c for c in rows[0] if c not in keys]
            self.upsert(conn, table, rows, keys, lambda excluded: {c: excluded[c] for c in columns}, "replace")

    def update_many(self, conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]], key: str) -> None:
        """Set each row's other columns on the table row whose ``key`` column equals the row's."""
        if rows:
            columns = tuple(rows[0])
            self._many(conn, ("update", table.name, columns, key), rows, lambda: sa.update(table).values(
                _binds(c for c in columns if c != key)).where(table.c[key] == sa.bindparam(f"v_{key}")))

    def delete_many(self, conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """Delete the table rows whose columns equal one of the rows' values."""
        if rows:
            columns = tuple(rows[0])
            self._many(conn, ("delete", table.name, columns), rows, lambda: sa.delete(table).where(
                *(table.c[c] == sa.bindparam(f"v_{c}") for c in columns)))

    def _many(self, conn: Connection, key: tuple[Any, ...], rows: Sequence[Mapping[str, Any]],
              build: Callable[[], Any]) -> None:
        # Built once per shape: constructing statements costs more than running them on the hot path.
        stmt = self._statements.get(key)
        if stmt is None:
            stmt = self.statement(key, lambda: build() if self.is_sqlite else _DriverSQL.of(build(), self.engine))
        columns = key[2]
        params = [{f"v_{c}": row[c] for c in columns} for row in rows]
        if isinstance(stmt, _DriverSQL):
            conn.exec_driver_sql(stmt.sql, [{**stmt.constants, **p} for p in params] if stmt.constants else params)
        else:
            conn.execute(stmt, params)

    def statement(self, key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
        """The statement (or statements) named ``key``, built once per database: constructing
        statements costs more than running them on the hot path."""
        found = self._statements.get(key)
        if found is None:
            found = self._statements[key] = build()
        return found

    # Reads of many rows on the hot path, sent to the driver as they are and answered as plain
    # DB-API tuples, no result objects.

    def select_in(self, conn: Connection, table: sa.Table, columns: Sequence[str], column: str,
                  values: Sequence[Any]) -> Sequence[Any]:
        """``columns`` of the rows whose ``column`` is one of ``values``.

        IN with one placeholder per value, not = ANY(array) as in_list: for a hundred rows per
        value (the results of a host), the array form's generic plan measured twice the
        database CPU."""
        if not values:
            return []
        sql = f"SELECT {_columns(columns)} FROM {table.name} t WHERE t.{column} IN ({self._marks(len(values))})"
        return conn.exec_driver_sql(sql, tuple(values)).cursor.fetchall()

    def select_pairs(self, conn: Connection, table: sa.Table, columns: Sequence[str], keys: tuple[str, str],
                     types: tuple[str, str], pairs: Sequence[tuple[Any, Any]]) -> Sequence[Any]:
        """``columns`` of the rows whose ``keys`` columns equal one of ``pairs`` (a primary key
        looked up by many values); ``types``: the keys' PostgreSQL types."""
        a, b = keys
        if not pairs:
            return []
        if self.is_sqlite:  # each pair looked up in the key, in turn, within any build's limit on parameters
            out: list[Any] = []
            for at in range(0, len(pairs), SQLITE_PAIRS):
                chunk = pairs[at:at + SQLITE_PAIRS]
                sql = (f"SELECT {_columns(columns)} FROM (VALUES {','.join(['(?,?)'] * len(chunk))}) AS w "
                       f"CROSS JOIN {table.name} t ON t.{a} = w.column1 AND t.{b} = w.column2")
                out += conn.exec_driver_sql(sql, tuple(v for pair in chunk for v in pair)).cursor.fetchall()
            return out
        # PostgreSQL: two arrays, one statement text whatever their length (prepared once)
        sql = (f"SELECT {_columns(columns)} FROM {table.name} t JOIN unnest(%s::{types[0]}[], %s::{types[1]}[]) "
               f"AS w({a}, {b}) ON t.{a} = w.{a} AND t.{b} = w.{b}")
        return conn.exec_driver_sql(sql, ([x for x, _ in pairs], [y for _, y in pairs])).cursor.fetchall()

    def _marks(self, n: int) -> str:
        """``n`` comma-separated DB-API placeholders, for SQL sent to the driver as it is."""
        return ",".join(["?" if self.is_sqlite else "%s"] * n)

    def insert(self, table: sa.Table) -> Any:
        """The dialect's INSERT, which has ON CONFLICT."""
        from sqlalchemy.dialects import postgresql, sqlite

        return sqlite.insert(table) if self.is_sqlite else postgresql.insert(table)

    def migrate(self) -> tuple[str | None, str | None]:
        """Bring the schema to the newest revision; a no-op when it is there. Returns (before, after)."""
        from alembic import command

        with self.write() as conn:
            if not self.is_sqlite:
                # Replicas starting together: one migrates, the others wait and find nothing to do.
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            before = self._revision(conn)
            cfg = self._alembic_config(conn)
            command.upgrade(cfg, "head")
            after = self._revision(conn)
        return before, after

    def analyze(self) -> None:
        """Refresh the query planner's statistics. PostgreSQL's autovacuum keeps its own; SQLite
        has none until asked, and without them it can pick a poor index (sampled: milliseconds)."""
        if not self.is_sqlite:
            return
        with self.write() as conn:
            conn.exec_driver_sql("PRAGMA analysis_limit=1000")
            conn.exec_driver_sql("ANALYZE")

    def revision(self) -> str | None:
        with self.read() as conn:
            return self._revision(conn)

    def head(self) -> str | None:
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(self._alembic_config(None)).get_current_head()

    def _revision(self, conn: Connection) -> str | None:
        from alembic.runtime.migration import MigrationContext

        return MigrationContext.configure(conn).get_current_revision()

    def _alembic_config(self, conn: Connection | None) -> Any:
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", "collectors:migrations")
        cfg.attributes["connection"] = conn
        return cfg

    def dispose(self) -> None:
        self.engine.dispose()

    def advisory_lock(self, conn: Connection, key: int, *, wait: bool = True) -> bool:
        """Hold the lock named ``key`` until this transaction ends; with ``wait=False`` answer
        False at once when another transaction holds it. On SQLite a write transaction already
        excludes every other writer, so there is nothing more to take."""
        if self.is_sqlite:
            return True
        function = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
        value = conn.exec_driver_sql(f"SELECT {function}({int(key)})").scalar()
        return wait or bool(value)


def _columns(columns: Sequence[str]) -> str:
    return ", ".join(f"t.{c}" for c in columns)


class _DriverSQL(NamedTuple):
    """A statement compiled once for PostgreSQL, its rows handed to the driver as they are:
    psycopg adapts every type the tables use, and SQLAlchemy's processing of each row was a
    quarter of the writes' CPU. (SQLite keeps that processing: SQLAlchemy stores dates there
    as text of its own format.)"""

    sql: str
    constants: dict[str, Any]  # parameters the statement holds itself (literals in its clauses)

    @classmethod
    def of(cls, stmt: Any, engine: Engine) -> _DriverSQL:
        compiled = stmt.compile(dialect=engine.dialect)
        return cls(compiled.string, {k: v for k, v in compiled.params.items() if not k.startswith("v_")})
