import pkg from '../package.json'

/** The program's version, from package.json. */
export const VERSION: string = pkg.version
