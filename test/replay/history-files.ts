/**
 * Stored workflow histories (test/histories/*.json): reading, writing and the JSON conversion.
 *
 * Why not `historyToJSON` / `historyFromJSON` from `@temporalio/common/lib/proto-utils` (nor the JSON
 * path of `Worker.runReplayHistory`, which calls the latter)? In this install they throw
 * "type must be a Type": npm gave @temporalio/common, @temporalio/proto and @temporalio/worker each
 * its own nested copy of protobufjs 8 (the root holds protobufjs 7 for @grpc/proto-loader), and
 * protobufjs' `protojson` extension checks `instanceof Type` against its own copy. Here the extension
 * is loaded from the copy @temporalio/proto itself uses, so the types and the converter agree
 * whatever the layout. The output is standard ProtoJSON, the same format `temporal workflow show
 * --output json` writes, so histories exported by the CLI can be stored here too.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { temporal } from '@temporalio/proto';

export type History = temporal.api.history.v1.IHistory;

export const HISTORIES_DIR = fileURLToPath(new URL('../histories/', import.meta.url));

interface ProtoType {
  fromJson(json: unknown, options?: { ignoreUnknownFields?: boolean }): unknown;
  toJson(message: unknown): unknown;
}

const requireFromProto = createRequire(createRequire(import.meta.url).resolve('@temporalio/proto'));
const protojson = requireFromProto('protobufjs/ext/protojson') as {
  fromJson(type: ProtoType, json: unknown, options?: { ignoreUnknownFields?: boolean }): unknown;
  toJson(type: ProtoType, message: unknown): unknown;
};
const proto = requireFromProto('@temporalio/proto') as typeof import('@temporalio/proto');
const { patchProtobufRoot } = requireFromProto(
  '@temporalio/proto/lib/patch-protobuf-root',
) as typeof import('@temporalio/proto/lib/patch-protobuf-root');
const historyType = (
  patchProtobufRoot(proto as unknown as Record<string, unknown>) as unknown as {
    lookupType(name: string): ProtoType;
  }
).lookupType('temporal.api.history.v1.History');

/** A history as ProtoJSON (plain JSON value). */
export function historyToJson(history: History): unknown {
  return protojson.toJson(historyType, proto.temporal.api.history.v1.History.fromObject(history));
}

/** A history from ProtoJSON; unknown fields (a newer server's) are tolerated. */
export function historyFromJson(json: unknown): History {
  if (typeof json !== 'object' || json === null || !Array.isArray((json as { events?: unknown }).events)) {
    throw new TypeError('not a history: expected an object with an array of events');
  }
  return protojson.fromJson(historyType, json, { ignoreUnknownFields: true }) as History;
}

/** One stored history file, as the capture command writes it. */
export interface StoredHistory {
  workflowId: string;
  flow: string;
  description?: string;
  finalStatus?: string;
  capturedAt: string;
  sdkVersion: string;
  history: unknown;
}

export interface LoadedHistory {
  /** The file name, e.g. `declined-0341.json`: how failures name the history. */
  file: string;
  workflowId: string;
  history: History;
}

/** The `.json` files of the histories folder, sorted. */
export function historyFiles(dir = HISTORIES_DIR): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .sort();
}

export function loadHistory(file: string, dir = HISTORIES_DIR): LoadedHistory {
  const stored = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as StoredHistory;
  if (typeof stored.workflowId !== 'string' || !stored.workflowId) {
    throw new TypeError(`${file}: no workflowId`);
  }
  return { file, workflowId: stored.workflowId, history: historyFromJson(stored.history) };
}

/** The workflow type a history ran (its first event's). */
export function workflowTypeOf(history: History): string | null {
  return history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? null;
}
