import { lstat, realpath } from 'node:fs/promises'
import { dirname, isAbsolute, join, normalize, relative, sep } from 'node:path'

/**
 * Paths an agent names inside its workspace. Refused: absolute paths, any path that leaves the
 * workspace once normalized (`..`), and any path that reaches outside through a symlink, whether
 * the link is the file itself or one of the directories on the way.
 */

export class WorkspaceEscapeError extends Error {
  override name = 'WorkspaceEscapeError'
}

function inside (root: string, target: string): boolean {
  const rel = relative(root, target)
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel))
}

/** The real, absolute path of `path` (relative to `root`), checked to stay inside it. `path` need not exist yet. */
export async function resolveInside (root: string, path: string): Promise<string> {
  if (path.includes('\0')) throw new WorkspaceEscapeError(`refused '${path}': contains a NUL byte`)
  if (isAbsolute(path) || /^[a-zA-Z]:[\\/]/.test(path)) throw new WorkspaceEscapeError(`refused '${path}': absolute paths are not allowed; use a path relative to the workspace`)
  const realRoot = await realpath(root)
  const target = join(realRoot, normalize(path))
  if (!inside(realRoot, target)) throw new WorkspaceEscapeError(`refused '${path}': it leaves the workspace`)
  // The deepest part of the path that exists decides where it really points.
  let existing = target
  for (;;) {
    const info = await lstat(existing).catch(() => undefined)
    if (info !== undefined) break
    const parent = dirname(existing)
    if (parent === existing) break
    existing = parent
  }
  const real = await realpath(existing)
  if (!inside(realRoot, real)) throw new WorkspaceEscapeError(`refused '${path}': a symlink on the way points outside the workspace`)
  const info = await lstat(target).catch(() => undefined)
  if (info?.isSymbolicLink() === true) {
    const linked = await realpath(target).catch(() => undefined)
    if (linked === undefined || !inside(realRoot, linked)) throw new WorkspaceEscapeError(`refused '${path}': it is a symlink to outside the workspace`)
  }
  return target
}

/** The workspace-relative form with '/' separators, as tools report paths back. */
export function workspaceRelative (root: string, absolute: string): string {
  return relative(root, absolute).split(sep).join('/')
}
