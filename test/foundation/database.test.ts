import { readdirSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { createSql } from '../../src/db/client';
import { MIGRATIONS_DIR, migrate } from '../../src/db/migrate';
import { testConfig } from '../support/config';

const config = testConfig();
const sql = createSql(config.databaseUrl);

afterAll(() => sql.end({ timeout: 5 }));

describe('the test database', () => {
  it('is reachable and has every migration applied', async () => {
    const files = readdirSync(MIGRATIONS_DIR).filter((name) => /^\d{5}_/.test(name));
    const rows = await sql<{ migrationId: number; name: string }[]>`
      select migration_id as "migrationId", name from migrations order by migration_id
    `;
    expect(rows.map((r) => r.migrationId)).toEqual(files.map((_, i) => i + 1));
  });

  it('re-running migrations is a no-op, even when two runners race', async () => {
    const applied = await Promise.all([migrate(config.databaseUrl), migrate(config.databaseUrl)]);
    expect(applied).toEqual([0, 0]);
  });

  it('stores timestamps in UTC', async () => {
    const [row] = await sql<{ timezone: string }[]>`select current_setting('timezone') as timezone`;
    expect(row?.timezone).toBe('UTC');
  });
});
