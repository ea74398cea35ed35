// The module boundaries of DESIGN.md / ARCHITECTURE.md, checked in `npm test`
// (`npm run lint:deps`): which top-level folder may import which, only through
// the other folder's index.ts (or its node/index.ts for Node-only parts), and
// no Node built-ins where code must run in a browser.
const PRODUCT = ['protocol', 'recommender', 'privacy', 'client', 'coordinator', 'simulations', 'cli'];

/** DESIGN.md's table: the folders each product folder may import (besides itself). */
const MAY_IMPORT = {
  protocol: [],
  recommender: [],
  privacy: ['protocol'],
  client: ['protocol', 'privacy', 'recommender'],
  coordinator: ['protocol', 'privacy', 'recommender'],
  simulations: ['coordinator', 'client', 'privacy', 'recommender', 'protocol'],
  cli: ['protocol', 'recommender', 'privacy', 'client', 'coordinator', 'simulations'],
};

const folderRules = Object.entries(MAY_IMPORT).map(([from, allowed]) => {
  const forbidden = PRODUCT.filter((f) => f !== from && !allowed.includes(f)).concat(['bench', 'test', 'scripts']);
  return {
    name: `${from}-imports-only-${allowed.join('-') || 'nothing'}`,
    comment: `${from}/ may import only ${allowed.join(', ') || 'no other folder of ours'} (DESIGN.md's dependency table)`,
    severity: 'error',
    from: { path: `^${from}/` },
    to: { path: `^(${forbidden.join('|')})/` },
  };
});

module.exports = {
  forbidden: [
    ...folderRules,
    {
      name: 'only-through-index',
      comment: "another folder is reached only through its public surface: <folder>/index.ts, or <folder>/node/index.ts for its Node-only parts",
      severity: 'error',
      from: { path: `^(${PRODUCT.join('|')})/` },
      to: {
        path: `^(${PRODUCT.join('|')})/`,
        pathNot: [`^$1/`, `^(${PRODUCT.join('|')})/index\\.ts$`, `^(protocol|recommender|client)/node/index\\.ts$`, '^coordinator/server/index\\.ts$'],
      },
    },
    {
      name: 'simulations-without-server',
      comment: 'simulations run the engine in-process: they must not load express or socket.io (coordinator/server/ is the socket coordinator)',
      severity: 'error',
      from: { path: '^simulations/' },
      to: { path: '(^coordinator/server/|node_modules/(express|socket\\.io)/)', reachable: true },
    },
    {
      name: 'browser-safe',
      comment: 'protocol, privacy, recommender and client run in browsers too: Node built-ins only in their node/ sub-folders',
      severity: 'error',
      from: { path: '^(protocol|privacy|recommender|client)/', pathNot: '^(protocol|recommender|client)/node/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'no-circular-folders',
      comment: 'no cycles between top-level folders',
      severity: 'error',
      from: { path: `^(${PRODUCT.join('|')})/` },
      to: { circular: true, path: `^(${PRODUCT.join('|')})/`, pathNot: '^$1/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.mjs', '.js', '.json'] },
  },
};
