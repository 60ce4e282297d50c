export type { Entry, JsonValue, PeerId } from './entry.ts'
export { MAX_KEY_LENGTH, MAX_TAGS, MAX_TAG_LENGTH } from './entry.ts'
export {
  CorruptNamespaceError, InvalidEntryError, InvalidNamespaceError, InvalidUpdateError, NamespaceLimitError,
  StoreUnavailableError
} from './errors.ts'
export type { ErrorKind } from './peerflow-error.ts'
export { PeerflowError } from './peerflow-error.ts'
export type { NamespacePolicy, PolicyOverrides } from './policy.ts'
export { assertNamespaceName, DEFAULT_POLICY, PolicyTable, SEEDED_TTL_MS } from './policy.ts'
export { isNamespaceName, NAMESPACES } from './namespace-names.ts'
export type { ListOptions, NamespaceStats, PutOptions } from './namespace.ts'
export { LOCAL_ORIGIN, NamespaceDoc } from './namespace.ts'
export type { MemoryStoreOptions, NamespaceInfo, StoreListOptions, StorePutOptions, UpdateListener } from './store.ts'
export { MemoryStore, minimumChunkBytes } from './store.ts'
export type { ValidatedUpdate } from './remote-update.ts'
export { validateRemoteUpdate } from './remote-update.ts'
