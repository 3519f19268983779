import { ConfigError, loadConfig, profiles } from '../../src/config';
import { StackError, stackDown, stackStatus, stackUp, stackUrls } from './stack';

const usage = `usage: npm run stack -- <up|down|status> [--profile product|test]

  up      start Postgres, the Temporal dev server, the Stripe emulator (and stripe-mock for tests),
          building what is missing; apply migrations. Running components are left as they are.
  down    stop every component this project started for the profile.
  status  show each component's state.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const profileFlag = rest.indexOf('--profile');
  const profile = profileFlag >= 0 ? rest[profileFlag + 1] : undefined;
  if (!command || !['up', 'down', 'status'].includes(command) || (profileFlag >= 0 && !profile)) {
    console.error(usage);
    return 2;
  }
  if (profile && !(profiles as readonly string[]).includes(profile)) {
    console.error(`unknown profile '${profile}'; expected one of: ${profiles.join(', ')}`);
    return 2;
  }
  const config = loadConfig({ ...process.env, ...(profile ? { STACK_PROFILE: profile } : {}) });
  const log = (line: string) => console.log(`[stack:${config.STACK_PROFILE}] ${line}`);

  if (command === 'up') {
    await stackUp(config, log);
    for (const [name, url] of Object.entries(stackUrls(config))) log(`${name.padEnd(16)} ${url}`);
  } else if (command === 'down') {
    await stackDown(config, log);
  } else {
    for (const row of await stackStatus(config)) {
      console.log(`${row.name.padEnd(16)} ${row.state.padEnd(9)} ${row.detail}`);
    }
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    if (error instanceof StackError || error instanceof ConfigError) {
      console.error(`error: ${error.message}`);
      process.exit(1);
    }
    console.error(error);
    process.exit(1);
  },
);
