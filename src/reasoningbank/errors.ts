import { PeerflowError, type ErrorKind } from '../../crdt/index.ts'

export type ReasoningBankErrorCode =
  | 'EMPTY_QUERY'
  | 'UNKNOWN_NAMESPACE'
  | 'UNKNOWN_PATTERN'
  | 'DIMENSION_MISMATCH'
  | 'INVALID_INPUT'
  | 'CLOSED'
  | 'INDEX_UNAVAILABLE'

const KIND_OF_CODE: Record<ReasoningBankErrorCode, ErrorKind> = {
  EMPTY_QUERY: 'invalid',
  UNKNOWN_NAMESPACE: 'not-found',
  UNKNOWN_PATTERN: 'not-found',
  DIMENSION_MISMATCH: 'invalid',
  INVALID_INPUT: 'invalid',
  CLOSED: 'unavailable',
  INDEX_UNAVAILABLE: 'unavailable'
}

/** A caller mistake the bank reports in words; `code` says which, `kind` how callers treat it. */
export class ReasoningBankError extends PeerflowError {
  override name = 'ReasoningBankError'
  readonly code: ReasoningBankErrorCode

  constructor (code: ReasoningBankErrorCode, message: string) {
    super(KIND_OF_CODE[code], message)
    this.code = code
  }
}
