import { Connection } from '@temporalio/client';
import { SearchAttributeType } from '@temporalio/common';
import type { Config } from '../../src/config';
import { temporalConnectionOptions } from '../../src/temporal/connection';
import { customSearchAttributes } from '../../src/workflows/purchase/search-attributes';

/** temporal.api.enums.v1.IndexedValueType, by the SDK's search attribute type. */
const indexedValueType: Record<string, number> = {
  [SearchAttributeType.TEXT]: 1,
  [SearchAttributeType.KEYWORD]: 2,
  [SearchAttributeType.INT]: 3,
  [SearchAttributeType.DOUBLE]: 4,
  [SearchAttributeType.BOOL]: 5,
  [SearchAttributeType.DATETIME]: 6,
  [SearchAttributeType.KEYWORD_LIST]: 7,
};

/**
 * Registers the custom search attributes the running Temporal namespace lacks (through the operator
 * service), and returns their names. The dev server registers the list at start; a server that was
 * already running when the list grew (a shared test stack, kept across runs) gets the new ones here,
 * without a restart. Existing attributes are left as they are.
 */
export async function ensureSearchAttributes(config: Config): Promise<string[]> {
  const connection = await Connection.connect({
    ...temporalConnectionOptions(config),
    connectTimeout: 5_000,
  });
  try {
    return await addMissingSearchAttributes(connection, config.TEMPORAL_NAMESPACE);
  } finally {
    await connection.close();
  }
}

/** The custom search attributes `namespace` lacks, added through the operator service; their names. */
export async function addMissingSearchAttributes(
  connection: Connection,
  namespace: string,
): Promise<string[]> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  const missing = customSearchAttributes.filter((key) => !(key.name in (customAttributes ?? {})));
  if (missing.length === 0) return [];
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map((key) => [key.name, indexedValueType[key.type] ?? 2])),
  });
  return missing.map((key) => key.name);
}
