import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError, loadConfig } from '../src/config';
import { createSql } from '../src/db/client';
import { formatDemoData, loadDemoData } from '../src/db/demo-data';
import { WORKER_NODE_FLAGS } from '../src/worker-node-flags';
import { PROJECT_ROOT } from './stack/paths';
import { StackError, stackDown, stackUp, stackUrls } from './stack/stack';

/**
 * `npm start`: the product in the foreground. Brings the stack up (building what is missing), loads
 * the demo data, runs the worker and the portal server as child processes, prints every URL, and on
 * Ctrl-C drains the worker, stops the portal, and stops the stack components this run started.
 */
const config = loadConfig({ ...process.env, STACK_PROFILE: 'product' });
const log = (line: string) => console.log(`[start] ${line}`);
const children: { name: string; process: ChildProcess; exited: Promise<number | null> }[] = [];
/**
 * The stack start in flight (or done). Shutdown awaits it and stops exactly what it returned: Ctrl-C
 * during a start (a build, a readiness wait) must not leave components running, and the stack lock is
 * held by this very process until the start ends, so a `stackDown` cannot run alongside it.
 */
let stackStarting: Promise<string[]> | undefined;
let stackStartDone = false;
let stopping = false;

/** Spawns a child unless we are already stopping; returns whether it did. */
function runChild(name: string, entry: string): boolean {
  if (stopping) return false;
  // The worker with its Node flags (src/worker-node-flags.ts), as `npm run worker` starts it.
  const flags = entry === 'src/worker.ts' ? WORKER_NODE_FLAGS : [];
  const child = spawn(process.execPath, [...flags, '--import', 'tsx', join(PROJECT_ROOT, entry)], {
    stdio: 'inherit',
    env: { ...process.env, STACK_PROFILE: 'product' },
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  children.push({ name, process: child, exited });
  exited.then((code) => {
    if (!stopping) {
      log(`${name} exited unexpectedly (code ${code}); stopping everything`);
      void shutdown(1);
    }
  });
  return true;
}

/** The SDK's three lines (packages/sdk, docs/sdk.md), printed right after the curl example. */
function withSdkExample(lines: string[], apiKey: string, portalUrl: string): string[] {
  const at = lines.findIndex((line) => line.includes('curl ')) + 1 || lines.length;
  return [
    ...lines.slice(0, at),
    `  or the SDK (npm run sdk:build; docs/sdk.md): import { CreditPacks } from '@credit-packs/sdk';`,
    `    const client = new CreditPacks({ apiKey: '${apiKey}', baseUrl: '${portalUrl}' });`,
    `    const packs = await client.creditPacks.list(); // { success: true, data: [...] }`,
    ...lines.slice(at),
  ];
}

async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(1_000) })).ok) return;
    } catch {
      // not up yet
    }
    await sleep(250);
  }
  throw new StackError(`${url} did not answer within ${timeoutMs} ms`);
}

async function shutdown(code: number): Promise<never> {
  if (stopping) return new Promise(() => {});
  stopping = true;
  log('stopping: draining the worker and the portal');
  for (const child of children) if (child.process.exitCode === null) child.process.kill('SIGTERM');
  await Promise.race([
    Promise.all(children.map((c) => c.exited)),
    sleep(config.WORKER_SHUTDOWN_GRACE_MS + 5_000),
  ]);
  for (const child of children) if (child.process.exitCode === null) child.process.kill('SIGKILL');
  if (stackStarting) {
    if (!stackStartDone) log('waiting for the stack start under way to finish, to stop what it started');
    // A failed start has already stopped what it had started.
    const started = await stackStarting.catch(() => [] as string[]);
    if (started.length > 0) await stackDown(config, log, started);
  }
  log('stopped');
  process.exit(code);
}

async function main(): Promise<void> {
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));

  stackStarting = stackUp(config, log).finally(() => {
    stackStartDone = true;
  });
  await stackStarting;
  if (stopping) return;

  const sql = createSql(config.databaseUrl, { maxConnections: 2, applicationName: 'credit-pack-demo-data' });
  let demoSummary: string[];
  try {
    const demo = await loadDemoData({ sql, config });
    demoSummary = withSdkExample(formatDemoData(demo), demo.apiKey, demo.portalUrl);
  } finally {
    await sql.end({ timeout: 5 });
  }

  if (!runChild('worker', 'src/worker.ts') || !runChild('portal', 'src/portal/server.ts')) return;
  await waitForHttp(`${config.portalUrl}/healthz`, 30_000);
  if (stopping) return;

  const urls: Record<string, string> = { ...stackUrls(config) };
  urls.Portal = `${config.portalUrl}/portal`;
  urls['HTTP API'] = `${config.portalUrl}/v1`;
  urls.OpenAPI = `${config.portalUrl}/openapi.json`;
  if (config.metricsUrl) urls['Worker metrics'] = config.metricsUrl;
  console.log('\n  Credit-pack purchase worker is running.\n');
  for (const [name, url] of Object.entries(urls)) console.log(`  ${name.padEnd(18)} ${url}`);
  for (const line of demoSummary) console.log(`  ${line}`);
  console.log('\n  Press Ctrl-C to stop everything.\n');
}

main().catch(async (error) => {
  if (stopping) return; // shutdown is under way; what failed was interrupted by it
  console.error(
    error instanceof StackError || error instanceof ConfigError ? `error: ${error.message}` : error,
  );
  await shutdown(1);
});
