import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { SearchAttributeType } from '@temporalio/common';
import type { Config } from '../../src/config';
import { temporalConnectionOptions } from '../../src/temporal/connection';
import { customSearchAttributes } from '../../src/workflows/purchase/search-attributes';
import { managedProcess } from './managed-process';
import { componentDir } from './paths';
import { ensureTemporalCli } from './tools';

const cliTypeName: Record<string, string> = {
  [SearchAttributeType.KEYWORD]: 'Keyword',
  [SearchAttributeType.TEXT]: 'Text',
  [SearchAttributeType.INT]: 'Int',
  [SearchAttributeType.DOUBLE]: 'Double',
  [SearchAttributeType.BOOL]: 'Bool',
  [SearchAttributeType.DATETIME]: 'Datetime',
  [SearchAttributeType.KEYWORD_LIST]: 'KeywordList',
};

async function frontendAnswers(config: Config): Promise<boolean> {
  const connection = await Connection.connect({
    ...temporalConnectionOptions(config),
    connectTimeout: 1_000,
  });
  try {
    await connection.workflowService.getSystemInfo({});
    return true;
  } finally {
    await connection.close();
  }
}

async function uiAnswers(config: Config): Promise<boolean> {
  const response = await fetch(config.temporalUiUrl, { signal: AbortSignal.timeout(1_000) });
  return response.ok;
}

/**
 * The Temporal CLI's dev server: SQLite file for the product profile (history survives restarts),
 * in memory for tests (faster), UI on, the project's search attributes registered at start.
 */
export const temporal = managedProcess({
  name: 'temporal',
  enabled: (config) => config.TEMPORAL_ADDRESS === undefined && config.TEMPORAL_MODE === 'dev',
  host: (config) => config.BIND_HOST,
  ports: (config) => [
    { port: config.TEMPORAL_PORT, variable: 'TEMPORAL_PORT' },
    { port: config.TEMPORAL_UI_PORT, variable: 'TEMPORAL_UI_PORT' },
  ],
  readyTimeoutMs: 60_000,
  command(config, log) {
    const binary = ensureTemporalCli(config, log);
    const args = [
      'server',
      'start-dev',
      '--ip',
      config.BIND_HOST,
      '--port',
      String(config.TEMPORAL_PORT),
      '--ui-ip',
      config.BIND_HOST,
      '--ui-port',
      String(config.TEMPORAL_UI_PORT),
      '--namespace',
      config.TEMPORAL_NAMESPACE,
      '--log-format',
      'json',
      '--log-level',
      'warn',
    ];
    if (config.TEMPORAL_PERSISTENCE === 'file') {
      args.push('--db-filename', join(componentDir(config, 'temporal'), 'temporal.sqlite'));
    }
    for (const key of customSearchAttributes) {
      args.push('--search-attribute', `${key.name}=${cliTypeName[key.type]}`);
    }
    return { command: binary, args };
  },
  ready: async (config) => (await frontendAnswers(config)) && (await uiAnswers(config)),
  urls: (config): Record<string, string> => ({
    'Temporal gRPC': config.temporalAddress,
    'Temporal UI': config.temporalUiUrl,
  }),
});
