/** Namespace names travel in topics, keys and frames: keep them short and plain. */
export const NAMESPACE_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/

export function isValidNamespaceName (name: string): boolean {
  return NAMESPACE_NAME.test(name)
}
