import { readFile, stat } from 'node:fs/promises'
import { CliError } from './client.ts'

/** Largest text file a command reads (prompts, PRDs): anything bigger would not fit a task record anyway. */
const MAX_INPUT_FILE_BYTES = 256 * 1024

/** Reads a UTF-8 text file named by `option`; a missing, unreadable or oversized file is a usage error. */
export async function readInputFile (path: string, option: string): Promise<string> {
  try {
    const info = await stat(path)
    if (!info.isFile()) throw new CliError(`${option}: '${path}' is not a file`, 2)
    if (info.size > MAX_INPUT_FILE_BYTES) throw new CliError(`${option}: '${path}' is ${info.size} bytes; at most ${MAX_INPUT_FILE_BYTES} are read`, 2)
    return await readFile(path, 'utf8')
  } catch (err) {
    if (err instanceof CliError) throw err
    const code = (err as NodeJS.ErrnoException).code
    throw new CliError(`${option}: cannot read '${path}'${code === 'ENOENT' ? ': no such file' : `: ${(err as Error).message}`}`, 2)
  }
}
