/**
 * The dashboard's script and styles, made by the macro when this file is
 * transpiled (see bundle-macro.ts). Imported only when a browser first asks
 * for the dashboard, so a server nobody opens it on never holds them.
 */
import { bundleDashboard } from './bundle-macro' with { type: 'macro' }

export const BUNDLE = bundleDashboard()
