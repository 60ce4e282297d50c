import { z } from 'zod'
import { defineTool, type AgentTool } from '../../agents/index.ts'
import { MAX_PLAN_STEPS, type PlanStep } from './plan.ts'
import { MAX_PROMPT_CHARS } from './records.ts'

/** The tool a planner agent turns its plan into tasks with: a DAG the swarm then runs. */

export const PLAN_TOOL = 'plan_submit'

const step = z.object({
  ref: z.string().min(1).max(64).describe('a short name for the step, unique in the plan'),
  prompt: z.string().min(1).max(MAX_PROMPT_CHARS).describe('what the step must do'),
  role: z.string().max(64).optional().describe('agent role for the step (coder, reviewer, tester, ...)'),
  after: z.array(z.string().min(1).max(64)).max(MAX_PLAN_STEPS).optional().describe('refs of the steps that must be done first')
})

export function planTool (submit: (steps: PlanStep[]) => Promise<Array<{ ref: string, id: string }>>): AgentTool {
  return defineTool({
    name: PLAN_TOOL,
    description: 'Submit a plan to this swarm as tasks: each step runs once the steps it names in `after` are done. Cycles are refused.',
    input: z.object({ steps: z.array(step).min(1).max(MAX_PLAN_STEPS) }),
    run: async ({ steps }) => ({
      submitted: await submit(steps.map((s) => ({ ref: s.ref, prompt: s.prompt, ...(s.role === undefined ? {} : { role: s.role }), ...(s.after === undefined ? {} : { after: s.after }) })))
    })
  })
}
