// Run by `npm install` (postinstall). Builds the ReasoningBank's int8 HNSW addon
// (src/reasoningbank/native): one hnswlib graph of int8 vectors that every core inserts into at once.
//
// It compiles with -O3 -march=native unless PEERFLOW_PORTABLE_NATIVE=1 (set by the Dockerfile): the
// distance kernels are picked at run time either way, the rest of the graph code gains about 10 %
// (docs/BENCHMARKS.md, Vectors). A failed build never fails the install: the bank then uses hnswlib-node
// float32 shards and `peerflow doctor` and `patterns stats` say why. Plain JavaScript: it runs before
// any build.
import { spawnSync } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const say = (line) => { process.stderr.write(`peerflow: ${line}\n`) }
const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'reasoningbank', 'native')
const gyp = process.env.npm_config_node_gyp
const portable = process.env.PEERFLOW_PORTABLE_NATIVE === '1'

if (gyp === undefined || !existsSync(gyp)) {
  say('node-gyp not found (run through npm install); the ReasoningBank will use float32 shards')
} else {
  say(`building the int8 HNSW addon${portable ? ' (portable)' : ' for this CPU'} (about 10 s)…`)
  const build = spawnSync(process.execPath, [gyp, 'rebuild'], {
    cwd: dir,
    env: { ...process.env, CXXFLAGS: `${process.env.CXXFLAGS ?? ''} -O3${portable ? '' : ' -march=native'}`.trim() },
    encoding: 'utf8'
  })
  // The addon must load here and find a vector's own neighbour, or it is removed.
  const check = build.status === 0 && spawnSync(process.execPath, ['-e', `
    const { QuantizedHnsw } = require(${JSON.stringify(join(dir, 'build', 'Release', 'quantized_hnsw.node'))})
    const index = new QuantizedHnsw(8, 4, 16, 50, 1)
    index.add(0, new Float32Array([1, 0, 0, 0, 0, 0, 0, 0]), false)
    index.add(1, new Float32Array([0, 1, 0, 0, 0, 0, 0, 0]), false)
    if (index.search(new Float32Array([0.9, 0.1, 0, 0, 0, 0, 0, 0]), 1).labels[0] !== 0) process.exit(1)
  `], { encoding: 'utf8' })
  if (check !== false && check.status === 0) {
    say('int8 HNSW addon built')
  } else {
    rmSync(join(dir, 'build'), { recursive: true, force: true })
    const output = `${build.stderr ?? ''}${check === false ? '' : check.stderr ?? ''}`.trim().split('\n').slice(-3).join('\n')
    say(`the int8 HNSW addon did not build; the ReasoningBank will use float32 shards:\n${output}`)
  }
}
