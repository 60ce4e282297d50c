import { z } from 'zod'
import { defineTool, type AgentTool } from '../../agents/index.ts'
import { MAX_CHECKPOINT_CHARS } from './records.ts'

/** How an agent ends a loop iteration: a checkpoint for the next one, or the declaration that the work is complete. */

export interface IterationEnd {
  note: string
  complete: boolean
}

export const CHECKPOINT_TOOL = 'checkpoint'
export const COMPLETE_TOOL = 'complete'

const note = z.string().min(1).max(MAX_CHECKPOINT_CHARS)

/** Tools for one iteration; `ended()` says how the agent ended it (the last call wins), undefined when it called neither. */
export function iterationTools (): { tools: AgentTool[], ended: () => IterationEnd | undefined } {
  let end: IterationEnd | undefined
  const tools = [
    defineTool({
      name: CHECKPOINT_TOOL,
      description: 'End this loop iteration: record what you did and what comes next. The next iteration starts from this note.',
      input: z.object({ note: note.describe('what was done, what remains, what to do next') }),
      run: async (input) => {
        end = { note: input.note, complete: false }
        return 'checkpoint recorded; end your turn now'
      }
    }),
    defineTool({
      name: COMPLETE_TOOL,
      description: 'Declare the whole job (the PRD) complete. The loop stops after this iteration.',
      input: z.object({ note: note.describe('a summary of the finished work') }),
      run: async (input) => {
        end = { note: input.note, complete: true }
        return 'completion recorded; end your turn now'
      }
    })
  ]
  return { tools, ended: () => end }
}
