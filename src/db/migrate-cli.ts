import { loadConfig } from '../config';
import { migrate } from './migrate';

// `npm run migrate`: applies pending migrations to the configured database.
const config = loadConfig();
const applied = await migrate(config.databaseUrl, (line) => console.log(line));
console.log(applied === 0 ? 'database is up to date' : `applied ${applied} migration(s)`);
