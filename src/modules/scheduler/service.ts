/**
 * The scheduler of API.md §6, as one object the app builds and the services
 * call into: status transitions and their follow-ups (transitions.ts), the
 * background materialization of jobs and tasks (materializer.ts), the sweep
 * for lost tasks (sweep.ts), the bulk actions' changes of many tasks at once
 * (bulk.ts), and the config check of PUT config. With ICEPROD_SCHEDULER=off it only keeps the
 * status history and otherwise does nothing.
 */
import type { Config } from '../../config'
import type { Db } from '../../db'
import type { LockTimer } from '../../db/write-lock'
import { systemClock, type Clock } from '../../clock'
import type { HistoryService } from '../history/service'
import { BulkTransitions } from './bulk'
import { Materializer } from './materializer'
import { Sweep } from './sweep'
import { planTasks } from './task-plan'
import { Transitions } from './transitions'

export interface SchedulerEnvironment {
  /** Where the scheduler reports problems it cannot answer a request with. */
  warn: (message: string, datasetId?: string) => void
  /** Now, in milliseconds since the epoch, for every time the server stamps and the sweep (tests inject one). */
  clock?: Clock
  /** The database's lock timer, for the pause before work the lock refused is tried again (tests inject one). */
  lockTimer?: LockTimer
}

export class Scheduler {
  readonly transitions: Transitions
  /** The bulk actions' set-based changes of many tasks (§7.2), with the same follow-ups as `transitions`. */
  readonly bulk: BulkTransitions
  readonly materializer: Materializer
  readonly sweep: Sweep
  readonly on: boolean

  constructor(db: Db, history: HistoryService, config: Config, environment: SchedulerEnvironment) {
    this.on = config.scheduler
    const clock = environment.clock ?? systemClock
    this.transitions = new Transitions(db, history, { scheduling: config.scheduler, maxFailures: config.maxFailures, clock })
    this.bulk = new BulkTransitions(db, history, this.transitions)
    this.materializer = new Materializer(db, this.transitions, { bufferJobs: config.bufferJobs, warn: environment.warn, lockTimer: environment.lockTimer })
    this.transitions.onMoreWork = (datasetId) => this.materializer.poke(datasetId)
    this.sweep = new Sweep(db, this.transitions, {
      intervalSeconds: config.sweepInterval,
      graceSeconds: config.taskGrace,
      pilotTimeoutSeconds: config.pilotTimeout,
      clock,
      warn: environment.warn,
    })
  }

  /** Starts the background work: materialization goes on where it stopped, sweeps begin. */
  start(): void {
    if (!this.on) return
    this.materializer.start()
    this.sweep.start()
  }

  /** Stops the background work; what is committed stays. */
  stop(): void {
    this.materializer.stop()
    this.sweep.stop()
  }

  /**
   * PUT config, before storing: with the scheduler on, the config's `tasks`
   * must read as a plan (400 naming the task and the entry otherwise).
   */
  checkConfig(config: Record<string, unknown>): void {
    if (this.on) planTasks(config, this.materializer.taskExists)
  }

  /** PUT config, after storing: the dataset may have jobs to make now. */
  configChanged(datasetId: string): void {
    if (this.on) this.materializer.poke(datasetId)
  }
}
