import { randomUUID } from 'node:crypto';
import { ConfigError, loadConfig } from './config';
import { connectClient } from './temporal/client';
import { diagnosticsWorkflow } from './workflows';

/**
 * Command-line entry for operators: `npm run starter -- <command>`.
 *   diagnostics   run the diagnostics workflow (Temporal → worker → Postgres) and print its result
 */
const usage = 'usage: npm run starter -- diagnostics';

async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  const config = loadConfig();
  if (command !== 'diagnostics') {
    console.error(usage);
    return 2;
  }
  const client = await connectClient(config);
  try {
    const result = await client.workflow.execute(diagnosticsWorkflow, {
      workflowId: `diagnostics-${randomUUID()}`,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      workflowExecutionTimeout: '1 minute',
    });
    console.log(JSON.stringify(result, null, 2));
    return 0;
  } finally {
    await client.connection.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    console.error(error instanceof ConfigError ? error.message : error);
    process.exit(1);
  },
);
