/**
 * How every query is run. A query is written with drizzle's query builder
 * (or its `sql` template where the builder cannot say it), in its module's
 * queries.ts, and wrapped in `prepared()`: its SQL is prepared on bun:sqlite
 * once, at first use (start-up prepares nothing), and run there. Rows come
 * as SQLite returns them, with no mapping by drizzle in between, which keeps
 * the hot paths as fast as hand-written statements, and reads can stop early
 * (`iterate`). Values are passed by placeholder name (`sql.placeholder`).
 *
 * Rows are keyed by the names SQLite gives the columns: drizzle writes a
 * selected column under its own name and an expression under its `.as()`
 * alias, so the selection's keys must be those names. A query whose keys
 * differ is refused when it is prepared.
 */
import type { Changes, SQLQueryBindings, Statement } from 'bun:sqlite'
import { is, Param, Placeholder } from 'drizzle-orm'
import type { Db } from './index'

/** A drizzle query builder: its SQL, and (through `prepare`, never called here) its row type. */
interface Builder {
  toSQL(): { sql: string; params: unknown[] }
  prepare(): { all(): unknown }
}

type RowOf<B extends Builder> = ReturnType<ReturnType<B['prepare']>['all']> extends (infer R)[] ? R : never
type Values = Record<string, unknown>

const NO_VALUES: Values = {}

/**
 * Where the value of one parameter of the SQL comes from: a placeholder's
 * value (through the column's encoder when it is written to a column), or
 * a value fixed in the query.
 */
type Slot = { name: string; encode?: (value: unknown) => unknown } | { fixed: SQLQueryBindings }

function slotOf(param: unknown): Slot {
  if (is(param, Placeholder)) return { name: param.name }
  if (is(param, Param) && is(param.value, Placeholder)) {
    const { encoder } = param
    return { name: param.value.name, encode: (value) => encoder.mapToDriverValue(value) }
  }
  return { fixed: param as SQLQueryBindings }
}

export class Prepared<Row> {
  private statement: Statement<Row, SQLQueryBindings[]> | undefined
  private slots: Slot[] = []
  private text = ''

  constructor(
    private readonly db: Db,
    private readonly build: () => Builder,
  ) {}

  /** The SQL text, as prepared. */
  get sql(): string {
    this.prepare()
    return this.text
  }

  get(values: Values = NO_VALUES): Row | undefined {
    return this.prepare().get(...this.bind(values)) ?? undefined
  }

  all(values: Values = NO_VALUES): Row[] {
    return this.prepare().all(...this.bind(values))
  }

  /** The rows one at a time; ending the iteration early (`return()`) resets the statement. */
  iterate(values: Values = NO_VALUES): IterableIterator<Row> {
    return this.prepare().iterate(...this.bind(values))
  }

  run(values: Values = NO_VALUES): Changes {
    return this.prepare().run(...this.bind(values))
  }

  /** The parameters in SQL order: one pass over slots worked out when the query was prepared. */
  private bind(values: Values): SQLQueryBindings[] {
    const slots = this.slots
    const bound = new Array<SQLQueryBindings>(slots.length)
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i]!
      if ('fixed' in slot) bound[i] = slot.fixed
      else bound[i] = (slot.encode ? slot.encode(values[slot.name]) : values[slot.name]) as SQLQueryBindings
    }
    return bound
  }

  private prepare(): Statement<Row, SQLQueryBindings[]> {
    if (this.statement) return this.statement
    const builder = this.build()
    const { sql, params } = builder.toSQL()
    const statement = this.db.$client.prepare<Row, SQLQueryBindings[]>(sql)
    const keys = selectionKeys(builder)
    const names = statement.columnNames
    if (keys.length !== names.length || keys.some((key, i) => key !== names[i])) {
      throw new Error(`rows of ${sql} would be keyed ${names.join(', ')}, not ${keys.join(', ')}: select each column under its own name and name each expression with .as()`)
    }
    this.slots = params.map(slotOf)
    this.text = sql
    this.statement = statement
    return statement
  }
}

/** The query `build` makes, prepared on first use. */
export function prepared<B extends Builder>(db: Db, build: () => B): Prepared<RowOf<B>> {
  return new Prepared(db, build)
}

/**
 * A query per key, each prepared on first use: one per combination of
 * filters a listing applies, or one per cursor that must be open at once.
 */
export function preparedPer<K extends string | number, B extends Builder>(db: Db, build: (key: K) => B): (key: K) => Prepared<RowOf<B>> {
  const made = new Map<K, Prepared<RowOf<B>>>()
  return (key) => {
    let query = made.get(key)
    if (!query) made.set(key, (query = new Prepared(db, () => build(key))))
    return query
  }
}

/** The keys of a builder's selection (select fields or returning), in their SQL order. */
function selectionKeys(builder: Builder): string[] {
  // drizzle keeps them in its builders' config: a select's `fields`, a write's ordered `returning`.
  const config = (builder as { config?: { fields?: object; returning?: { path: string[] }[] } }).config
  if (config?.returning) return config.returning.map((field) => field.path.join('.'))
  return Object.keys(config?.fields ?? {})
}
