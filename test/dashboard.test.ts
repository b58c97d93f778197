/**
 * The dashboard in a real browser (headless Chromium, see browser.ts)
 * against the compiled binary: sign-in, every view at its own address, the
 * actions, live updates, logs, escaping of hostile names and logs, a 375 px
 * wide screen and the keyboard. Every page fails its test on a console
 * error, an uncaught error, a dialog, or a request to anywhere but the
 * server. One browser serves the whole file; the tests run at the same
 * time, each in pages of its own (most of their time is the browser's round
 * trips), lent from a pool that lends a page again once its test is done
 * with it, and each test that changes a dataset has a dataset of its own.
 *
 * With ICEPROD_SCREENSHOTS=<folder>, the views are also saved there as PNG
 * (docs/ holds the ones the README shows).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { TokenService } from '../src/auth/tokens'
import { launchBrowser, PagePool, type PageProblems, type Tab, type TestBrowser } from './browser'
import { LDAP_BASE, LDAP_USERS, startSlapd, type Slapd } from './ldap-server'
import { startServerProcess, type ServerProcess } from './server-process'
import { TEST_SECRET } from './support'

setDefaultTimeout(60_000)

/** A name and a log line written to run script if they were ever taken for HTML. */
const HOSTILE_NAME = '<img src=x onerror="alert(1)">evil & "quoted"'
const HOSTILE_LOG = '<script>alert("log")</script><b>not bold</b> &amp; done'
/** A 1 MB stdout. */
const BIG_LOG = Array.from({ length: 16_000 }, (_, i) => `line ${String(i).padStart(6, '0')} ${'x'.repeat(56)}`).join('\n')

let dir: string
let server: ServerProcess
let browser: TestBrowser
let pages: PagePool
let slapd: Slapd
let admin: string
let writer: string
let reader: string
const tokens = new TokenService(TEST_SECRET)
const seeded = { datasetId: '', dataset: 0, tasks: [] as string[], hostileTask: '', bigLogTask: '', gridId: '', pagedDatasetId: '', pagedDataset: 0 }
/** The tasks of the dataset that fills more than one page of the task list (50 a page). */
const PAGED_TASKS = 61
/** The datasets the tests that change one have to themselves (the others read `seeded`'s). */
const own = {
  statusChange: undefined as unknown as SeededDataset,
  actions: undefined as unknown as SeededDataset,
  reset: undefined as unknown as SeededDataset,
  keyboard: undefined as unknown as SeededDataset,
  jobActions: undefined as unknown as SeededDataset,
  valueActions: undefined as unknown as SeededDataset,
}
/** Every dataset there is: the seeded one, the paged one, and the tests' own. */
const DATASETS = 2 + Object.keys(own).length

async function api<T = any>(method: string, path: string, body?: unknown, token = admin): Promise<T> {
  const response = await fetch(server.url + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await response.text()
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`)
  return JSON.parse(text) as T
}
const idOf = (reply: { result: string }) => reply.result.split('/').pop()!

interface SeededDataset {
  datasetId: string
  dataset: number
  tasks: string[]
}

/**
 * A dataset of /sim (which /readers may read) with 4 jobs of a generate and
 * a filter task (the last filter named `lastName`): two generate tasks
 * complete (with walltimes), one filter failed, the rest waiting.
 */
async function seedDataset(description: string, lastName = 'filter'): Promise<SeededDataset> {
  const datasetId = idOf(await api('POST', '/datasets', { description, jobs_submitted: 4, tasks_submitted: 8, tasks_per_job: 2, group: '/sim' }))
  await api('PUT', `/auths/${datasetId}`, { read_groups: ['/sim', '/readers'], write_groups: ['/sim'] })
  const dataset = (await api('GET', `/datasets/${datasetId}`)).dataset as number
  const tasks: string[] = []
  for (let job = 0; job < 4; job++) {
    const jobId = await api('POST', '/jobs', { dataset_id: datasetId, job_index: job }).then((r) => r.result as string)
    for (const [index, name] of ['generate', job === 3 ? lastName : 'filter'].entries()) {
      tasks.push((await api('POST', '/tasks', { dataset_id: datasetId, job_id: jobId, task_index: index, name, depends: [], requirements: { cpu: 1 } })).result as string)
    }
  }
  for (const [i, hours] of [[0, 1.5], [2, 2.5]] as const) await api('PATCH', `/tasks/${tasks[i]}`, { status: 'complete', walltime: hours, walltime_err: 0.5 })
  await api('PUT', `/tasks/${tasks[1]}/status`, { status: 'failed' })
  return { datasetId, dataset, tasks }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'iceprod-dashboard-'))
  // The browser starts while the server starts and is seeded: the two take about as long.
  await Promise.all([
    launchBrowser().then((launched) => {
      browser = launched
    }),
    startAndSeed(),
  ])
  pages = new PagePool(browser.browser, server.url)
}, 180_000)

/** slapd, the server, and what the tests read. */
async function startAndSeed() {
  slapd = await startSlapd()
  server = await startServerProcess(join(dir, 'db.sqlite'), { ICEPROD_SCHEDULER: 'off', ICEPROD_LDAP_URL: slapd.url, ICEPROD_LDAP_BASE: LDAP_BASE })
  admin = await server.token('admin')
  writer = await tokens.sign({ username: 'writer', role: 'user', groups: ['/sim'], type: 'user', ttl: 3600 })
  reader = await tokens.sign({ username: 'reader', role: 'user', groups: ['/readers'], type: 'user', ttl: 3600 })
  for (const name of ['/sim', '/readers']) await api('POST', '/groups', { name })
  // An LDAP user the server knows, with a role and a group: its login token may list datasets.
  await api('POST', '/users', { username: 'alice', roles: ['user'], groups: ['/sim'] })
  Object.assign(seeded, await seedDataset('Corsika showers, <b>run 7</b>', HOSTILE_NAME))
  seeded.hostileTask = seeded.tasks[7]!
  // One by one: the list shows the tasks in the order they were made.
  const seedPaged = async () => {
    seeded.pagedDatasetId = idOf(await api('POST', '/datasets', { description: 'another dataset', jobs_submitted: 1, tasks_submitted: PAGED_TASKS, group: '/sim' }))
    seeded.pagedDataset = (await api('GET', `/datasets/${seeded.pagedDatasetId}`)).dataset
    const pagedJob = (await api('POST', '/jobs', { dataset_id: seeded.pagedDatasetId, job_index: 0 })).result as string
    for (let index = 0; index < PAGED_TASKS; index++) await api('POST', '/tasks', { dataset_id: seeded.pagedDatasetId, job_id: pagedJob, task_index: index, name: `step${index}`, depends: [], requirements: {} })
  }
  seeded.bigLogTask = seeded.tasks[0]!
  // Stdout first: stderr is the newest log.
  const seedLogs = async () => {
    await api('POST', '/logs', { data: BIG_LOG, name: 'stdout', dataset_id: seeded.datasetId, task_id: seeded.bigLogTask })
    await api('POST', '/logs', { data: 'all good', name: 'stderr', dataset_id: seeded.datasetId, task_id: seeded.bigLogTask })
    await api('POST', '/logs', { data: HOSTILE_LOG, name: HOSTILE_NAME, dataset_id: seeded.datasetId, task_id: seeded.hostileTask })
  }
  const seedGrid = async () => {
    seeded.gridId = idOf(await api('POST', '/grids', { host: 'ce.example.org', queues: {}, version: '3.1' }))
    // The last pilot's host is a hostile name: the grids view shows it as text.
    for (let i = 0; i < 4; i++) {
      const host = i === 3 ? HOSTILE_NAME : `node${i}.example.org`
      const pilot = idOf(await api('POST', '/pilots', { queue_host: 'ce.example.org', queue_version: '3.1', resources: { cpu: 1 }, grid_id: seeded.gridId, host }))
      if (i === 0) await api('PUT', `/pilots/${pilot}/tasks`, { tasks: [seeded.tasks[3]] })
    }
  }
  // The paged dataset, the tests' own datasets, the logs and the grid do not depend on one another: made at the same time.
  const [datasets] = await Promise.all([
    Promise.all([
      seedDataset('status change'),
      seedDataset('suspend and resume'),
      // Its last task is not a filter: the filter's waiting tasks are two, as in the seeded dataset.
      seedDataset('bulk suspend and reset', 'merge'),
      seedDataset('keyboard'),
      seedDataset('job actions'),
      seedDataset('status, requirements and priority'),
    ]),
    seedPaged(),
    seedLogs(),
    seedGrid(),
  ])
  ;[own.statusChange, own.actions, own.reset, own.keyboard, own.jobActions, own.valueActions] = datasets
}

afterAll(async () => {
  await browser?.close()
  await slapd?.stop()
  server?.proc.kill('SIGTERM')
  await server?.proc.exited
  rmSync(dir, { recursive: true, force: true })
})

const ui = (path = '') => `${server.url}/ui/${path}`

/**
 * Fails on what no page may do. Chromium logs every answer of 400 or more as
 * a console error; the answers a page asks for knowingly are not faults:
 * `expected` (status and URL pattern).
 */
function expectNoProblems(problems: PageProblems, expected: [number, RegExp][] = []) {
  const answered = (text: string, status: number, url: RegExp) => text.startsWith(`Failed to load resource: the server responded with a status of ${status} `) && url.test(text)
  const errors = problems.consoleErrors.filter((text) => !expected.some(([status, url]) => answered(text, status, url)))
  expect({ ...problems, consoleErrors: errors }).toEqual({ consoleErrors: [], pageErrors: [], dialogs: [], foreignRequests: [] })
}

/** The calls a page makes that change something (every method but GET), as `METHOD /path body`. */
function changesMade(tab: Tab): string[] {
  const calls: string[] = []
  tab.onRequest((request) => {
    if (request.method() !== 'GET') calls.push(`${request.method()} ${new URL(request.url()).pathname} ${request.postData() ?? ''}`.trim())
  })
  return calls
}

/** Waits until `check` holds (the page updates on its own time), failing after 10 s. */
async function until(what: string, check: () => Promise<boolean>) {
  for (const started = Date.now(); !(await check()); ) {
    if (Date.now() - started > 10_000) throw new Error(`still not so after 10 s: ${what}`)
    await Bun.sleep(20)
  }
}

/**
 * Pages open at once: enough to keep the browser busy, few enough that no page waits long for a turn of
 * the CPU, and the pool's pages (each a context and a renderer process of its own) no more than these.
 */
const PAGES_AT_ONCE = 3
let free = PAGES_AT_ONCE
const waiting: { pages: number; turn: () => void }[] = []
/** A test of the dashboard: run at the same time as the others, its `pages` open at once counted against PAGES_AT_ONCE. */
function pageTest(name: string, body: () => Promise<void>, pages = 1) {
  test.concurrent(name, async () => {
    if (waiting.length === 0 && free >= pages) free -= pages
    else await new Promise<void>((turn) => waiting.push({ pages, turn }))
    try {
      await body()
    } finally {
      free += pages
      // In order: a test of two pages is not passed over for ever by tests of one.
      while (waiting.length > 0 && free >= waiting[0]!.pages) {
        const next = waiting.shift()!
        free -= next.pages
        next.turn()
      }
    }
  })
}

/** Where the page keeps its token (browser/api.ts): what the sign-in form leaves behind. */
const TOKEN_KEY = 'iceprod-token'

/**
 * A page at `path`, signed in with `token` as the sign-in form leaves a tab:
 * the token in its sessionStorage before the page's script runs, so that the
 * view loads once, without the form's page before it. The tests of the sign-in
 * forms go through them.
 */
async function signedIn(token: string, path = '', options: { width?: number } = {}) {
  const opened = await pages.take(options)
  const { page } = opened
  {
    // For this one load only: a reload later must find the token where the page keeps it.
    await using _signIn = await page.addInitScript(([key, value]) => sessionStorage.setItem(key, value), [TOKEN_KEY, token] as const)
    await page.goto(ui(path))
  }
  await page.getByRole('link', { name: 'Datasets', exact: true }).first().waitFor()
  return opened
}

/** Signs the page's token out with the header's button, then `token` in through the sign-in form: the view at the address is shown again, for `token`'s user (`who`). */
async function signInAgain(page: Page, token: string, who: string) {
  await page.getByRole('button', { name: 'Sign out', exact: true }).click()
  await page.getByLabel('Token').fill(token)
  await page.getByRole('button', { name: 'Sign in', exact: true }).click()
  await page.locator('.who').getByText(who).waitFor()
}

async function shoot(page: Page, name: string) {
  const folder = process.env.ICEPROD_SCREENSHOTS
  if (!folder) return
  mkdirSync(folder, { recursive: true })
  await page.screenshot({ path: join(folder, `${name}.png`), fullPage: true })
}

describe('the dashboard', () => {
  test.concurrent('the page and its files come from the binary under a strict Content-Security-Policy', async () => {
    const page = await fetch(ui())
    expect(page.headers.get('content-security-policy')).toStartWith("default-src 'self';")
    const html = await page.text()
    const sources = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!)
    // The icon is inline and empty (no request for it); the script and the styles are the page's two files.
    expect(sources.filter((source) => source.startsWith('data:'))).toEqual(['data:,'])
    const files = sources.filter((source) => !source.startsWith('data:'))
    expect(files).toHaveLength(2)
    for (const source of files) expect((await fetch(new URL(source, ui()))).status).toBe(200)
    expect(html).not.toMatch(/https?:\/\//)
    // The viewer's addresses are pages too; anything else under /ui is not.
    for (const path of ['grids', `datasets/${seeded.datasetId}`, `datasets/${seeded.datasetId}/tasks/${seeded.tasks[0]}`]) expect((await fetch(ui(path))).status).toBe(200)
    expect((await fetch(ui('nosuch/page'))).status).toBe(404)
    expect((await fetch(ui('datasets/a.b'))).status).toBe(404)
  })

  pageTest('sign in with a token: the datasets, each with its status, a progress bar of the % of expected tasks complete, counts and ETA', async () => {
    await using tab = await pages.take()
    const { page, problems } = tab
    await page.goto(ui())
    await page.getByLabel('Token').fill(admin)
    await page.getByRole('button', { name: 'Sign in', exact: true }).click()
    const name = `Dataset ${seeded.dataset}`
    const bar = page.getByRole('progressbar', { name: `Progress of ${name}` })
    // 2 of the 8 expected tasks are complete.
    await until('the bar is at 25%', async () => (await bar.getAttribute('value')) === '25')
    const row = page.getByRole('listitem').filter({ has: page.getByRole('link', { name, exact: true }) })
    await row.getByText('Corsika showers, <b>run 7</b>').waitFor()
    expect(await row.locator('.badge').innerText()).toBe('processing')
    const counts = await row.locator('.counts').innerText()
    for (const part of ['2 complete', '1 failed', '5 waiting']) expect(counts).toContain(part)
    // The ETA is the server's: 6 tasks to go at the 2 completed in the last hour.
    const progress = await api('GET', `/datasets/${seeded.datasetId}/progress`)
    expect(progress.completed_last_hour).toBe(2)
    const eta = Date.parse(`${progress.eta}Z`)
    const shown = Date.parse((await row.locator('time').getAttribute('datetime'))!)
    expect(Math.abs(shown - eta)).toBeLessThan(60_000)
    expect(await row.locator('time').innerText()).toMatch(/^in (2 h 59 min|3 h 0 min)$/)
    // The other dataset: no task complete yet, so no ETA.
    await page.getByRole('progressbar', { name: `Progress of Dataset ${seeded.pagedDataset}` }).waitFor()
    expect(await page.getByRole('listitem').filter({ has: page.getByRole('link', { name: `Dataset ${seeded.pagedDataset}`, exact: true }) }).locator('.counts').innerText()).toContain('ETA none')
    // Search and filter.
    await page.getByRole('searchbox').fill('corsika')
    await until('one dataset shown', async () => (await page.getByRole('progressbar').count()) === 1)
    await page.getByRole('searchbox').fill('')
    await page.getByRole('combobox', { name: /^Status/ }).selectOption('complete')
    await page.getByText('No dataset matches.').waitFor()
    await page.getByRole('combobox', { name: /^Status/ }).selectOption('')
    await until('every dataset shown', async () => (await page.getByRole('progressbar').count()) === DATASETS)
    // The description's markup is text.
    expect(await page.locator('main img, main b, main script').count()).toBe(0)
    await shoot(page, 'dashboard-datasets')
    expectNoProblems(problems)
  })

  pageTest('a wrong token signs out again, saying so; the LDAP form signs in with a username and password', async () => {
    await using tab = await pages.take()
    const { page, problems, context } = tab
    await page.goto(ui())
    await page.getByLabel('Token').waitFor()
    await shoot(page, 'dashboard-signin')
    await page.getByLabel('Token').fill('eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJ4In0.bad')
    await page.getByRole('button', { name: 'Sign in', exact: true }).click()
    await page.getByText('Signed out: the server refused the token (invalid token).').waitFor()
    await page.getByLabel('Username').fill('alice')
    await page.getByLabel('Password').fill('wrong')
    await page.getByRole('button', { name: 'Sign in with LDAP' }).click()
    await page.getByText('Wrong username or password.').waitFor()
    await page.getByLabel('Password').fill(LDAP_USERS.alice)
    await page.getByRole('button', { name: 'Sign in with LDAP' }).click()
    await page.getByRole('progressbar', { name: `Progress of Dataset ${seeded.dataset}` }).waitFor()
    expect(await page.locator('.who').innerText()).toBe('alice (user)')
    // The token is in this tab's sessionStorage, and no cookie was set.
    expect(await page.evaluate(`sessionStorage.getItem(${JSON.stringify(TOKEN_KEY)})?.split(".").length`)).toBe(3)
    expect(await context.cookies()).toEqual([])
    // The failed sign-ins are answers the page shows.
    expectNoProblems(problems, [[401, /\/datasets\?/], [401, /\/events$/], [401, /\/ldap$/]])
  })

  pageTest("a dataset: counts by status and name, statistics, paged tasks; reloading shows the same view, signed in", async () => {
    // At its own address (the other tests that open a dataset follow its link from the list, or are about something else).
    await using tab = await signedIn(admin, `datasets/${seeded.datasetId}`)
    const { page, problems } = tab
    await page.getByRole('heading', { name: `Dataset ${seeded.dataset}`, level: 1 }).waitFor()
    await page.reload()
    await page.getByRole('heading', { name: `Dataset ${seeded.dataset}`, level: 1 }).waitFor()
    const byName = page.getByRole('figure', { name: 'Tasks by name and status' })
    await byName.getByRole('rowheader', { name: 'generate' }).waitFor()
    expect(await byName.getByRole('row', { name: /^generate/ }).innerText()).toContain('4: 2 waiting, 2 complete')
    // The hostile task name is a row header of the chart, as text.
    await byName.getByRole('rowheader', { name: HOSTILE_NAME }).waitFor()
    // Jobs by status, as the server counts them.
    const jobCounts = (await api('GET', `/datasets/${seeded.datasetId}/job_counts/status`)) as Record<string, number>
    const jobsRow = await page.getByRole('figure', { name: 'Jobs by status' }).getByRole('row', { name: /^jobs/ }).innerText()
    expect(jobsRow).toContain('4: ')
    for (const [status, n] of Object.entries(jobCounts)) expect(jobsRow).toContain(`${n} ${status}`)
    // Walltime (the average of 1.5 h and 2.5 h) and efficiency per name.
    const stats = page.getByRole('region', { name: 'Task statistics' })
    const generateStats = await stats.getByRole('row', { name: /^generate/ }).innerText()
    expect(generateStats).toContain('2.00 h')
    expect(generateStats).toContain('80.0%')
    // Queue diagnostics, as the server counts them.
    const diagnostics = await api('GET', `/datasets/${seeded.datasetId}/queue_diagnostics`)
    await page
      .getByRole('region', { name: 'Queue diagnostics' })
      .getByText(`${diagnostics.queued} queued task${diagnostics.queued === 1 ? '' : 's'}, ${diagnostics.offers_last_hour} offer${diagnostics.offers_last_hour === 1 ? '' : 's'} from pilots in the last hour.`)
      .waitFor()
    // Tasks, filtered by status and name, in server pages.
    const tasks = page.getByRole('region', { name: 'Tasks', exact: true })
    const rows = (n: number) => until(`${n} rows`, async () => (await tasks.getByRole('row').count()) === n)
    // A header row and the 8 tasks.
    await rows(9)
    await tasks.getByRole('combobox', { name: /^Status/ }).selectOption('waiting')
    await rows(6)
    await tasks.getByRole('combobox', { name: /^Name/ }).selectOption('filter')
    await rows(3)
    await tasks.getByRole('combobox', { name: /^Status/ }).selectOption('')
    await tasks.getByRole('combobox', { name: /^Name/ }).selectOption('')
    await rows(9)
    expect(await tasks.getByRole('button', { name: 'Next page' }).isDisabled()).toBe(true)
    await shoot(page, 'dashboard-dataset')
    expect(await page.locator('img, b, script:not([src])').count()).toBe(0)
    expectNoProblems(problems)
  })

  pageTest('the task list is paged by the server: 50 a page, the next and previous pages', async () => {
    await using tab = await signedIn(admin, `datasets/${seeded.pagedDatasetId}`)
    const { page, problems } = tab
    const tasks = page.getByRole('region', { name: 'Tasks', exact: true })
    const rows = (n: number) => until(`${n} rows`, async () => (await tasks.getByRole('row').count()) === n)
    const pageAsked = (after: string | null) =>
      page.waitForRequest((request) => {
        const url = new URL(request.url())
        return url.pathname.endsWith(`/datasets/${seeded.pagedDatasetId}/tasks`) && url.searchParams.get('limit') === '50' && url.searchParams.get('after') === after
      })
    // A header row and the first 50 tasks, in creation order.
    await rows(51)
    expect(await tasks.getByRole('row').nth(1).innerText()).toContain('step0')
    const next = tasks.getByRole('button', { name: 'Next page' })
    const lastOfFirst = (await api('GET', `/datasets/${seeded.pagedDatasetId}/tasks?limit=50&keys=task_id`)) as Record<string, unknown>
    const asked = pageAsked(Object.keys(lastOfFirst).pop()!)
    await next.click()
    await asked
    await rows(PAGED_TASKS - 50 + 1)
    expect(await tasks.getByRole('row').nth(1).innerText()).toContain('step50')
    await tasks.getByText('Page 2').waitFor()
    expect(await next.isDisabled()).toBe(true)
    await tasks.getByRole('button', { name: 'Previous page' }).click()
    await rows(51)
    expect(await tasks.getByRole('button', { name: 'Previous page' }).isDisabled()).toBe(true)
    expectNoProblems(problems)
  })

  pageTest('a status change through the API shows without a reload, from the event stream', async () => {
    const { datasetId, tasks } = own.statusChange
    await using tab = await signedIn(admin, `datasets/${datasetId}`)
    const { page, problems } = tab
    const counts = page.getByRole('figure', { name: 'Tasks by status' })
    await counts.getByText('2 complete').waitFor()
    await page.locator('.live').getByText('live', { exact: true }).waitFor()
    await api('PUT', `/tasks/${tasks[4]}/status`, { status: 'complete' })
    await counts.getByText('3 complete').waitFor()
    expectNoProblems(problems)
  })

  pageTest("actions ask for confirmation and call API.md §7.2's routes; a writer suspends and resumes the dataset; another tab follows live; Cancel changes nothing", async () => {
    const { datasetId, dataset } = own.actions
    await using tab = await signedIn(writer, `datasets/${datasetId}`)
    const { page, problems } = tab
    const calls = changesMade(tab)
    // Another tab, on the datasets: it sees the status change by itself.
    await using other = await signedIn(admin)
    const otherRow = other.page.getByRole('listitem').filter({ has: other.page.getByRole('link', { name: `Dataset ${dataset}`, exact: true }) })
    await otherRow.locator('.badge').getByText('processing').waitFor()
    const actions = page.getByRole('region', { name: 'Actions' })
    await actions.getByRole('button', { name: 'Suspend', exact: true }).waitFor()
    expect(await actions.getByRole('button').allInnerTexts()).toEqual(['Suspend', 'Resume', 'Reset', 'Hard reset', 'Truncate', 'Set priority', 'Set requirement'])
    await actions.getByRole('button', { name: 'Truncate', exact: true }).click()
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click()
    expect((await api('GET', `/datasets/${datasetId}`)).status).toBe('processing')
    await actions.getByRole('button', { name: 'Suspend', exact: true }).click()
    const dialog = page.getByRole('dialog')
    await dialog.getByText(`Suspend dataset ${dataset}?`).waitFor()
    await dialog.getByRole('button', { name: 'Suspend' }).click()
    await actions.getByText('Suspend: done, the dataset is suspended.').waitFor()
    expect((await api('GET', `/datasets/${datasetId}`)).status).toBe('suspended')
    await page.locator('h1 + .badge').getByText('suspended').waitFor()
    await otherRow.locator('.badge').getByText('suspended').waitFor()
    await actions.getByRole('button', { name: 'Resume', exact: true }).click()
    await page.getByRole('dialog').getByRole('button', { name: 'Resume' }).click()
    await actions.getByText('Resume: done, the dataset is processing.').waitFor()
    expect((await api('GET', `/datasets/${datasetId}`)).status).toBe('processing')
    await otherRow.locator('.badge').getByText('processing').waitFor()
    // The dataset actions' own routes, nothing else (no status PUT); Cancel called none.
    expect(calls).toEqual([`POST /datasets/${datasetId}/dataset_actions/suspend {}`, `POST /datasets/${datasetId}/dataset_actions/resume {}`])
    expectNoProblems(problems)
    expectNoProblems(other.problems)
  }, 2)

  pageTest('Suspend on the filtered tasks, then Reset: bulk_suspend with the filter, bulk_reset; the counts follow live in another tab', async () => {
    const { datasetId, dataset } = own.reset
    await using tab = await signedIn(writer, `datasets/${datasetId}`)
    const { page, problems } = tab
    const calls = changesMade(tab)
    // Another tab on the same dataset, which acts on nothing.
    await using other = await signedIn(admin, `datasets/${datasetId}`)
    const otherCounts = other.page.getByRole('figure', { name: 'Tasks by status' })
    await otherCounts.getByText('1 failed').waitFor()
    await other.page.locator('.live').getByText('live', { exact: true }).waitFor()
    // The filter's tasks: 'filter' tasks waiting are two (the third is failed).
    const tasks = page.getByRole('region', { name: 'Tasks', exact: true })
    await tasks.getByRole('combobox', { name: /^Name/ }).getByRole('option', { name: 'filter', exact: true }).waitFor({ state: 'attached' })
    // Unfiltered, the list offers no actions of its own (the dataset's are there: this token may write).
    await page.getByRole('region', { name: 'Actions' }).getByRole('button', { name: 'Reset', exact: true }).waitFor()
    expect(await tasks.getByRole('group', { name: 'Actions on the tasks that match' }).count()).toBe(0)
    await tasks.getByRole('combobox', { name: /^Status/ }).selectOption('waiting')
    await tasks.getByRole('combobox', { name: /^Name/ }).selectOption('filter')
    const onMatching = tasks.getByRole('group', { name: 'Actions on the tasks that match' })
    await onMatching.getByRole('button', { name: 'Hard reset', exact: true }).waitFor()
    expect(await onMatching.getByRole('button').allInnerTexts()).toEqual(['Suspend', 'Reset', 'Hard reset'])
    await onMatching.getByRole('button', { name: 'Suspend', exact: true }).click()
    await page.getByRole('dialog').getByText(`Suspend the waiting tasks named filter of dataset ${dataset}`).waitFor()
    await page.getByRole('dialog').getByRole('button', { name: 'Suspend' }).click()
    await tasks.getByText('Suspend: done, 2 tasks changed.').waitFor()
    await otherCounts.getByText('2 suspended').waitFor()
    // Reset, the dataset's: the failed task and the two suspended ones.
    const actions = page.getByRole('region', { name: 'Actions' })
    await actions.getByRole('button', { name: 'Reset', exact: true }).click()
    await page.getByRole('dialog').getByText('Reset the failed and suspended tasks').waitFor()
    await page.getByRole('dialog').getByRole('button', { name: 'Reset' }).click()
    await actions.getByText('Reset: done, 3 tasks changed.').waitFor()
    await until('no task failed or suspended in the other tab', async () => (await otherCounts.getByText(/failed|suspended/).count()) === 0)
    // The 5 waiting before, and the three reset.
    expect(await otherCounts.innerText()).toContain('6 waiting')
    const now = await api('GET', `/datasets/${datasetId}/task_counts/status`)
    expect([now.failed, now.suspended]).toEqual([undefined, undefined])
    expect(calls).toEqual([
      `POST /datasets/${datasetId}/task_actions/bulk_suspend {"status":["waiting"],"name":"filter"}`,
      `POST /datasets/${datasetId}/task_actions/bulk_reset {}`,
    ])
    expectNoProblems(problems)
    expectNoProblems(other.problems)
  }, 2)

  pageTest('Set priority, Set requirement and Set status (on the filtered tasks) ask first and call their routes with the values typed; a reader sees none of them', async () => {
    const { datasetId, dataset, tasks } = own.valueActions
    await using tab = await signedIn(writer, `datasets/${datasetId}`)
    const { page, problems } = tab
    const calls = changesMade(tab)
    const actions = page.getByRole('region', { name: 'Actions' })
    // The priority field shows the dataset's.
    const priorityField = actions.getByRole('spinbutton', { name: 'Priority' })
    await priorityField.waitFor()
    expect(await priorityField.inputValue()).toBe('0')
    await priorityField.fill('7.5')
    await actions.getByRole('button', { name: 'Set priority', exact: true }).click()
    await page.getByRole('dialog').getByText(`Set the priority of dataset ${dataset} to 7.5?`).waitFor()
    await page.getByRole('dialog').getByRole('button', { name: 'Set priority' }).click()
    await actions.getByText('Set priority: done, the priority is 7.5.').waitFor()
    await page.getByText(/priority 7\.5/).waitFor()
    expect((await api('GET', `/datasets/${datasetId}`)).priority).toBe(7.5)

    // A requirement of the tasks named filter (four, none complete); its value a number.
    const requirements = actions.getByRole('group', { name: 'Requirements of a task name' })
    const setRequirement = requirements.getByRole('button', { name: 'Set requirement', exact: true })
    expect(await setRequirement.isDisabled()).toBe(true)
    await requirements.getByRole('combobox', { name: /^Task name/ }).getByRole('option', { name: 'filter', exact: true }).waitFor({ state: 'attached' })
    await requirements.getByRole('combobox', { name: /^Task name/ }).selectOption('filter')
    await requirements.getByRole('textbox', { name: 'Requirement' }).fill('gpu')
    await requirements.getByRole('textbox', { name: 'Value' }).fill('2')
    await setRequirement.click()
    await page.getByRole('dialog').getByText(`Set the requirement gpu to 2 on the tasks named filter of dataset ${dataset} that are not complete?`).waitFor()
    await page.getByRole('dialog').getByRole('button', { name: 'Set requirement' }).click()
    await requirements.getByText('Set requirement: done, 4 tasks changed.').waitFor()
    expect((await api('GET', `/datasets/${datasetId}/tasks/${tasks[3]}`)).requirements).toEqual({ cpu: 1, gpu: 2 })
    expect((await api('GET', `/datasets/${datasetId}/tasks/${tasks[2]}`)).requirements).toEqual({ cpu: 1 })

    // The status of the waiting generate tasks (two of the four).
    const list = page.getByRole('region', { name: 'Tasks', exact: true })
    expect(await list.getByRole('button', { name: 'Set status' }).count()).toBe(0)
    await list.getByRole('combobox', { name: /^Status/ }).selectOption('waiting')
    await list.getByRole('combobox', { name: /^Name/ }).selectOption('generate')
    const statusForm = list.getByRole('group', { name: 'Status of the tasks that match' })
    const setStatus = statusForm.getByRole('button', { name: 'Set status', exact: true })
    await setStatus.waitFor()
    expect(await setStatus.isDisabled()).toBe(true)
    await statusForm.getByRole('combobox', { name: /^New status/ }).selectOption('idle')
    await setStatus.click()
    await page.getByRole('dialog').getByText(`Set the status of the waiting tasks named generate of dataset ${dataset} to idle?`).waitFor()
    await page.getByRole('dialog').getByRole('button', { name: 'Set status' }).click()
    await statusForm.getByText('Set status: done, 2 tasks changed.').waitFor()
    expect((await api('GET', `/datasets/${datasetId}/tasks/${tasks[4]}`)).status).toBe('idle')
    expect((await api('GET', `/datasets/${datasetId}/tasks/${tasks[5]}`)).status).toBe('waiting')
    expect(calls).toEqual([
      `PUT /datasets/${datasetId}/priority {"priority":7.5}`,
      `PATCH /datasets/${datasetId}/task_actions/bulk_requirements/filter {"gpu":2}`,
      `POST /datasets/${datasetId}/task_actions/bulk_status/idle {"status":["waiting"],"name":"generate"}`,
    ])
    expectNoProblems(problems)

    // A reader, with the list filtered too: no field or button of these actions. In the same tab, the writer signed out.
    await signInAgain(page, reader, 'reader (user)')
    await page.getByRole('region', { name: 'Actions' }).getByText('This token may not change this dataset.').waitFor()
    const readerList = page.getByRole('region', { name: 'Tasks', exact: true })
    await readerList.getByRole('combobox', { name: /^Status/ }).selectOption('idle')
    await readerList.getByRole('row').nth(2).waitFor()
    const main = page.getByRole('main')
    expect(await main.getByRole('button', { name: /^Set / }).count()).toBe(0)
    expect(await main.getByRole('spinbutton').count()).toBe(0)
    expect(await main.getByRole('textbox').count()).toBe(0)
    expect(await main.getByRole('combobox', { name: /^(Task name|New status)/ }).count()).toBe(0)
    // The writer's part had none (checked above): what is here is the reader's.
    expectNoProblems(problems, [[403, /\/auths\/\w+\/actions\/write$/]])
  })

  pageTest("who may write is the server's answer: an admin without groups sees the actions; a token that may not write sees none", async () => {
    await using tab = await signedIn(admin, `datasets/${seeded.datasetId}`)
    const { page, problems } = tab
    await page.getByRole('region', { name: 'Actions' }).getByRole('button', { name: 'Hard reset', exact: true }).waitFor()
    expectNoProblems(problems)
    // The reader in the same tab: the admin signs out, the reader signs in through the form, and the view is shown again for that token.
    await signInAgain(page, reader, 'reader (user)')
    const actions = page.getByRole('region', { name: 'Actions' })
    await actions.getByText('This token may not change this dataset.').waitFor()
    expect(await actions.getByRole('button').count()).toBe(0)
    await page.getByRole('region', { name: 'Tasks', exact: true }).getByRole('combobox', { name: /^Status/ }).selectOption('waiting')
    await page.getByRole('region', { name: 'Tasks', exact: true }).getByRole('row').nth(1).waitFor()
    expect(await page.getByRole('main').getByRole('button', { name: /Suspend|Resume|Reset|Truncate/ }).count()).toBe(0)
    // On a task's page too (a waiting one with a log, followed from the list), once the server has answered that this token may not write.
    const task = seeded.hostileTask
    const refused = page.waitForResponse((response) => response.url().endsWith(`/auths/${seeded.datasetId}/actions/write`) && response.status() === 403)
    await page.getByRole('region', { name: 'Tasks', exact: true }).locator(`a[href$="/tasks/${task}"]`).click()
    await page.waitForURL(ui(`datasets/${seeded.datasetId}/tasks/${task}`))
    await refused
    await page.getByRole('region', { name: 'Document' }).getByText(`"task_id": "${task}"`).waitFor()
    expect(await page.getByRole('main').getByRole('button', { name: /Suspend|Resume|Reset|Truncate/ }).count()).toBe(0)
    // The write check's 403 is its answer.
    expectNoProblems(problems, [[403, /\/auths\/\w+\/actions\/write$/]])
  })

  pageTest("a task's job: Suspend and Reset call job_actions with its id, and the task's status follows", async () => {
    const { datasetId, tasks } = own.jobActions
    // The second task of job 3.
    const task = tasks[7]!
    await using tab = await signedIn(writer, `datasets/${datasetId}/tasks/${task}`)
    const { page, problems } = tab
    const calls = changesMade(tab)
    const { job_id: jobId } = await api('GET', `/datasets/${datasetId}/tasks/${task}`)
    const actions = page.getByRole('region', { name: "Actions on this task's job" })
    // Shown once the server has said this token may write.
    await actions.getByRole('button', { name: 'Hard reset', exact: true }).waitFor()
    expect(await actions.getByRole('button').allInnerTexts()).toEqual(['Suspend', 'Reset', 'Hard reset'])
    const status = page.locator('h1 + .badge')
    await status.getByText('waiting').waitFor()
    await actions.getByRole('button', { name: 'Suspend', exact: true }).click()
    await page.getByRole('dialog').getByText('Suspend the tasks of job 3 that are not complete?').waitFor()
    await page.getByRole('dialog').getByRole('button', { name: 'Suspend' }).click()
    // The job's two tasks, this one among them.
    await actions.getByText('Suspend: done, 2 tasks changed.').waitFor()
    await status.getByText('suspended').waitFor()
    await actions.getByRole('button', { name: 'Reset', exact: true }).click()
    await page.getByRole('dialog').getByRole('button', { name: 'Reset' }).click()
    await actions.getByText('Reset: done, 2 tasks changed.').waitFor()
    await status.getByText('waiting').waitFor()
    expect(calls).toEqual([
      `POST /datasets/${datasetId}/job_actions/bulk_suspend {"job_ids":["${jobId}"]}`,
      `POST /datasets/${datasetId}/job_actions/bulk_reset {"job_ids":["${jobId}"]}`,
    ])
    // This task has no logs: their 404 is the answer the page shows as none.
    expectNoProblems(problems, [[404, /\/tasks\/\w+\/logs\?/]])
  })

  pageTest("a task: its logs (a 1 MB stdout), document and history; hostile names and logs are shown as text", async () => {
    await using tab = await signedIn(admin, `datasets/${seeded.datasetId}`)
    const { page, problems } = tab
    const logsRead: string[] = []
    tab.onRequest((request) => {
      const path = new URL(request.url()).pathname
      if (/\/logs\/\w+$/.test(path)) logsRead.push(path)
    })
    await page.getByRole('link', { name: HOSTILE_NAME }).click()
    await page.waitForURL(ui(`datasets/${seeded.datasetId}/tasks/${seeded.hostileTask}`))
    const logs = page.getByRole('region', { name: 'Logs' })
    await logs.getByRole('tab', { name: HOSTILE_NAME }).waitFor()
    expect(await logs.getByRole('tabpanel').locator('pre').innerText()).toBe(HOSTILE_LOG)
    expect(await page.locator('img, b, main script').count()).toBe(0)
    await page.getByRole('heading', { level: 1 }).getByText(HOSTILE_NAME).waitFor()
    // The big log's task, followed from the dataset as a user goes (a task's page is loaded by its address in the job actions' test).
    await page.getByRole('link', { name: 'Dataset', exact: true }).click()
    await page.locator(`main a[href$="/tasks/${seeded.bigLogTask}"]`).click()
    await page.waitForURL(ui(`datasets/${seeded.datasetId}/tasks/${seeded.bigLogTask}`))
    const stdout = page.getByRole('region', { name: 'Logs' })
    // Newest first: stderr is shown until stdout is chosen.
    await stdout.getByRole('tab', { name: /^stdout/ }).click()
    // Its size is read from the tools above the log: a text search of the whole region would read the megabyte too.
    const size = stdout.locator('.log-tools')
    await size.getByText('16,000 lines').waitFor()
    // Measured in the page: the megabyte itself need not cross to the test.
    expect(await stdout.locator('pre').evaluate((pre) => pre.textContent!.length)).toBe(BIG_LOG.length)
    await stdout.getByRole('tab', { name: /^stderr/ }).click()
    await stdout.locator('pre').getByText('all good').waitFor()
    await page.getByRole('region', { name: 'Document' }).getByText(`"task_id": "${seeded.bigLogTask}"`).waitFor()
    // Its history: the one change, made by the admin's PATCH.
    const history = page.getByRole('region', { name: 'History' })
    const [entry] = (await api('GET', `/datasets/${seeded.datasetId}/tasks/${seeded.bigLogTask}/history`)).history
    await until('one change shown', async () => (await history.getByRole('row').count()) === 2)
    expect(await history.getByRole('row').nth(1).innerText()).toMatch(new RegExp(`${entry.from}\\s+complete\\s+admin \\(admin\\)`))
    await stdout.getByRole('tab', { name: /^stdout/ }).click()
    await size.getByText('16,000 lines').waitFor()
    // A log chosen again is shown as read the first time: the hostile log, stderr and stdout, each read once.
    expect(logsRead).toHaveLength(3)
    expect(new Set(logsRead).size).toBe(3)
    await shoot(page, 'dashboard-task')
    expectNoProblems(problems)
  })

  pageTest('grids: active pilots per grid and the age of their last update', async () => {
    await using tab = await signedIn(admin, 'grids')
    const { page, problems } = tab
    const grid = page.getByRole('region', { name: 'ce.example.org' })
    await grid.getByText('active pilots, 1 running tasks').waitFor()
    expect(await grid.getByRole('row').count()).toBe(5)
    expect(await grid.getByRole('row').nth(1).innerText()).toMatch(/ago/)
    // Each pilot by its whole id (ids made in the same moment share their first characters).
    const pilots = Object.keys(await api('GET', '/pilots?keys=pilot_id'))
    for (const pilot of pilots) await grid.getByRole('cell', { name: pilot, exact: true }).waitFor()
    await grid.getByRole('cell', { name: HOSTILE_NAME }).waitFor()
    expect(await page.locator('main img, main b, main script').count()).toBe(0)
    await shoot(page, 'dashboard-grids')
    expectNoProblems(problems)
  })

  pageTest('375 px wide: no view is wider than the screen', async () => {
    await using tab = await signedIn(admin, '', { width: 375 })
    const { page, problems } = tab
    // Each view with what it shows last (the widest parts: tables, the log), reached as a user goes
    // from the one before (a link followed in the page, no load of the page again).
    const follow = (link: string) => () => page.locator(`main a[href$="${link}"], nav a[href$="${link}"]`).first().click()
    const views: [string, () => Promise<void>, () => Promise<void>][] = [
      ['', async () => {}, () => page.getByRole('progressbar').nth(1).waitFor()],
      [`datasets/${seeded.datasetId}`, follow(`/datasets/${seeded.datasetId}`), () => page.getByRole('region', { name: 'Task statistics' }).getByRole('row', { name: /^generate/ }).waitFor()],
      [`datasets/${seeded.datasetId}/tasks/${seeded.bigLogTask}`, follow(`/tasks/${seeded.bigLogTask}`), () => page.getByRole('tabpanel').locator('pre').waitFor()],
      ['grids', follow('/ui/grids'), () => page.getByRole('row', { name: /node2/ }).waitFor()],
    ]
    for (const [path, go, shown] of views) {
      await go()
      await page.waitForURL(ui(path))
      await shown()
      const widths = (await page.evaluate('({ page: document.documentElement.scrollWidth, screen: window.innerWidth })')) as { page: number; screen: number }
      expect({ path, fits: widths.page <= widths.screen }).toEqual({ path, fits: true })
      if (path === `datasets/${seeded.datasetId}`) await shoot(page, 'dashboard-dataset-375px')
    }
    expectNoProblems(problems)
  })

  pageTest('keyboard only: sign in, open a dataset; Tab reaches every action with its focus shown, Space and Enter work, Escape cancels', async () => {
    const { datasetId, dataset } = own.keyboard
    await using tab = await pages.take()
    const { page, problems } = tab
    const calls = changesMade(tab)
    await page.goto(ui())
    await page.keyboard.press('Tab')
    expect(await page.evaluate('document.activeElement?.id')).toBe('signin-token')
    // Inserted as typing does it (an input event), not as a key press per character of the token: one round trip instead of some 700.
    await page.keyboard.insertText(writer)
    await page.keyboard.press('Tab')
    await page.keyboard.press('Enter')
    const link = page.getByRole('link', { name: `Dataset ${dataset}` })
    await link.waitFor()
    // Tab until the dataset's link has the focus, then follow it.
    for (let i = 0; i < 30 && !(await link.evaluate((a) => a === a.ownerDocument.activeElement)); i++) await page.keyboard.press('Tab')
    await page.keyboard.press('Enter')
    await page.waitForURL(ui(`datasets/${datasetId}`))
    await page.getByRole('region', { name: 'Actions' }).getByRole('button', { name: 'Truncate', exact: true }).waitFor()
    await page.getByRole('region', { name: 'Task statistics' }).getByRole('row', { name: /^generate/ }).waitFor()
    // Every stop of the tab order, round the whole page once: what it is, and whether its focus shows.
    // The page notes each stop as it takes the focus; the notes are read every few presses, not after each.
    await page.evaluate(
      '(() => { window.tabStops = []; document.addEventListener("focusin", (event) => { const e = event.target; const style = getComputedStyle(e); window.tabStops.push({ at: [...document.querySelectorAll("*")].indexOf(e), text: (e.getAttribute("aria-label") || e.textContent || e.tagName).trim().slice(0, 40), outline: style.outlineStyle + " " + style.outlineWidth }) }) })()',
    )
    const stops = new Map<number, { text: string; outline: string }>()
    for (let pressed = 0, round = false; pressed < 200 && !round; ) {
      for (const end = pressed + 10; pressed < end; pressed++) await page.keyboard.press('Tab')
      for (const stop of (await page.evaluate('window.tabStops.splice(0)')) as { at: number; text: string; outline: string }[]) {
        if ((round = stops.has(stop.at))) break
        stops.set(stop.at, { text: stop.text, outline: stop.outline })
      }
    }
    const texts = [...stops.values()].map((stop) => stop.text)
    for (const label of ['Skip to content', 'Datasets', 'Grids', 'Sign out', 'Suspend', 'Resume', 'Reset', 'Hard reset', 'Truncate', 'Set priority', 'generate']) expect(texts).toContain(label)
    expect([...stops.values()].filter((stop) => stop.outline !== 'solid 3px')).toEqual([])
    // Space opens an action's question with Cancel focused; Escape closes it and nothing is called.
    const suspend = page.getByRole('button', { name: 'Suspend', exact: true })
    await suspend.focus()
    await page.keyboard.press('Space')
    await page.getByRole('dialog').waitFor()
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Cancel')
    await page.keyboard.press('Escape')
    await page.getByRole('dialog').waitFor({ state: 'hidden' })
    expect(calls).toEqual([])
    // Enter opens Resume's question; Tab to its confirm button, Enter runs it.
    await page.getByRole('button', { name: 'Resume', exact: true }).focus()
    await page.keyboard.press('Enter')
    await page.getByRole('dialog').waitFor()
    await page.keyboard.press('Tab')
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Resume')
    await page.keyboard.press('Enter')
    await page.getByText('Resume: the dataset was processing already.').waitFor()
    expect(calls).toEqual([`POST /datasets/${datasetId}/dataset_actions/resume {}`])
    expect((await api('GET', `/datasets/${datasetId}`)).status).toBe('processing')
    expectNoProblems(problems)
  })
})

describe('the pages lent to the tests', () => {
  // The file's own pool, with every page it may lend counted against this test (the last to take its turn):
  // no other test takes a page meanwhile, so each page taken is the one released just before, and no context is made for this test alone.
  pageTest('a page lent again keeps nothing of the test before, whether it ended on the server or on another page', async () => {
    const pool = pages
    const leaveBehind = async ({ page, context }: Tab) => {
      await page.goto(`${server.url}/healthz`)
      await page.evaluate(`sessionStorage.setItem(${JSON.stringify(TOKEN_KEY)}, "left behind"); localStorage.setItem("left", "behind")`)
      await context.addCookies([{ name: 'left', value: 'behind', url: server.url }])
      await context.grantPermissions(['geolocation'], { origin: server.url })
    }
    const expectNothingLeft = async ({ page, context }: Tab, lentBefore: Page) => {
      expect(page).toBe(lentBefore)
      expect(await context.cookies()).toEqual([])
      await page.goto(`${server.url}/healthz`)
      expect(await page.evaluate('[sessionStorage.length, localStorage.length]')).toEqual([0, 0])
      expect(await page.evaluate('navigator.permissions.query({ name: "geolocation" }).then((status) => status.state)')).not.toBe('granted')
    }
    // Ended on the server's origin.
    await using first = await pool.take()
    await leaveBehind(first)
    await first.release()
    await using second = await pool.take()
    await expectNothingLeft(second, first.page)
    // Ended on another page.
    await leaveBehind(second)
    await second.page.goto('about:blank')
    await second.release()
    await using third = await pool.take()
    await expectNothingLeft(third, first.page)
  }, PAGES_AT_ONCE)
})
