/**
 * The scheduler of API.md §6, as one object the app builds and the services
 * call into: status transitions and their follow-ups (transitions.ts), the
 * background materialization of jobs and tasks (materializer.ts), and the
 * config check of PUT config. With ICEPROD_SCHEDULER=off it only keeps the
 * status history and otherwise does nothing.
 */
import type { Config } from '../../config'
import type { Db } from '../../db'
import type { HistoryService } from '../history/service'
import { Materializer } from './materializer'
import { planTasks } from './task-plan'
import { Transitions } from './transitions'

export interface SchedulerEnvironment {
  /** Where the scheduler reports problems it cannot answer a request with. */
  warn: (message: string, datasetId: string) => void
}

export class Scheduler {
  readonly transitions: Transitions
  readonly materializer: Materializer
  readonly on: boolean

  constructor(db: Db, history: HistoryService, config: Config, environment: SchedulerEnvironment) {
    this.on = config.scheduler
    this.transitions = new Transitions(db, history, { scheduling: config.scheduler, maxFailures: config.maxFailures })
    this.materializer = new Materializer(db, this.transitions, { bufferJobs: config.bufferJobs, warn: environment.warn })
    this.transitions.onMoreWork = (datasetId) => this.materializer.poke(datasetId)
  }

  /** Starts the background work: materialization goes on where it stopped. */
  start(): void {
    if (this.on) this.materializer.start()
  }

  /** Stops the background work; what is committed stays. */
  stop(): void {
    this.materializer.stop()
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
