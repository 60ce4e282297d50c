/** Whether an A2A answer is a stream of JSON-RPC responses (message/stream) rather than one. */
export function isStream (reply: unknown): reply is AsyncGenerator<unknown, void, undefined> {
  return typeof (reply as AsyncGenerator | null)?.[Symbol.asyncIterator] === 'function'
}
