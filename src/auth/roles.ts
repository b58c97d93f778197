/**
 * The roles a token can hold, and the sets of them that routes allow. Every
 * set includes admin; a set is named by the other roles in it.
 */
export const ROLES = ['user', 'admin', 'system', 'client', 'pilot', 'anonymous'] as const
export type Role = (typeof ROLES)[number]

export const adminOnly = ['admin'] as const satisfies readonly Role[]
/** IceProd's own server-side services (system) and the grid site clients (client). */
export const services = ['admin', 'system', 'client'] as const satisfies readonly Role[]
export const servicesAndPilots = [...services, 'pilot'] as const satisfies readonly Role[]
export const servicesAndUsers = [...services, 'user'] as const satisfies readonly Role[]
export const system = ['admin', 'system'] as const satisfies readonly Role[]
export const clients = ['admin', 'client'] as const satisfies readonly Role[]
export const clientsAndPilots = [...clients, 'pilot'] as const satisfies readonly Role[]
export const clientsAndUsers = [...clients, 'user'] as const satisfies readonly Role[]
export const pilots = ['admin', 'pilot'] as const satisfies readonly Role[]
export const users = ['admin', 'user'] as const satisfies readonly Role[]

/** Roles that see every dataset in the listings; other tokens see the datasets their groups may read. */
export const seesAllDatasets: readonly string[] = services
