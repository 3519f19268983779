import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer as createTcpServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { makeCa, makeCertificate } from '../../scripts/stack/temporal-server';
import { loadConfig } from '../../src/config';
import { diagnoseTls } from '../../src/temporal/connection';

/**
 * Why a TLS connection to Temporal fails, said in words (src/temporal/connection.ts), against TLS servers
 * of the test's own with certificates made as the stack makes them (openssl): no Temporal needed.
 */
const dir = mkdtempSync(join(tmpdir(), 'temporal-tls-diagnosis-'));
const ours = makeCa(dir, 'ca', 'our CA');
const theirs = makeCa(dir, 'other-ca', 'another CA');
const server = makeCertificate(dir, 'server', {
  ...ours,
  commonName: 'localhost',
  usage: 'serverAuth',
  hosts: ['localhost'],
});
const client = makeCertificate(dir, 'client', { ...ours, commonName: 'worker', usage: 'clientAuth' });
const intruder = makeCertificate(dir, 'intruder', { ...theirs, commonName: 'intruder', usage: 'clientAuth' });

const servers: Server[] = [];
async function listen(s: Server): Promise<number> {
  servers.push(s);
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return (s.address() as { port: number }).port;
}
afterAll(() => {
  for (const s of servers) s.close();
});

/** Like the frontend under mTLS: client certificates of our CA only; an accepted client is greeted. */
const mtlsPort = listen(
  createTlsServer(
    {
      cert: readFileSync(server.cert),
      key: readFileSync(server.key),
      ca: readFileSync(ours.ca),
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: ['h2'],
    },
    (socket) => socket.write('hello'),
  ),
);
const plainPort = listen(createTcpServer((socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n')));

function configFor(port: number, files: { ca: string; cert?: string; key?: string }) {
  return loadConfig({
    TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
    TEMPORAL_TLS_CA: files.ca,
    TEMPORAL_TLS_SERVER_NAME: 'localhost',
    ...(files.cert ? { TEMPORAL_TLS_CERT: files.cert, TEMPORAL_TLS_KEY: files.key } : {}),
  });
}

describe('diagnosing a TLS connection to Temporal', () => {
  it('finds nothing wrong with a client certificate the server trusts', async () => {
    expect(await diagnoseTls(configFor(await mtlsPort, { ca: ours.ca, ...client }))).toBeNull();
  });

  it('names a client certificate the server refuses, and a missing one', async () => {
    expect(await diagnoseTls(configFor(await mtlsPort, { ca: ours.ca, ...intruder }))).toMatch(
      `the server refused the client certificate ${intruder.cert} (TEMPORAL_TLS_CERT): it is not signed by a CA the server trusts for clients`,
    );
    expect(await diagnoseTls(configFor(await mtlsPort, { ca: ours.ca }))).toMatch(
      /^the server requires a client certificate and none is configured \(set TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY\)/,
    );
  });

  it("says when the server's own certificate is not trusted, and when the server does not speak TLS", async () => {
    expect(await diagnoseTls(configFor(await mtlsPort, { ca: theirs.ca, ...client }))).toMatch(
      new RegExp(
        `^the server's certificate is not trusted: .*\\(TEMPORAL_TLS_CA ${theirs.ca}, name localhost\\)$`,
      ),
    );
    expect(await diagnoseTls(configFor(await plainPort, { ca: ours.ca, ...client }))).toMatch(
      /^the server does not speak TLS/,
    );
  });
});
