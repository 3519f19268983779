/**
 * Replays workflow histories pulled from a Temporal cluster against the workflow code in this checkout:
 * "would this code, deployed now, break any of these executions?" (CONTRIBUTING.md).
 *
 *   npm run histories:replay-from-cluster -- \
 *     --query "WorkflowType='purchaseWorkflow' AND ExecutionStatus='Running'" \
 *     [--address host:port] [--namespace ns] [--limit N] [--tls] [--workflows-path file] [--allow-empty]
 *
 * Defaults: the address and namespace of the current configuration (TEMPORAL_ADDRESS / STACK_PROFILE,
 * as `npm run worker` would use), the query above, at most 1000 executions, the project's workflows
 * (src/workflows/index.ts). TLS and the API key come from the configuration (TEMPORAL_TLS_*, TEMPORAL_API_KEY).
 *
 * Prints one line per execution (`ok` or `FAIL` with the reason) and a summary. Exit code: 0 all
 * replayed, 1 any failed, 2 usage error, 3 nothing matched the query (unless --allow-empty).
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client, Connection, type HistoryAndWorkflowId } from '@temporalio/client';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { loadConfig } from '../src/config';
import { temporalConnectionOptions } from '../src/temporal/connection';
import { bundleWorkflows, WORKFLOWS_PATH } from '../src/temporal/workflow-bundle';

const DEFAULT_QUERY = "WorkflowType='purchaseWorkflow' AND ExecutionStatus='Running'";

interface Options {
  query: string;
  address: string | undefined;
  namespace: string | undefined;
  limit: number;
  tls: boolean;
  workflowsPath: string;
  allowEmpty: boolean;
}

class UsageError extends Error {}

function parseArgs(argv: string[]): Options {
  const options: Options = {
    query: DEFAULT_QUERY,
    address: undefined,
    namespace: undefined,
    limit: 1000,
    tls: false,
    workflowsPath: WORKFLOWS_PATH,
    allowEmpty: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const value = () => {
      const next = argv[++i];
      if (next === undefined) throw new UsageError(`${arg} needs a value`);
      return next;
    };
    if (arg === '--query') options.query = value();
    else if (arg === '--address') options.address = value();
    else if (arg === '--namespace') options.namespace = value();
    else if (arg === '--limit') {
      options.limit = Number(value());
      if (!Number.isInteger(options.limit) || options.limit < 1)
        throw new UsageError('--limit must be a positive integer');
    } else if (arg === '--tls') options.tls = true;
    else if (arg === '--workflows-path') options.workflowsPath = path.resolve(value());
    else if (arg === '--allow-empty') options.allowEmpty = true;
    else throw new UsageError(`unknown argument ${arg}`);
  }
  return options;
}

async function* take<T>(source: AsyncIterable<T>, limit: number): AsyncGenerator<T> {
  let n = 0;
  if (limit <= 0) return;
  for await (const item of source) {
    yield item;
    if (++n >= limit) return;
  }
}

async function main(argv: string[]): Promise<number> {
  const options = parseArgs(argv);
  // The results are printed below; the SDK adds only its warnings (e.g. the nondeterminism details).
  Runtime.install({ logger: new DefaultLogger('WARN') });
  // Only the Temporal settings are used; loadConfig also validates the rest of the environment.
  const config = loadConfig();
  const address = options.address ?? config.temporalAddress;
  const namespace = options.namespace ?? config.TEMPORAL_NAMESPACE;
  console.log(`[replay] ${address} namespace ${namespace}: ${options.query} (at most ${options.limit})`);
  console.log(`[replay] workflow code: ${path.relative(process.cwd(), options.workflowsPath)}`);

  const bundle = await bundleWorkflows({ workflowsPath: options.workflowsPath, logger: quietLogger });
  const configured = temporalConnectionOptions(config);
  const connection = await Connection.connect({
    ...configured,
    address,
    ...(options.tls && configured.tls === undefined ? { tls: true } : {}),
  });
  try {
    const client = new Client({ connection, namespace });
    const histories: AsyncIterable<HistoryAndWorkflowId> = take(
      client.workflow.list({ query: options.query }).intoHistories(),
      options.limit,
    );
    let replayed = 0;
    const failures: string[] = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: bundle }, histories)) {
      replayed++;
      if (result.error) {
        const line = `${result.workflowId} ${result.runId}: ${result.error.name}: ${result.error.message}`;
        failures.push(line);
        console.log(`FAIL ${line}`);
      } else {
        console.log(`ok   ${result.workflowId} ${result.runId}`);
      }
    }
    console.log(`[replay] ${replayed} replayed, ${replayed - failures.length} ok, ${failures.length} failed`);
    if (replayed === 0 && !options.allowEmpty) {
      console.error('[replay] no execution matched the query (pass --allow-empty to accept that)');
      return 3;
    }
    return failures.length > 0 ? 1 : 0;
  } finally {
    await connection.close();
  }
}

const noop = () => {};
const quietLogger = { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: console.error };

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      console.error(error instanceof UsageError ? `usage: ${error.message}` : error);
      process.exit(error instanceof UsageError ? 2 : 1);
    },
  );
}
