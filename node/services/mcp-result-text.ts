import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'

/**
 * An MCP tool result as the text the model is given. Binary parts are described, not inlined: the
 * model cannot use base64 and it would eat the token budget. Text beyond `maxChars` is cut.
 */
export function resultText (result: CallToolResult, maxChars: number): string {
  const parts: string[] = []
  for (const block of result.content) {
    if (block.type === 'text') parts.push(block.text)
    else if (block.type === 'image' || block.type === 'audio') parts.push(`[${block.type} ${block.mimeType}, ${Math.floor(block.data.length * 3 / 4)} bytes, not shown]`)
    else if (block.type === 'resource_link') parts.push(`[resource ${block.uri}${block.description === undefined ? '' : `: ${block.description}`}]`)
    else if ('text' in block.resource) parts.push(block.resource.text)
    else parts.push(`[resource ${block.resource.uri}, ${Math.floor(block.resource.blob.length * 3 / 4)} bytes of binary, not shown]`)
  }
  if (parts.length === 0 && result.structuredContent !== undefined) parts.push(JSON.stringify(result.structuredContent))
  const text = parts.join('\n')
  return text.length <= maxChars ? text : `${text.slice(0, maxChars)}\n[cut: ${text.length - maxChars} more characters]`
}
