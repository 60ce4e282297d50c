export type ReasoningBankErrorCode =
  | 'EMPTY_QUERY'
  | 'UNKNOWN_NAMESPACE'
  | 'UNKNOWN_PATTERN'
  | 'DIMENSION_MISMATCH'
  | 'INVALID_INPUT'
  | 'CLOSED'

/** A caller mistake the bank reports in words; `code` lets the CLI and API map it without parsing text. */
export class ReasoningBankError extends Error {
  readonly code: ReasoningBankErrorCode

  constructor (code: ReasoningBankErrorCode, message: string) {
    super(message)
    this.name = 'ReasoningBankError'
    this.code = code
  }
}
