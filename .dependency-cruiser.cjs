/**
 * Import rules, checked by `npm run check:cycles` (part of `npm test`):
 * no cycles anywhere, and layers import one way only: crdt <- protocols <- src <- node.
 */
const layer = (name, forbidden) => ({
  name: `${name}-imports-upward`,
  comment: `${name}/ may not import ${forbidden.join(', ')}/ (layers point one way: crdt <- protocols <- src <- node)`,
  severity: 'error',
  from: { path: `^${name}/` },
  to: { path: `^(${forbidden.join('|')})/` }
})

module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'an import cycle couples modules that should be separable; break it with a port or a move',
      severity: 'error',
      from: {},
      to: { circular: true }
    },
    layer('crdt', ['protocols', 'src', 'node']),
    layer('protocols', ['src', 'node']),
    layer('src', ['node'])
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist)/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js'] }
  }
}
