import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
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
 * Why a TLS connection to Temporal fails, found by a TLS handshake of our own (the SDK only reports a
 * deadline, as TLS 1.3 lets the server refuse a client certificate after the client thinks it is done):
 * null when the handshake and the server's first answer go through.
 */
export function diagnoseTls(config: Config, timeoutMs = 3_000): Promise<string | null> {
  const tls = config.temporalTls;
  if (tls === null) return Promise.resolve(null);
  const [host, portText] = splitAddress(config.temporalAddress);
  const options: ConnectionOptions = {
    host,
    port: Number(portText),
    servername: tls.serverName ?? (isIP(host) ? undefined : host),
    ALPNProtocols: ['h2'],
    ...(tls.caFile ? { ca: readFileSync(tls.caFile) } : {}),
    ...(tls.certFile && tls.keyFile
      ? { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) }
      : {}),
  };
  return new Promise((resolvePromise) => {
    let settled = false;
    const done = (reason: string | null) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolvePromise(reason);
    };
    const socket = tlsConnect(options);
    socket.setTimeout(timeoutMs, () => done(null));
    const refused = (detail: string) =>
      tls.certFile
        ? `the server refused the client certificate ${tls.certFile} (TEMPORAL_TLS_CERT): it is not signed by a CA the server trusts for clients (${detail})`
        : `the server requires a client certificate and none is configured (set TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY) (${detail})`;
    let handshakeDone = false;
    socket.once('secureConnect', () => {
      handshakeDone = true;
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      const what = `${error.code ?? ''} ${error.message}`;
      if (
        /ALERT_(CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN|HANDSHAKE_FAILURE)|alert (certificate required|bad certificate|unknown ca)/i.test(
          what,
        )
      ) {
        done(refused(error.message.trim()));
      } else if (/CERT|self.signed|unable to verify|Hostname|altnames/i.test(what)) {
        done(
          `the server's certificate is not trusted: ${error.message.trim()} (TEMPORAL_TLS_CA ${tls.caFile ?? "unset: the system's CAs"}, name ${tls.serverName ?? host})`,
        );
      } else if (/wrong version number|packet length too long|EPROTO/i.test(what)) {
        done(`the server does not speak TLS (${error.message.trim()})`);
      } else {
        done(null);
      }
    });
    // Some servers refuse a client certificate by hanging up after the handshake, without an alert.
    socket.once('close', () =>
      done(handshakeDone ? refused('the server closed the connection right after the TLS handshake') : null),
    );
    // A server that accepts us sends its HTTP/2 settings at once; one that refuses sends an alert.
    socket.once('data', () => done(null));
  });
}

function splitAddress(address: string): [string, string] {
  const at = address.lastIndexOf(':');
  return [address.slice(0, at).replace(/^\[|\]$/g, ''), address.slice(at + 1)];
}

/**
 * A failure to reach Temporal, said in words: with TLS configured, a refused client certificate or an
 * untrusted server certificate is named as such (the SDK reports only a missed deadline).
 */
export async function explainConnectionError(config: Config, error: unknown): Promise<Error> {
  const message = error instanceof Error ? error.message : String(error);
  const reason = await diagnoseTls(config).catch(() => null);
  if (reason === null) return error instanceof Error ? error : new Error(message);
  return new Error(`Temporal at ${config.temporalAddress} refused the TLS connection: ${reason}`, {
    cause: error,
  });
}
