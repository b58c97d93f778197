import { t } from 'elysia'

const Entry = t.Object({
  time: t.String({ description: 'when the status changed' }),
  from: t.String(),
  to: t.String(),
  by: t.Union([t.Object({ username: t.String(), role: t.String() }), t.Literal('server')], { description: "the token's user and role, or \"server\" for the scheduler" }),
  reason: t.Optional(t.String()),
})

export const HistoryModel = {
  query: t.Object({ num: t.Optional(t.String({ description: 'only the newest n entries (a positive integer)' })) }, { additionalProperties: true }),
  history: t.Object({ history: t.Array(Entry, { description: 'oldest first' }) }),
}
