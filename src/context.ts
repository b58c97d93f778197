import type { Database } from 'bun:sqlite'
import type { AccessGuard } from './auth/access'
import type { TokenService } from './auth/tokens'
import type { Config } from './config'
import type { Db } from './db'
import type { Clock } from './clock'
import type { ClientAddresses } from './observability/client-address'
import type { AuthService } from './modules/auth/service'
import type { HistoryService } from './modules/history/service'
import type { OfferLog } from './modules/progress/offers'
import type { Scheduler } from './modules/scheduler/service'
import type { Transitions } from './modules/scheduler/transitions'

/** What every module is built with. */
export interface AppContext {
  config: Config
  db: Db
  /** The connection itself, for the database's own upkeep (checkpoints, closing); queries go through `db` (see db/query.ts). */
  sqlite: Database
  tokens: TokenService
  /** The access macro; every module `.use()`s it to declare its routes' rules. */
  access: AccessGuard
  /** Users, groups and dataset access rules (used by modules that create datasets or check groups). */
  auth: AuthService
  /** The client address of a request, when the HTTP server knows it (never in-process). */
  clientAddresses: ClientAddresses
  /** The time, for everything the app stamps or expires. */
  clock: Clock
  /** The status history (§7.1). */
  history: HistoryService
  /** Where every status change is reported, in its own transaction. */
  transitions: Transitions
  /** The scheduler of §6 (materialization, config checks); inert with ICEPROD_SCHEDULER=off. */
  scheduler: Scheduler
  /** The offers of the last hour's claims, for queue diagnostics (§7.3). */
  offers: OfferLog
}
