/**
 * Schema building blocks shared by every module's model.ts. Documents accept
 * extra keys (they are stored and returned as sent); integers are strict JSON
 * integers (Elysia's own t.Integer would also accept numeric strings).
 */
import { t } from 'elysia'
import { Type, type IntegerOptions, type TProperties } from '@sinclair/typebox'

/** A JSON object with the given keys that keeps any extra keys. */
export const Doc = <P extends TProperties>(properties: P, description?: string) =>
  t.Object(properties, { additionalProperties: true, description })

/** A strict JSON integer. */
export const Int = (options?: IntegerOptions) => Type.Integer(options)

export const Names = t.Array(t.String())

/** `{}` : success with nothing to return. */
export const Empty = t.Object({})

/** The id of a newly created resource, or its path. */
export const Created = t.Object({ result: t.String() })

export const ErrorBody = t.Object({ code: t.Integer(), error: t.String() }, { description: 'Every failure' })

/** The `keys` projection parameter: `|`-separated top-level field names. */
export const KeysQuery = t.Optional(t.String({ description: 'fields to return, separated by |' }))
