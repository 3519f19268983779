import { Client, Connection } from '@temporalio/client';
import type { Config } from '../config';
import { explainConnectionError, temporalConnectionOptions } from './connection';

/** A Temporal client for the configured namespace (portal, starter, scripts). Close its connection when done. */
export async function connectClient(config: Config): Promise<Client> {
  const connection = await Connection.connect({
    ...temporalConnectionOptions(config),
    connectTimeout: 10_000,
  }).catch(async (error: unknown) => {
    throw await explainConnectionError(config, error);
  });
  return new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
}
