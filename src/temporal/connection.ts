import { readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';
import type { Config } from '../config';

/**
 * How every process of the project reaches Temporal: the address, TLS (CA, client certificate for mutual
 * TLS, server name) and a Temporal Cloud API key, from the configuration. The worker's NativeConnection
 * and the client's Connection both take these options; every connection in src/ and scripts/ is made
 * with them, so TLS set once applies everywhere.
 */
export interface TemporalConnectionOptions {
  address: string;
  tls?: TLSConfig;
  apiKey?: string;
}

export function temporalConnectionOptions(config: Config): TemporalConnectionOptions {
  const options: TemporalConnectionOptions = { address: config.temporalAddress };
  const tls = config.temporalTls;
  if (tls !== null) {
    options.tls = {
      ...(tls.serverName ? { serverNameOverride: tls.serverName } : {}),
      ...(tls.caFile ? { serverRootCACertificate: readPem(tls.caFile, 'TEMPORAL_TLS_CA') } : {}),
      ...(tls.certFile && tls.keyFile
        ? {
            clientCertPair: {
              crt: readPem(tls.certFile, 'TEMPORAL_TLS_CERT'),
              key: readPem(tls.keyFile, 'TEMPORAL_TLS_KEY'),
            },
          }
        : {}),
    };
  }
  if (config.TEMPORAL_API_KEY !== undefined) options.apiKey = config.TEMPORAL_API_KEY;
  return options;
}

function readPem(file: string, variable: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new Error(`${variable}: cannot read ${file} (${(error as Error).message})`);
  }
}

/**
 * A failure to reach Temporal, said in words: a refused client certificate or an untrusted server
 * certificate is named as such (the gRPC message alone reads like a network error).
 */
export function explainConnectionError(config: Config, error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error);
  const tls = config.temporalTls;
  const at = `Temporal at ${config.temporalAddress}`;
  if (tls === null) {
    if (
      /tls|ssl|handshake|wrong version|record/i.test(message) ||
      /Connection reset|socket hang up/i.test(message)
    ) {
      return new Error(
        `${at} could not be reached over plain gRPC; it may require TLS (TEMPORAL_TLS_*): ${message}`,
        {
          cause: error,
        },
      );
    }
    return error instanceof Error ? error : new Error(message);
  }
  if (
    /certificate required|bad certificate|unknown ca|certificate unknown|alert|handshake|tls|ssl/i.test(
      message,
    )
  ) {
    const client = tls.certFile
      ? `the client certificate ${tls.certFile} (TEMPORAL_TLS_CERT)`
      : 'no client certificate (TEMPORAL_TLS_CERT unset)';
    return new Error(
      `${at} refused the TLS connection: it does not accept ${client}, or its own certificate is not signed by ${tls.caFile ?? "the system's CAs"} (TEMPORAL_TLS_CA) for the name ${tls.serverName ?? 'in the address'}. Temporal said: ${message}`,
      { cause: error },
    );
  }
  return error instanceof Error ? error : new Error(message);
}
