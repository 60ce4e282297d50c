import { randomBytes } from 'node:crypto'
import { stat, statfs, unlink, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { failed, passed, type CheckResult } from './check.ts'

/** Below this the LevelDB logs, the vector index and the task records soon stop fitting. */
export const MIN_FREE_BYTES = 512 * 1024 * 1024

async function nearestExisting (path: string): Promise<string> {
  for (let current = path; ; current = dirname(current)) {
    try {
      await stat(current)
      return current
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(current) === current) throw err
    }
  }
}

function gib (bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`
}

/** The data dir (or, before the first start, the folder it will be created in) is writable and has room. */
export async function checkDataDir (dataDir: string, minFreeBytes = MIN_FREE_BYTES): Promise<CheckResult> {
  const name = 'data dir'
  const existing = await nearestExisting(dataDir)
  const info = await stat(existing)
  if (!info.isDirectory()) {
    return failed(name, `${existing} is not a directory`, `remove it, or choose another data dir with --data or PEERFLOW_DATA`)
  }
  const probe = join(existing, `.peerflow-doctor-${randomBytes(4).toString('hex')}`)
  try {
    await writeFile(probe, '', { flag: 'wx' })
    await unlink(probe)
  } catch (err) {
    return failed(name, `${existing} is not writable by this user: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      `run peerflow as the directory's owner, or fix it with: chown -R "$(id -u)" ${existing}`)
  }
  const space = await statfs(existing)
  const free = space.bavail * space.bsize
  const where = existing === dataDir ? `${dataDir} is writable` : `${dataDir} is not created yet; ${existing} is writable`
  if (free < minFreeBytes) {
    return failed(name, `${where} but has only ${gib(free)} free`, `free at least ${gib(minFreeBytes)} on that file system, or move the data dir (--data)`)
  }
  return passed(name, `${where}, ${gib(free)} free`)
}
