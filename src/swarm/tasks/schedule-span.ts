import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import type { Assignment } from './records.ts'

/**
 * A span per scheduling decision the leader makes, from the decision until the assignment is
 * durable in replicated memory (a no-op without a registered tracer provider).
 */
export async function traceAssignment (swarm: string, task: string, assignment: Assignment, written: Promise<void>): Promise<void> {
  const span = trace.getTracer('peerflow').startSpan('schedule_task', {
    kind: SpanKind.INTERNAL,
    attributes: {
      'peerflow.task.id': task,
      'peerflow.swarm': swarm,
      'peerflow.task.stage': assignment.stage,
      'peerflow.task.term': assignment.term,
      'peerflow.task.assignment': assignment.reason,
      ...(assignment.worker === null ? {} : { 'peerflow.task.worker': assignment.worker })
    }
  })
  try {
    await written
    span.end()
  } catch (err) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message })
    span.end()
    throw err
  }
}
