import { pino, type Logger } from 'pino'
import pretty from 'pino-pretty'
import type { NodeConfig } from '../config/config.ts'

export type { Logger }

/** JSON lines by default (for collectors); human-readable when attached to a terminal. */
export function createLogger (level: NodeConfig['logLevel'], stream: NodeJS.WriteStream = process.stderr): Logger {
  if (stream.isTTY) {
    return pino({ level }, pretty({ destination: stream, colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' }))
  }
  return pino({ level }, stream)
}
