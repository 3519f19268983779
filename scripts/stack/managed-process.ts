import { join } from 'node:path';
import type { Config } from '../../src/config';
import type { Component } from './component';
import { componentDir } from './paths';
import {
  ephemeralPortRange,
  fileSize,
  isAlive,
  logTail,
  portOpen,
  removeFile,
  StackError,
  spawnDetached,
  stopProcessGroup,
  verifiedPid,
  waitUntil,
} from './processes';

export interface ManagedProcessSpec {
  name: string;
  enabled(config: Config): boolean;
  host(config: Config): string;
  /** Every port it listens on, with the variable that sets it; each must be free before start. */
  ports(config: Config): { port: number; variable: string }[];
  /** Resolves the binary (building it if needed) and its arguments. */
  command(
    config: Config,
    log: (line: string) => void,
  ): { command: string; args: string[]; env?: NodeJS.ProcessEnv };
  ready(config: Config): Promise<boolean>;
  readyTimeoutMs: number;
  /** Runs once after it is ready, each time `up` started it. */
  afterStart?(config: Config, log: (line: string) => void): Promise<void>;
  urls(config: Config): Record<string, string>;
}

/**
 * A component that is a long-running child process we spawn ourselves, tracked by a pid file in its
 * component directory. A port held by anything else is an error, never silently shared.
 */
export function managedProcess(spec: ManagedProcessSpec): Component {
  const pidFile = (config: Config) => join(componentDir(config, spec.name), 'pid');
  const logFile = (config: Config) => join(componentDir(config, spec.name), `${spec.name}.log`);
  /** The pid of the process we started, verified against /proc: a reused pid is not ours. */
  const ourPid = (config: Config) => verifiedPid(pidFile(config));

  return {
    name: spec.name,
    enabled: spec.enabled,
    urls: spec.urls,

    async up(config, log) {
      const running = ourPid(config);
      if (running !== null) {
        await waitUntil(spec.name, () => spec.ready(config), {
          timeoutMs: spec.readyTimeoutMs,
          logFile: logFile(config),
        });
        return false;
      }
      removeFile(pidFile(config));
      for (const { port, variable } of spec.ports(config)) {
        if (await portOpen(spec.host(config), port)) {
          throw new StackError(
            `${spec.name}: port ${spec.host(config)}:${port} is taken by another process; stop it or set ${variable} to a free port (see .env.example)`,
          );
        }
      }
      const { command, args, env } = spec.command(config, log);
      const logStart = fileSize(logFile(config));
      const pid = spawnDetached({ command, args, env, logFile: logFile(config), pidFile: pidFile(config) });
      try {
        let exited = false;
        await waitUntil(
          spec.name,
          async () => {
            exited = !isAlive(pid);
            return exited || (await spec.ready(config));
          },
          { timeoutMs: spec.readyTimeoutMs, logFile: logFile(config) },
        );
        if (exited) throw exitedWhileStarting(spec, config, logFile(config), logStart);
      } catch (error) {
        await stopProcessGroup(pid, 2_000);
        removeFile(pidFile(config));
        throw error;
      }
      await spec.afterStart?.(config, log);
      log(`${spec.name} started (pid ${pid}, log ${logFile(config)})`);
      return true;
    },

    async down(config, log) {
      const pid = ourPid(config);
      if (pid !== null) {
        await stopProcessGroup(pid);
        log(`${spec.name} stopped (pid ${pid})`);
      }
      removeFile(pidFile(config));
    },

    async status(config) {
      const pid = ourPid(config);
      if (pid !== null) return { state: 'running', detail: `pid ${pid}` };
      const taken = await Promise.all(
        spec.ports(config).map(({ port }) => portOpen(spec.host(config), port)),
      );
      return taken.some(Boolean)
        ? { state: 'external', detail: 'its port is held by a process this project did not start' }
        : { state: 'stopped', detail: '' };
    },
  };
}

/**
 * Why a process exited before it was ready, from what it wrote to its log in this start: its last
 * lines, and for a port it could not bind, the likely cause when that port lies in the machine's
 * ephemeral range (the check before the start only sees listeners, not another process's outgoing
 * connection holding the port).
 */
function exitedWhileStarting(
  spec: ManagedProcessSpec,
  config: Config,
  file: string,
  fromByte: number,
): StackError {
  const written = logTail(file, fromByte, Number.POSITIVE_INFINITY);
  const bindFailure = written.find((line) => /address already in use/i.test(line));
  const tail = written.slice(-EXIT_LOG_LINES);
  // A bind failure is named even when the process wrote more after it (a stack trace).
  if (bindFailure !== undefined && !tail.includes(bindFailure)) tail.unshift(bindFailure, '…');
  const range = ephemeralPortRange();
  const inRange = range
    ? spec.ports(config).filter(({ port }) => port >= range.first && port <= range.last)
    : [];
  const hint =
    bindFailure !== undefined && range && inRange.length > 0
      ? `\nin this machine's ephemeral port range ${range.first}-${range.last}, where any outgoing connection may hold a port: ${inRange.map(({ port, variable }) => `${port} (${variable})`).join(', ')}; choose ports below ${range.first}`
      : '';
  return new StackError(
    `${spec.name} exited while starting; see ${file}${tail.length ? `; its last lines:\n  ${tail.join('\n  ')}` : ''}${hint}`,
  );
}

/** How many of its log's last lines the error of a process that exited while starting quotes. */
const EXIT_LOG_LINES = 8;
