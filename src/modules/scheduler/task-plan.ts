/**
 * A dataset config's `tasks` list as the plan of every job's tasks (API.md
 * §6.1): each entry becomes one task of the job, in order, with its name, the
 * earlier tasks it depends on and its requirements over the defaults. The
 * same reading checks a config on PUT (400 naming the task and the entry)
 * and makes the tasks, so a config that was accepted always materializes.
 */
import { fail } from '../../errors'

/** The most tasks a config lists (IceProd's configs list tens): a longer list is 400. */
export const MAX_CONFIG_TASKS = 1000

/**
 * The most entries one task's `depends` lists, in a config or in POST /tasks
 * and PATCH (IceProd's tasks depend on a few): as many as a config lists
 * tasks, so the last task of a config may wait for every one before it.
 * Each entry costs a lookup inside the write transaction: a longer list is 400.
 */
export const MAX_DEPENDS = 1000

/** What a task requires when its config entry says nothing else. */
export const DEFAULT_REQUIREMENTS: Readonly<Record<string, unknown>> = { cpu: 1, gpu: 0, memory: 1.0, disk: 10.0, time: 1.0 }

/** One task of every job: its name, what it waits for, what it needs. */
export interface TaskTemplate {
  name: string
  /** Earlier tasks of the same job by position, or ids of existing tasks. */
  depends: (number | string)[]
  requirements: Record<string, unknown>
}

/** Whether a string is the id of an existing task (used for depends entries that name no task of the list). */
export type TaskExists = (taskId: string) => boolean

/**
 * The plan of a config's `tasks`: undefined when the config has none (or an
 * empty list), else one template per entry. A bad entry is 400 naming the
 * task (by name and position) and the entry: a list that is not one, an
 * entry that is not an object, a name that is not a string or is used twice,
 * requirements that are not an object, a `depends` longer than MAX_DEPENDS
 * (before any entry is looked up), and each `depends` entry that is the
 * task itself, a later task, a name that is neither a task of the list nor an
 * existing task id, or neither a string nor an integer.
 */
export function planTasks(config: Record<string, unknown>, taskExists: TaskExists): TaskTemplate[] | undefined {
  const tasks = config.tasks
  if (tasks === undefined || tasks === null) return undefined
  if (!Array.isArray(tasks)) fail(400, 'key tasks must be a list of task objects')
  if (tasks.length > MAX_CONFIG_TASKS) fail(400, `key tasks lists ${tasks.length} tasks; a config lists at most ${MAX_CONFIG_TASKS}`)
  const names = tasks.map((entry, i) => (isObject(entry) && typeof entry.name === 'string' && entry.name !== '' ? entry.name : String(i)))
  // Each name's first position, so that names are looked up once each, not by a scan of the list.
  const positions = new Map<string, number>()
  names.forEach((name, i) => positions.has(name) || positions.set(name, i))
  const plan = tasks.map((entry, i): TaskTemplate => {
    const task = `task ${JSON.stringify(names[i])} (${i})`
    if (!isObject(entry)) fail(400, `task ${i} must be an object`)
    if (entry.name !== undefined && typeof entry.name !== 'string') fail(400, `${task}: key name must be a string`)
    const first = positions.get(names[i]!)!
    if (first !== i) fail(400, `${task}: name ${JSON.stringify(names[i])} is also task ${first}'s`)
    return { name: names[i]!, depends: dependsOf(entry, i, tasks.length, positions, task, taskExists), requirements: requirementsOf(entry, task) }
  })
  return plan.length > 0 ? plan : undefined
}

function dependsOf(entry: Record<string, unknown>, position: number, count: number, positions: Map<string, number>, task: string, taskExists: TaskExists): (number | string)[] {
  const depends = entry.depends ?? []
  if (!Array.isArray(depends)) fail(400, `${task}: key depends must be a list`)
  if (depends.length > MAX_DEPENDS) fail(400, `${task}: key depends lists ${depends.length} entries; a task depends on at most ${MAX_DEPENDS}`)
  return depends.map((dependency: unknown) => {
    const shown = `depends entry ${JSON.stringify(dependency)}`
    if (typeof dependency === 'number' && Number.isInteger(dependency)) {
      if (dependency === position) fail(400, `${task}: ${shown} is the task itself`)
      if (dependency > position && dependency < count) fail(400, `${task}: ${shown} is a later task`)
      if (dependency < 0 || dependency >= count) fail(400, `${task}: ${shown} is no task of the list`)
      return dependency
    }
    if (typeof dependency !== 'string') fail(400, `${task}: ${shown} must be a task name, a task index or a task id`)
    const named = positions.get(dependency) ?? -1
    if (named === position) fail(400, `${task}: ${shown} is the task itself`)
    if (named > position) fail(400, `${task}: ${shown} is a later task`)
    if (named >= 0) return named
    if (taskExists(dependency)) return dependency
    fail(400, `${task}: ${shown} names no earlier task and no existing task`)
  })
}

function requirementsOf(entry: Record<string, unknown>, task: string): Record<string, unknown> {
  const stated = entry.requirements ?? {}
  if (!isObject(stated)) fail(400, `${task}: key requirements must be an object`)
  const requirements = { ...DEFAULT_REQUIREMENTS, ...stated }
  // IceProd configs may list the GPUs a task needs: it needs that many.
  if (Array.isArray(requirements.gpu)) requirements.gpu = requirements.gpu.length
  return requirements
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
