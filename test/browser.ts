/**
 * A real browser for the dashboard's tests: Debian's Chromium (installed by
 * the test setup when missing, see debian-packages.ts), headless, driven by
 * playwright-core over its own protocol. Nothing here downloads a browser;
 * each launch gets a fresh profile (--user-data-dir), and the browser is told not to
 * reach anywhere by itself (no updates, sync or background requests).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { ensureDebianPackages } from './debian-packages'

export const CHROMIUM = '/usr/bin/chromium'

export interface TestBrowser {
  browser: Browser
  close(): Promise<void>
}

export async function launchBrowser(): Promise<TestBrowser> {
  await ensureDebianPackages({ purpose: 'the dashboard tests need Chromium', binaries: [CHROMIUM], packages: ['chromium'] })
  const profile = mkdtempSync(join(tmpdir(), 'iceprod-chromium-'))
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
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
    ],
    // Playwright gives the browser a fresh --user-data-dir of its own (in this folder), removed when it closes.
    tracesDir: profile,
  })
  return {
    browser,
    async close() {
      await browser.close()
      rmSync(profile, { recursive: true, force: true })
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
 * A new page (in a context of its own: its own sessionStorage) whose every
 * request to another origin than `serverUrl` is refused and recorded.
 */
export async function openPage(browser: Browser, serverUrl: string, options: { width?: number; height?: number } = {}): Promise<{ context: BrowserContext; page: Page; problems: PageProblems }> {
  const context = await browser.newContext({ viewport: { width: options.width ?? 1200, height: options.height ?? 900 }, serviceWorkers: 'block' })
  const problems: PageProblems = { consoleErrors: [], pageErrors: [], dialogs: [], foreignRequests: [] }
  const origin = new URL(serverUrl).origin
  await context.route('**/*', (route) => {
    const url = route.request().url()
    if (new URL(url).origin === origin) return route.continue()
    problems.foreignRequests.push(url)
    return route.abort('blockedbyclient')
  })
  const page = await context.newPage()
  page.on('console', (message) => {
    // A failed load's text does not name the URL: keep it beside the text.
    if (message.type() === 'error') problems.consoleErrors.push(`${message.text()} ${message.location().url}`.trim())
  })
  page.on('pageerror', (error) => problems.pageErrors.push(error.message))
  page.on('dialog', (dialog) => {
    problems.dialogs.push(`${dialog.type()}: ${dialog.message()}`)
    void dialog.dismiss()
  })
  return { context, page, problems }
}
