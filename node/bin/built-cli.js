// Plain JavaScript, like the bin that uses it: whether the compiled CLI in dist/ is current.
// `npm run build` removes the stamp, creates it when it starts and renames it into place when it
// ends, so its time is the start of the last complete build: an edit made during a build counts as newer.
import { readdirSync, statSync } from 'node:fs'

const root = new URL('../../', import.meta.url)
export const BUILT_CLI = new URL('dist/node/cli/main.js', root)
const BUILD_STAMP = new URL('dist/.build-stamp', root)
const BUILT_FROM = ['node/', 'protocols/', 'crdt/', 'src/', 'package.json', 'bootstrap.json']

/** Newest modification time under `url` (a file, or a directory walked recursively). */
function newestChange (url) {
  const stats = statSync(url, { throwIfNoEntry: false })
  if (stats === undefined) return 0
  if (!stats.isDirectory()) return stats.mtimeMs
  let newest = stats.mtimeMs
  for (const entry of readdirSync(url, { withFileTypes: true })) {
    const child = new URL(entry.isDirectory() ? `${entry.name}/` : entry.name, url)
    newest = Math.max(newest, newestChange(child))
  }
  return newest
}

/** Whether dist/ holds a build at least as new as every file it is built from. */
export function builtCliIsCurrent () {
  const built = statSync(BUILD_STAMP, { throwIfNoEntry: false })?.mtimeMs
  if (built === undefined) return false
  return BUILT_FROM.every((path) => newestChange(new URL(path, root)) <= built)
}

