import { trace } from '@opentelemetry/api'
import { VERSION } from './version.ts'

export interface Tracing {
  /** Exports what is buffered, then stops. */
  shutdown: () => Promise<void>
}

/**
 * Exports this process's spans (agent runs, model and tool calls, scheduling, catch-up) over OTLP
 * HTTP to `endpoint`, e.g. http://127.0.0.1:4318/v1/traces. Off unless configured. The tracer
 * provider is process-wide: when one is already registered (another node in this process, or the
 * embedding program's own), this node's spans go there and nothing is started here.
 * The SDK and exporter are loaded only then: about 23 MB of RSS a node without tracing never needs.
 */
export async function startOtlpTracing (endpoint: string, peerId: string): Promise<Tracing | undefined> {
  const [{ OTLPTraceExporter }, { resourceFromAttributes }, { BatchSpanProcessor, TracerProvider }] = await Promise.all([
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace')
  ])
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'peerflow', 'service.version': VERSION, 'service.instance.id': peerId }),
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: endpoint, timeoutMillis: 10_000 }) })]
  })
  if (!trace.setGlobalTracerProvider(provider)) {
    void provider.shutdown()
    return undefined
  }
  return {
    shutdown: async () => {
      await provider.shutdown()
      trace.disable()
    }
  }
}
