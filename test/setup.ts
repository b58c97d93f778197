// Loaded before every test file (bunfig.toml): tests that start real processes need more than the 5 s default.
import { setDefaultTimeout } from 'bun:test'

setDefaultTimeout(60_000)
