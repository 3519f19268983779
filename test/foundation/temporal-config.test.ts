import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { temporalServerPorts } from '../../scripts/stack/temporal-server';
import { ConfigError, loadConfig } from '../../src/config';
import { temporalConnectionOptions } from '../../src/temporal/connection';

function problemsOf(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('loadConfig accepted the configuration');
}

const dir = mkdtempSync(join(tmpdir(), 'temporal-tls-'));
const pem = (name: string, label: string) => {
  const file = join(dir, name);
  writeFileSync(file, `-----BEGIN ${label}-----\nAAAA\n-----END ${label}-----\n`);
  return file;
};
const ca = pem('ca.pem', 'CERTIFICATE');
const cert = pem('client.pem', 'CERTIFICATE');
const key = pem('client-key.pem', 'PRIVATE KEY');
const notPem = join(dir, 'notes.txt');
writeFileSync(notPem, 'hello\n');
const cluster = { TEMPORAL_ADDRESS: 'temporal.example:7233' };

describe('the Temporal mode and TLS settings', () => {
  it('defaults to the dev server, plain gRPC, no key', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ TEMPORAL_MODE: 'dev', TEMPORAL_SERVER_TLS: 'off', temporalTls: null });
    expect(temporalConnectionOptions(config)).toEqual({ address: '127.0.0.1:7233' });
  });

  it("server mode with mTLS uses the stack's own CA and client certificate by default, for the name localhost", () => {
    const config = loadConfig({
      TEMPORAL_MODE: 'server',
      TEMPORAL_SERVER_TLS: 'mtls',
      STACK_DIR: '.stack/x',
    });
    expect(config.temporalServerTlsDir).toMatch(/\/\.stack\/x\/product\/temporal-server\/tls$/);
    expect(config.temporalTls).toEqual({
      caFile: join(config.temporalServerTlsDir, 'ca.pem'),
      certFile: join(config.temporalServerTlsDir, 'client.pem'),
      keyFile: join(config.temporalServerTlsDir, 'client-key.pem'),
      serverName: 'localhost',
    });
    // Given files win over the stack's (a test presents a certificate of another CA this way).
    expect(
      loadConfig({
        TEMPORAL_MODE: 'server',
        TEMPORAL_SERVER_TLS: 'mtls',
        TEMPORAL_TLS_CERT: cert,
        TEMPORAL_TLS_KEY: key,
      }).temporalTls,
    ).toMatchObject({ certFile: cert, keyFile: key, caFile: expect.stringMatching(/tls\/ca\.pem$/) });
  });

  it('reads the files into the connection options, with the server name and the API key', () => {
    const config = loadConfig({
      ...cluster,
      TEMPORAL_TLS_CA: ca,
      TEMPORAL_TLS_CERT: cert,
      TEMPORAL_TLS_KEY: key,
      TEMPORAL_TLS_SERVER_NAME: 'frontend.internal',
      TEMPORAL_API_KEY: 'key-123',
    });
    const options = temporalConnectionOptions(config);
    expect(options.address).toBe('temporal.example:7233');
    expect(options.apiKey).toBe('key-123');
    expect(options.tls).toMatchObject({ serverNameOverride: 'frontend.internal' });
    const tls = options.tls as {
      serverRootCACertificate: Buffer;
      clientCertPair: { crt: Buffer; key: Buffer };
    };
    expect(tls.serverRootCACertificate.toString()).toContain('BEGIN CERTIFICATE');
    expect(tls.clientCertPair.key.toString()).toContain('BEGIN PRIVATE KEY');
    // An API key alone (Temporal Cloud): TLS with the system's CAs.
    expect(temporalConnectionOptions(loadConfig({ ...cluster, TEMPORAL_API_KEY: 'k' }))).toEqual({
      address: 'temporal.example:7233',
      tls: {},
      apiKey: 'k',
    });
  });

  it('refuses missing or non-PEM files, and a certificate without its key, naming each variable', () => {
    expect(problemsOf({ ...cluster, TEMPORAL_TLS_CA: join(dir, 'nope.pem') })).toEqual([
      `TEMPORAL_TLS_CA: ${join(dir, 'nope.pem')}: no such file`,
    ]);
    expect(problemsOf({ ...cluster, TEMPORAL_TLS_CERT: notPem, TEMPORAL_TLS_KEY: cert })).toEqual([
      `TEMPORAL_TLS_CERT: ${notPem} is not a PEM certificate`,
      `TEMPORAL_TLS_KEY: ${cert} is not a PEM private key`,
    ]);
    expect(problemsOf({ ...cluster, TEMPORAL_TLS_CERT: cert })).toEqual([
      'TEMPORAL_TLS_KEY: mutual TLS needs both TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY',
    ]);
  });

  it('refuses TLS settings for a Temporal the stack starts without TLS, and mTLS for the dev server', () => {
    expect(problemsOf({ TEMPORAL_API_KEY: 'k' })).toEqual([
      'TEMPORAL_API_KEY: the Temporal the stack starts (TEMPORAL_MODE=dev) speaks plain gRPC; set TEMPORAL_ADDRESS to a cluster with TLS',
    ]);
    expect(problemsOf({ TEMPORAL_MODE: 'server', TEMPORAL_TLS_CA: ca })).toEqual([
      'TEMPORAL_TLS_CA: the Temporal the stack starts (TEMPORAL_MODE=server, TEMPORAL_SERVER_TLS=off) speaks plain gRPC; set TEMPORAL_ADDRESS to a cluster with TLS or TEMPORAL_SERVER_TLS=mtls',
    ]);
    expect(problemsOf({ TEMPORAL_SERVER_TLS: 'mtls' })).toEqual([
      'TEMPORAL_SERVER_TLS: only the server mode runs with TLS (TEMPORAL_MODE=server); the dev server has none',
    ]);
    expect(problemsOf({ TEMPORAL_MODE: 'cloud' })).toEqual([
      expect.stringMatching(/^TEMPORAL_MODE: .*"dev"/),
    ]);
    expect(problemsOf({ TEMPORAL_HISTORY_SHARDS: '0' })).toEqual([
      expect.stringMatching(/^TEMPORAL_HISTORY_SHARDS: /),
    ]);
  });

  it('lets the stack listen beyond loopback only with a Temporal that authenticates its clients', () => {
    const exposed = {
      BIND_HOST: '0.0.0.0',
      PLATFORM_ADMIN_TOKEN: 'a-platform-token-of-our-own',
      PORTAL_SESSION_SECRET: 'a-portal-session-secret-of-our-own-000',
      STRIPE_WEBHOOK_SECRET: 'whsec_ours',
    };
    expect(problemsOf({ ...exposed, TEMPORAL_MODE: 'server' })).toEqual([
      expect.stringMatching(/^TEMPORAL_ADDRESS: required because BIND_HOST is 0\.0\.0\.0/),
    ]);
    expect(loadConfig({ ...exposed, TEMPORAL_MODE: 'server', TEMPORAL_SERVER_TLS: 'mtls' }).BIND_HOST).toBe(
      '0.0.0.0',
    );
  });

  it("puts the server mode's services next to TEMPORAL_PORT, membership below 32768 (a SQL smallint)", () => {
    expect(temporalServerPorts(loadConfig({ TEMPORAL_MODE: 'server' })).services).toEqual({
      frontend: { grpcPort: 7233, membershipPort: 6933, httpPort: 7243 },
      history: { grpcPort: 7234, membershipPort: 6934 },
      matching: { grpcPort: 7235, membershipPort: 6935 },
      worker: { grpcPort: 7239, membershipPort: 6939 },
    });
    const high = temporalServerPorts(loadConfig({ TEMPORAL_MODE: 'server', TEMPORAL_PORT: '47233' }));
    expect(high.services.frontend).toEqual({ grpcPort: 47233, membershipPort: 14165, httpPort: 47243 });
    expect(() => temporalServerPorts(loadConfig({ TEMPORAL_PORT: '200' }))).toThrow(/use a port between/);
    expect(() => temporalServerPorts(loadConfig({ TEMPORAL_PORT: '65530' }))).toThrow(
      /frontend httpPort on port 65540; use a port between 301 and 65525/,
    );
  });
});
