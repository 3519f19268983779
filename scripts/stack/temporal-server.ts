import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { msNumberToTs } from '@temporalio/common';
import type { Config } from '../../src/config';
import { explainConnectionError, temporalConnectionOptions } from '../../src/temporal/connection';
import { customSearchAttributes } from '../../src/workflows/purchase/search-attributes';
import { managedProcess } from './managed-process';
import { componentDir } from './paths';
import { StackError, waitUntil } from './processes';
import { addMissingSearchAttributes } from './search-attributes';
import { ensureTemporalServer, ensureTemporalUi } from './tools';

/**
 * TEMPORAL_MODE=server: the Temporal server 1.29.1 as a production cluster runs it (one process with
 * its four services), on SQL persistence and SQL visibility in two databases of the project's Postgres,
 * with the Temporal UI server 2.42.1 beside it. docs/temporal-server.md describes it.
 */

export const TEMPORAL_DATABASE = 'temporal';
export const TEMPORAL_VISIBILITY_DATABASE = 'temporal_visibility';
/** How long a namespace keeps closed workflows (the dev server keeps them a day). */
const NAMESPACE_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * The services' ports, from TEMPORAL_PORT (the frontend's gRPC port). With 7233 they are Temporal's own
 * defaults: history 7234, matching 7235, worker 7239, frontend HTTP 7243, membership 6933-6939
 * (membership ports 300 below, minus 32768 when above it).
 */
export function temporalServerPorts(config: Config) {
  const p = config.TEMPORAL_PORT;
  // Temporal stores membership ports as a SQL smallint: they must stay below 32768, so above it they
  // wrap around (47233 → 14165…).
  const m = (p - 300) % 32_768;
  const services = {
    frontend: { grpcPort: p, membershipPort: m, httpPort: p + 10 },
    history: { grpcPort: p + 1, membershipPort: m + 1 },
    matching: { grpcPort: p + 2, membershipPort: m + 2 },
    worker: { grpcPort: p + 6, membershipPort: m + 6 },
  };
  const all = Object.entries(services).flatMap(([name, ports]) =>
    Object.entries(ports).map(([kind, port]) => ({ port, what: `${name} ${kind}` })),
  );
  for (const { port, what } of all) {
    if (port < 1 || port > (what.endsWith('membershipPort') ? 32_767 : 65_535)) {
      throw new StackError(
        `TEMPORAL_PORT ${p} puts the server's ${what} on port ${port}; use a port between 301 and 65525`,
      );
    }
  }
  return { services, all };
}

function databaseEndpoint(config: Config) {
  const url = new URL(config.databaseUrl);
  return {
    host: url.hostname,
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
  };
}

function serverDir(config: Config) {
  return componentDir(config, 'temporal-server');
}

/** Runs temporal-sql-tool against one database; returns its output, throws with it on failure. */
function sqlTool(tool: string, config: Config, database: string, args: string[]): string {
  const db = databaseEndpoint(config);
  const result = spawnSync(
    tool,
    [
      '--plugin',
      'postgres12',
      '--ep',
      db.host,
      '--port',
      String(db.port),
      '--user',
      db.user,
      ...(db.password ? ['--password', db.password] : []),
      '--db',
      database,
      ...args,
    ],
    { encoding: 'utf8', timeout: 300_000 },
  );
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  if (result.status !== 0) {
    throw new StackError(
      `temporal-sql-tool ${args[0]} on ${database} failed (exit ${result.status}): ${output.trim().slice(-2_000)}`,
    );
  }
  return output;
}

/**
 * Creates the two databases when missing and applies, then upgrades, their schemas with the tool
 * (setup-schema only writes the version tables, and is a no-op once they exist; update-schema applies
 * every versioned step above the recorded version, so a newer server's schema is upgraded here too).
 */
export function setupTemporalSchemas(config: Config, sqlToolPath: string, log: (line: string) => void): void {
  const started = Date.now();
  for (const [database, schema] of [
    [TEMPORAL_DATABASE, 'postgresql/v12/temporal'],
    [TEMPORAL_VISIBILITY_DATABASE, 'postgresql/v12/visibility'],
  ] as const) {
    // The tool's create-database succeeds silently when the database exists (it ignores the duplicate
    // error), so its output cannot say whether it made one: the line below says "present" for both.
    sqlTool(sqlToolPath, config, database, ['create-database', '--defaultdb', 'postgres']);
    sqlTool(sqlToolPath, config, database, ['setup-schema', '-v', '0.0']);
    sqlTool(sqlToolPath, config, database, ['update-schema', '--schema-name', schema]);
  }
  log(
    `temporal-server: databases ${TEMPORAL_DATABASE} and ${TEMPORAL_VISIBILITY_DATABASE} present, schemas up to date (${Date.now() - started} ms)`,
  );
}

/** The files of the stack's own CA and certificates (TEMPORAL_SERVER_TLS=mtls). */
export function stackTlsFiles(config: Config) {
  const dir = config.temporalServerTlsDir;
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    caKey: join(dir, 'ca-key.pem'),
    server: join(dir, 'server.pem'),
    serverKey: join(dir, 'server-key.pem'),
    client: join(dir, 'client.pem'),
    clientKey: join(dir, 'client-key.pem'),
  };
}

function openssl(args: string[], what: string): void {
  const result = spawnSync('openssl', args, { encoding: 'utf8', timeout: 60_000 });
  if (result.error || result.status !== 0) {
    throw new StackError(
      `openssl (${what}) failed: ${result.error?.message ?? result.stderr.trim()}; TEMPORAL_SERVER_TLS=mtls needs openssl on PATH`,
    );
  }
}

/**
 * A CA, then a certificate signed by it, with P-256 keys. `usage` is serverAuth for the frontend (with
 * localhost and the loopback and bind addresses as names), clientAuth for clients.
 */
export function makeCertificate(
  dir: string,
  name: string,
  {
    ca,
    caKey,
    commonName,
    usage,
    hosts = [],
  }: {
    ca: string;
    caKey: string;
    commonName: string;
    usage: 'serverAuth' | 'clientAuth';
    hosts?: string[];
  },
): { cert: string; key: string } {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}-key.pem`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  const names = hosts.map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`));
  writeFileSync(
    ext,
    [
      `extendedKeyUsage=${usage}`,
      'keyUsage=digitalSignature',
      ...(names.length ? [`subjectAltName=${[...new Set(names)].join(',')}`] : []),
    ].join('\n'),
  );
  openssl(
    [
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      csr,
      '-subj',
      `/CN=${commonName}`,
    ],
    `${name} key`,
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      ca,
      '-CAkey',
      caKey,
      '-CAcreateserial',
      '-out',
      cert,
      '-days',
      '825',
      '-extfile',
      ext,
    ],
    `${name} certificate`,
  );
  return { cert, key };
}

export function makeCa(dir: string, name: string, commonName: string): { ca: string; caKey: string } {
  mkdirSync(dir, { recursive: true });
  const ca = join(dir, `${name}.pem`);
  const caKey = join(dir, `${name}-key.pem`);
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      caKey,
      '-out',
      ca,
      '-days',
      '3650',
      '-subj',
      `/CN=${commonName}`,
    ],
    `${name}`,
  );
  return { ca, caKey };
}

/** Made once per stack folder and kept (clients hold the CA), unless a file is missing. */
function ensureStackCertificates(config: Config, log: (line: string) => void) {
  const files = stackTlsFiles(config);
  if (Object.values(files).every((f) => existsSync(f))) return files;
  makeCa(files.dir, 'ca', 'credit-packs local Temporal CA');
  makeCertificate(files.dir, 'server', {
    ca: files.ca,
    caKey: files.caKey,
    commonName: 'localhost',
    usage: 'serverAuth',
    hosts: ['localhost', '127.0.0.1', '::1', config.BIND_HOST],
  });
  makeCertificate(files.dir, 'client', {
    ca: files.ca,
    caKey: files.caKey,
    commonName: 'credit-packs-worker',
    usage: 'clientAuth',
  });
  log(`temporal-server: made a CA and certificates for mTLS in ${files.dir}`);
  return files;
}

/** The server's static configuration (JSON is YAML): SQL persistence and visibility, ports, shards, TLS. */
function serverConfig(config: Config, dynamicConfigFile: string): Record<string, unknown> {
  const db = databaseEndpoint(config);
  const { services } = temporalServerPorts(config);
  const datastore = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `${db.host}:${db.port}`,
      connectProtocol: 'tcp',
      user: db.user,
      password: db.password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const host = config.BIND_HOST;
  const global: Record<string, unknown> = {
    membership: { maxJoinDuration: '30s', broadcastAddress: host === '0.0.0.0' ? '127.0.0.1' : host },
    pprof: { port: 0 },
  };
  if (config.TEMPORAL_SERVER_TLS === 'mtls') {
    const tls = stackTlsFiles(config);
    const client = { serverName: 'localhost', rootCaFiles: [tls.ca] };
    global.tls = {
      frontend: {
        server: {
          certFile: tls.server,
          keyFile: tls.serverKey,
          requireClientAuth: true,
          clientCaFiles: [tls.ca],
        },
        client,
      },
      // The server's own system workers call the frontend as clients too.
      systemWorker: { certFile: tls.client, keyFile: tls.clientKey, client },
    };
  }
  return {
    log: { stdout: true, level: 'warn', format: 'json' },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: config.TEMPORAL_HISTORY_SHARDS,
      datastores: {
        'postgres-default': datastore(TEMPORAL_DATABASE, 20),
        'postgres-visibility': datastore(TEMPORAL_VISIBILITY_DATABASE, 10),
      },
    },
    global,
    services: Object.fromEntries(
      Object.entries(services).map(([name, ports]) => [name, { rpc: { ...ports, bindOnIP: host } }]),
    ),
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: {
          enabled: true,
          initialFailoverVersion: 1,
          rpcName: 'frontend',
          rpcAddress: `${host}:${config.TEMPORAL_PORT}`,
        },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } },
    namespaceDefaults: { archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } } },
    dynamicConfigClient: { filepath: dynamicConfigFile, pollInterval: '10s' },
  };
}

/** Dynamic config: none of the dev server's shortcuts, only what a small cluster on one host wants. */
const DYNAMIC_CONFIG = `# Written by the stack manager (scripts/stack/temporal-server.ts) at each start.
frontend.enableUpdateWorkflowExecution:
  - value: true
frontend.enableUpdateWorkflowExecutionAsyncAccepted:
  - value: true
`;

async function withConnection<T>(config: Config, fn: (connection: Connection) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({
    ...temporalConnectionOptions(config),
    connectTimeout: 2_000,
  });
  try {
    return await fn(connection);
  } finally {
    await connection.close();
  }
}

async function frontendAnswers(config: Config): Promise<boolean> {
  return withConnection(config, async (connection) => {
    await connection.workflowService.getSystemInfo({});
    return true;
  });
}

/**
 * The namespace (TEMPORAL_NAMESPACE; a new cluster has none but `temporal-system`) and the purchases'
 * search attributes, which SQL visibility keeps per namespace. Idempotent; then waits until a
 * visibility query can filter on them, so the first purchase never races the namespace cache.
 */
export async function registerNamespaceAndSearchAttributes(
  config: Config,
  log: (line: string) => void,
): Promise<void> {
  const namespace = config.TEMPORAL_NAMESPACE;
  await withConnection(config, async (connection) => {
    try {
      await connection.workflowService.describeNamespace({ namespace });
    } catch {
      try {
        await connection.workflowService.registerNamespace({
          namespace,
          workflowExecutionRetentionPeriod: msNumberToTs(NAMESPACE_RETENTION_MS),
          description: 'Credit-pack purchases',
        });
        log(`temporal-server: registered namespace ${namespace}`);
      } catch (error) {
        if (!/already exists|AlreadyExists/i.test((error as Error).message)) throw error;
      }
    }
    await waitUntil(
      `namespace ${namespace}`,
      async () => {
        await connection.workflowService.describeNamespace({ namespace });
        return true;
      },
      { timeoutMs: 30_000 },
    );
    const added = await addMissingSearchAttributes(connection, namespace);
    if (added.length > 0) {
      log(`temporal-server: registered search attributes ${added.join(', ')} in ${namespace}`);
    }
    const query = customSearchAttributes.map((key) => `${key.name} = "probe"`).join(' AND ');
    await waitUntil(
      'the search attributes in visibility queries',
      async () => {
        await connection.workflowService.countWorkflowExecutions({ namespace, query });
        return true;
      },
      { timeoutMs: 30_000 },
    );
    // Every service refreshes its namespace cache every 2 s (system.namespaceCacheRefreshInterval):
    // the history service must know the attributes before a workflow sets them.
    if (added.length > 0) await sleep(3_000);
  });
}

export const temporalServer = managedProcess({
  name: 'temporal-server',
  enabled: (config) => config.TEMPORAL_ADDRESS === undefined && config.TEMPORAL_MODE === 'server',
  host: (config) => config.BIND_HOST,
  ports: (config) => temporalServerPorts(config).all.map(({ port }) => ({ port, variable: 'TEMPORAL_PORT' })),
  // A first start creates the schemas before the process starts; the wait is for the services to join.
  readyTimeoutMs: 120_000,
  command(config, log) {
    const { server, sqlTool: tool } = ensureTemporalServer(config, log);
    if (config.TEMPORAL_SERVER_TLS === 'mtls') ensureStackCertificates(config, log);
    setupTemporalSchemas(config, tool, log);
    const dir = serverDir(config);
    const configDir = join(dir, 'config');
    mkdirSync(configDir, { recursive: true });
    const dynamicConfigFile = join(configDir, 'dynamic.yaml');
    writeFileSync(dynamicConfigFile, DYNAMIC_CONFIG);
    writeFileSync(
      join(configDir, 'server.yaml'),
      `${JSON.stringify(serverConfig(config, dynamicConfigFile), null, 2)}\n`,
    );
    return {
      command: server,
      args: ['--root', dir, '--config', 'config', '--env', 'server', '--allow-no-auth', 'start'],
    };
  },
  ready: (config) => frontendAnswers(config),
  async afterStart(config, log) {
    // The frontend answers before the history service has joined; retry until it takes the namespace.
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await registerNamespaceAndSearchAttributes(config, log);
        return;
      } catch (error) {
        if (Date.now() > deadline) throw await explainConnectionError(config, error);
        await sleep(1_000);
      }
    }
  },
  urls: (config): Record<string, string> => ({
    'Temporal gRPC': config.temporalAddress,
    // Under mTLS, what a client (the temporal CLI, tctl, a worker elsewhere) needs to connect.
    ...(config.TEMPORAL_SERVER_TLS === 'mtls'
      ? { 'Temporal mTLS': `CA and client certificate in ${config.temporalServerTlsDir}` }
      : {}),
  }),
});

/** The Temporal UI server, pointed at the server mode's frontend (over mTLS when it requires it). */
export const temporalUi = managedProcess({
  name: 'temporal-ui',
  enabled: (config) => config.TEMPORAL_ADDRESS === undefined && config.TEMPORAL_MODE === 'server',
  host: (config) => config.BIND_HOST,
  ports: (config) => [{ port: config.TEMPORAL_UI_PORT, variable: 'TEMPORAL_UI_PORT' }],
  readyTimeoutMs: 30_000,
  command(config, log) {
    const binary = ensureTemporalUi(config, log);
    const dir = componentDir(config, 'temporal-ui');
    const configDir = join(dir, 'config');
    mkdirSync(configDir, { recursive: true });
    const tls = config.temporalTls;
    const uiConfig = {
      temporalGrpcAddress: config.temporalAddress,
      host: config.BIND_HOST,
      port: config.TEMPORAL_UI_PORT,
      enableUi: true,
      defaultNamespace: config.TEMPORAL_NAMESPACE,
      notifyOnNewVersion: false,
      refreshInterval: '1m',
      auth: { enabled: false },
      cors: { cookieInsecure: true, allowOrigins: [config.temporalUiUrl] },
      ...(tls
        ? {
            tls: {
              caFile: tls.caFile ?? '',
              certFile: tls.certFile ?? '',
              keyFile: tls.keyFile ?? '',
              serverName: tls.serverName ?? '',
              enableHostVerification: true,
            },
          }
        : {}),
    };
    writeFileSync(join(configDir, 'ui.yaml'), `${JSON.stringify(uiConfig, null, 2)}\n`);
    return { command: binary, args: ['--root', dir, '--config', 'config', '--env', 'ui', 'start'] };
  },
  ready: async (config) => {
    const response = await fetch(config.temporalUiUrl, { signal: AbortSignal.timeout(1_000) });
    return response.ok;
  },
  urls: (config): Record<string, string> => ({ 'Temporal UI': config.temporalUiUrl }),
});
