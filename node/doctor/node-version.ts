import { failed, passed, type CheckResult } from './check.ts'

/** peerflow runs its TypeScript directly, which needs Node's type stripping (22.18 on). */
const MINIMUM = [22, 18] as const

export function checkNodeVersion (version = process.versions.node, typeStripping: string | false = process.features.typescript): CheckResult {
  const name = 'Node.js version'
  const [major = 0, minor = 0] = version.split('.').map(Number)
  const recentEnough = major > MINIMUM[0] || (major === MINIMUM[0] && minor >= MINIMUM[1])
  if (!recentEnough) {
    return failed(name, `v${version}; peerflow needs ${MINIMUM.join('.')} or newer`,
      "install Node 24, or run peerflow through npm ('npm start', 'npx peerflow'), which uses the project's pinned Node 24")
  }
  if (typeStripping === false) {
    return failed(name, `v${version} with TypeScript type stripping turned off`, 'remove --no-experimental-strip-types from NODE_OPTIONS')
  }
  return passed(name, `v${version}`)
}
