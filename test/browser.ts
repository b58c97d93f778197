/**
 * A real browser for the dashboard's tests: Debian's Chromium in its headless
 * shell (package chromium-headless-shell, built from Debian's chromium source:
 * the same Blink and V8 without the desktop browser around them, as
 * Playwright's own headless runs use; installed by the test setup when
 * missing, see debian-packages.ts), driven by playwright-core over its own
 * protocol. The desktop build's headless mode costs the suite some 4–5 s more
 * CPU time (2 s of wall time) for the same pages (docs/BENCHMARKS.md).
 * Nothing here downloads a browser; each launch gets a fresh profile
 * (--user-data-dir), and the browser is told not to reach anywhere by itself
 * (no updates, sync or background requests) and can reach nothing but this
 * machine: every other address goes to a proxy that is not there.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type BrowserContext, type Page, type Request } from 'playwright-core'
import { ensureDebianPackages } from './debian-packages'

export const CHROMIUM = '/usr/lib/chromium/chromium-headless-shell'
/** The discard port on loopback, where nothing listens: a proxy every connection to fails. */
const NO_PROXY = 'http://127.0.0.1:9'
/** Features switched off besides Playwright's own list. */
const DISABLED_FEATURES = [
  // A new frame host for every navigation, even within the site: some 18 ms more of the browser's CPU time a page load.
  'RenderDocument',
  // A renderer process started ahead for the next navigation: it is one context's, so with the pool's
  // three contexts it was thrown away and started again at nearly every navigation (a dozen a run).
  'SpareRendererForSitePerProcess',
]

/**
 * Chromium keeps only the last --disable-features of its command line, and
 * Playwright passes one of its own before ours: a script in front of
 * Chromium joins them into one, so that Playwright's list (whatever its
 * version holds) stays disabled with ours.
 */
const JOIN_DISABLED_FEATURES = `#!/bin/sh
disabled=
for arg do
  shift
  case $arg in
    --disable-features=*) disabled=\${disabled:+$disabled,}\${arg#--disable-features=} ;;
    *) set -- "$@" "$arg" ;;
  esac
done
exec ${CHROMIUM} \${disabled:+"--disable-features=$disabled"} "$@"
`

export interface TestBrowser {
  browser: Browser
  close(): Promise<void>
}

export async function launchBrowser(): Promise<TestBrowser> {
  await ensureDebianPackages({ purpose: 'the dashboard tests need Chromium', binaries: [CHROMIUM], packages: ['chromium-headless-shell'] })
  const folder = mkdtempSync(join(tmpdir(), 'iceprod-chromium-'))
  // The script in front of Chromium lives in the launch's folder, removed with it.
  const executablePath = join(folder, 'chromium')
  writeFileSync(executablePath, JOIN_DISABLED_FEATURES)
  chmodSync(executablePath, 0o755)
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // The pages' scripts live for seconds: V8's optimizing compilers (Maglev and TurboFan, run on the
      // browser's worker threads) cost more CPU time than the code they make wins back.
      '--js-flags=--no-opt --no-maglev',
      `--disable-features=${DISABLED_FEATURES.join(',')}`,
      // Loopback goes direct (the server under test); anything else fails at once, without
      // the test process having to pass each request on (as request interception would).
      `--proxy-server=${NO_PROXY}`,
      '--proxy-bypass-list=127.0.0.1',
    ],
    // Playwright gives the browser a fresh --user-data-dir of its own (a playwright_chromiumdev_profile-* temp folder) and removes it when the browser closes; its traces, if any, go here.
    tracesDir: folder,
  })
  return {
    browser,
    async close() {
      await browser.close()
      rmSync(folder, { recursive: true, force: true })
    },
  }
}

/** What a page did that a test must fail on: console errors, uncaught errors, dialogs (an injected alert), requests to anywhere but the server. */
export interface PageProblems {
  consoleErrors: string[]
  pageErrors: string[]
  dialogs: string[]
  foreignRequests: string[]
}

/**
 * A page lent to one test: its problems are that test's alone, and `release` gives it back.
 * Taken with `await using`, it is given back however its test ends, a failed one included.
 */
export interface Tab extends AsyncDisposable {
  context: BrowserContext
  page: Page
  problems: PageProblems
  /** Listens to the page's requests until the tab is released. */
  onRequest(listener: (request: Request) => void): void
  /**
   * Gives the page back blank for the next test: the server origin's sessionStorage (the token) and localStorage, the context's cookies and permissions cleared, the listeners added through the tab removed.
   * The document stays until the next test's first navigation (which every test starts with): what it does meanwhile is no test's problem.
   * Once only (a second call does nothing); a page that cannot be cleared is closed instead of lent again.
   */
  release(): Promise<void>
}

interface PooledPage {
  context: BrowserContext
  page: Page
  viewport: { width: number; height: number }
  /** The problems of the test the page is lent to (its console errors, uncaught errors and dialogs from its first navigation on). */
  problems: PageProblems
  /** False from the page's lending until its test's first navigation: the document before is the last test's. */
  recording: boolean
}

const noProblems = (): PageProblems => ({ consoleErrors: [], pageErrors: [], dialogs: [], foreignRequests: [] })

/**
 * Pages for the tests, each in a context of its own (its own sessionStorage)
 * whose every request to another origin than `serverUrl` is recorded (and
 * fails, see NO_PROXY, unless it is to this machine). A released page is lent again rather than closed: a new context
 * and its renderer process cost the browser more CPU time than most steps of
 * a test.
 */
export class PagePool {
  private readonly idle: PooledPage[] = []

  private readonly origin: string

  constructor(
    private readonly browser: Browser,
    private readonly serverUrl: string,
  ) {
    this.origin = new URL(serverUrl).origin
  }

  async take(options: { width?: number; height?: number } = {}): Promise<Tab> {
    const viewport = { width: options.width ?? 1200, height: options.height ?? 900 }
    const pooled = this.idle.pop() ?? (await this.create(viewport))
    if (pooled.viewport.width !== viewport.width || pooled.viewport.height !== viewport.height) {
      await pooled.page.setViewportSize(viewport)
      pooled.viewport = viewport
    }
    pooled.problems = noProblems()
    pooled.recording = false
    const listeners: ((request: Request) => void)[] = []
    let released: Promise<void> | undefined
    const release = () => (released ??= this.giveBack(pooled, listeners))
    return {
      context: pooled.context,
      page: pooled.page,
      problems: pooled.problems,
      onRequest(listener) {
        listeners.push(listener)
        pooled.page.on('request', listener)
      },
      release,
      [Symbol.asyncDispose]: release,
    }
  }

  private async giveBack(pooled: PooledPage, listeners: ((request: Request) => void)[]): Promise<void> {
    for (const listener of listeners) pooled.page.off('request', listener)
    try {
      // The tab's storage for the server's origin lives on, and can be cleared
      // only from a page of that origin: where the test ended on another, one is loaded.
      if (new URL(pooled.page.url()).origin !== this.origin) await pooled.page.goto(new URL('/healthz', this.serverUrl).href)
      await pooled.page.evaluate('sessionStorage.clear(); localStorage.clear()')
      await pooled.context.clearCookies()
      await pooled.context.clearPermissions()
    } catch {
      // Whatever the test left (a crashed or closed page), no later test gets it.
      await pooled.context.close().catch(() => {})
      return
    }
    this.idle.push(pooled)
  }

  private async create(viewport: { width: number; height: number }): Promise<PooledPage> {
    const context = await this.browser.newContext({ viewport, serviceWorkers: 'block' })
    const page = await context.newPage()
    const pooled: PooledPage = { context, page, viewport, problems: noProblems(), recording: false }
    // Events come in the order the page made them: what a document did before the next one is committed is that document's.
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) pooled.recording = true
    })
    // Every request to elsewhere counts, a test's first navigation's too (made before its document is committed).
    context.on('request', (request) => {
      if (new URL(request.url()).origin !== this.origin) pooled.problems.foreignRequests.push(request.url())
    })
    page.on('console', (message) => {
      // A failed load's text does not name the URL: keep it beside the text.
      if (pooled.recording && message.type() === 'error') pooled.problems.consoleErrors.push(`${message.text()} ${message.location().url}`.trim())
    })
    page.on('pageerror', (error) => {
      if (pooled.recording) pooled.problems.pageErrors.push(error.message)
    })
    page.on('dialog', (dialog) => {
      if (pooled.recording) pooled.problems.dialogs.push(`${dialog.type()}: ${dialog.message()}`)
      void dialog.dismiss()
    })
    return pooled
  }
}
