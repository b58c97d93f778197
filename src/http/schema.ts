/**
 * Schema building blocks shared by every module's model.ts. Documents accept
 * extra keys (they are stored and returned as sent); integers are strict JSON
 * integers (Elysia's own t.Integer would also accept numeric strings).
 */
import { t } from 'elysia'
import { Type, type IntegerOptions, type ObjectOptions, type Static, type TObject, type TProperties, type TSchema } from '@sinclair/typebox'

/** A JSON object with the given keys that keeps any extra keys. */
export const Doc = <P extends TProperties>(properties: P, description?: string) =>
  t.Object(properties, { additionalProperties: true, description })

/** A strict JSON integer. */
export const Int = (options?: IntegerOptions) => Type.Integer(options)

export const Names = t.Array(t.String())

/**
 * `{<any key>: value}`. Not t.Record(t.String(), value): TypeBox matches its
 * keys with the pattern `^(.*)$`, which refuses a key holding a line break
 * (a task named "a\nb" made its dataset's name/status counts fail their own
 * response schema).
 */
export const KeyedBy = <T extends TSchema>(value: T, options: ObjectOptions = {}) =>
  t.Object({}, { ...options, additionalProperties: value }) as unknown as TObject<{}> & { static: Record<string, Static<T>> }

/** `{}` : success with nothing to return. */
export const Empty = t.Object({})

/** The id of a newly created resource, or its path. */
export const Created = t.Object({ result: t.String() })

export const ErrorBody = t.Object({ code: t.Integer(), error: t.String() }, { description: 'Every failure' })

/** The `keys` projection parameter: `|`-separated top-level field names. */
export const KeysQuery = t.Optional(t.String({ description: 'fields to return, separated by |' }))
