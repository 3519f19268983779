/**
 * The layering of src/, checked by `npm test` (scripts/test.sh runs `depcruise src`, and
 * test/foundation/structure.test.ts proves each rule catches its violation). Inner layers never import
 * outer ones:
 *
 *   domain (pure rules)  ←  db (SQL)  ←  activities / purchases  ←  portal routes, worker, command line
 *   workflows: deterministic code; only domain, its own modules, and activities' types and failure names
 *
 * ARCHITECTURE.md describes the layers; this file is what holds them.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Import circles make load order matter and hide which module owns what.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'domain-is-pure',
      severity: 'error',
      comment: 'src/domain holds pure types and rules: it imports only itself (no I/O, no framework).',
      from: { path: '^src/domain/' },
      to: { pathNot: '^src/domain/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'db-stays-inner',
      severity: 'error',
      comment:
        'src/db (SQL) may use domain, config types and auth helpers, never the HTTP layer, Temporal code, activities or the purchase module.',
      from: { path: '^src/db/' },
      to: {
        path: [
          '^src/(portal|purchases|temporal|workflows|activities|invariants)/',
          '^src/(worker|starter)\\.ts$',
          '^node_modules/@temporalio/',
        ],
      },
    },
    {
      name: 'workflows-stay-deterministic',
      severity: 'error',
      comment:
        'Workflow code is bundled into the deterministic sandbox: no database, HTTP, Stripe, Temporal client or Node module; activities only as types (failure names excepted).',
      from: { path: '^src/workflows/' },
      to: {
        path: [
          '^src/(db|portal|purchases|temporal|stripe|invariants|auth)/',
          '^src/(config|logger|worker|starter)\\.ts$',
          '^node_modules/(postgres|stripe|fastify|@temporalio/(client|worker|activity))/',
        ],
      },
    },
    {
      name: 'workflows-use-activity-types-only',
      severity: 'error',
      comment: 'The workflow proxies activities by type; only the failure names (a pure module) are values.',
      from: { path: '^src/workflows/' },
      to: {
        path: '^src/activities/',
        pathNot: '^src/activities/failures\\.ts$',
        dependencyTypesNot: ['type-only'],
      },
    },
    {
      name: 'workflows-no-node-builtins',
      severity: 'error',
      comment: 'Node modules are not available in the workflow sandbox.',
      from: { path: '^src/workflows/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'routes-only-from-the-app',
      severity: 'error',
      comment:
        'Route modules are HTTP adapters: only the app (and the portal and admin plugins, which register their sub-plugins behind their auth) imports them. Shared logic lives in src/purchases or src/db.',
      from: { path: '^src/', pathNot: '^src/portal/(app|routes/(portal|admin))\\.ts$' },
      to: { path: '^src/portal/routes/' },
    },
    {
      name: 'route-plugins-not-shared',
      severity: 'error',
      comment:
        'The admin and portal plugins register their own sub-plugins only; a function shared by two route files belongs in src/purchases or src/db, not in a route file.',
      from: { path: '^src/portal/routes/(admin|portal)\\.ts$' },
      to: { path: '^src/portal/routes/(admin|portal|webhooks|page)\\.ts$' },
    },
    {
      name: 'admin-not-portal-routes',
      severity: 'error',
      comment:
        'Admin (API key) and portal (session token) routes stay apart: the admin plugin never imports the portal checkout.',
      from: { path: '^src/portal/routes/admin\\.ts$' },
      to: { path: '^src/portal/routes/(checkout|test-mode)\\.ts$' },
    },
    {
      name: 'activities-stay-below-clients',
      severity: 'error',
      comment: 'Activities do I/O for the workflow; they never start workflows or answer HTTP.',
      from: { path: '^src/activities/' },
      to: { path: ['^src/(portal|purchases|temporal|workflows)/', '^node_modules/@temporalio/client/'] },
    },
    {
      name: 'purchases-no-http',
      severity: 'error',
      comment:
        'The purchase module is called by HTTP routes, the command line and the worker: it knows none of them.',
      from: { path: '^src/purchases/' },
      to: { path: ['^src/portal/', '^node_modules/fastify/', '^src/(worker|starter)\\.ts$'] },
    },
    {
      name: 'src-not-from-tests-or-scripts',
      severity: 'error',
      comment: 'Product code never imports test support or the stack scripts.',
      from: { path: '^src/' },
      to: { path: '^(test|scripts|tools)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    preserveSymlinks: true,
    exclude: { path: '(^|/)(page)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
