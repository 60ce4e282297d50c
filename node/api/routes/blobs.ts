import { basename } from 'node:path'
import { PeerflowError } from '../../../crdt/index.ts'
import { FileRef, isRelativeFileName } from '../../../protocols/blob.ts'
import type { PeerflowNode } from '../../core/peerflow-node.ts'
import { ByteStreamResponse, type Route } from '../route.ts'

/** A file goes idle for this long mid-upload: the upload is dropped. */
const UPLOAD_IDLE_MS = 30_000

/** Stores the request body as a blob (a file to attach to a task); answers its name, hash and size. */
export const blobUploadRoute: Route = {
  method: 'PUT',
  path: '/blobs',
  rawBody: true,
  handle: async ({ node, query, request }) => {
    const name = query.get('name') ?? ''
    if (!isRelativeFileName(name) || name.length > 255) throw new PeerflowError('invalid', `invalid file name '${name.slice(0, 80)}'`)
    const declared = Number(request.headers['content-length'] ?? NaN)
    const max = node.config.blobs.maxFileBytes
    if (declared > max) throw new PeerflowError('too-large', `${name} is ${declared} bytes; this node accepts files up to ${max} bytes (blobs.maxFileBytes)`)
    request.setTimeout(UPLOAD_IDLE_MS, () => { request.destroy(new PeerflowError('timeout', `upload of ${name} stalled for ${UPLOAD_IDLE_MS} ms`)) })
    const stored = await node.blobs.importStream(request, max)
    return FileRef.parse({ name, ...stored })
  }
}

/** Every file the task names: attached ones first, then those its result carries. */
function filesOf (node: PeerflowNode, id: string): Array<FileRef & { holder: string }> {
  const task = node.tasks.show(id)
  return [
    ...task.files.map((file) => ({ ...file, holder: task.submittedBy })),
    ...task.resultFiles.map(({ worker, ...file }) => ({ ...file, holder: worker }))
  ]
}

/** The bytes of one of a task's files, fetched from the peer that holds it when this node does not. */
export const taskFileRoute: Route = {
  method: 'GET',
  path: '/tasks/:id/files/:name',
  handle: async ({ node, params, signal }) => {
    const id = params.id as string
    const wanted = params.name as string
    const files = filesOf(node, id)
    const file = files.findLast((candidate) => candidate.name === wanted) ?? files.findLast((candidate) => basename(candidate.name) === wanted)
    if (file === undefined) {
      throw new PeerflowError('not-found', `task ${id} has no file '${wanted}'${files.length === 0 ? '' : ` (files: ${files.map((f) => f.name).join(', ')})`}`)
    }
    await node.blobTransfer.fetch(file, [file.holder], signal)
    return new ByteStreamResponse('application/octet-stream', file.size, node.blobs.read(file.sha256, 0, file.size))
  }
}
