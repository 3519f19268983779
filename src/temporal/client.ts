import { Client, Connection } from '@temporalio/client';
import type { Config } from '../config';

/** A Temporal client for the configured namespace (portal, starter, scripts). Close its connection when done. */
export async function connectClient(config: Config): Promise<Client> {
  const connection = await Connection.connect({ address: config.temporalAddress, connectTimeout: 10_000 });
  return new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
}
