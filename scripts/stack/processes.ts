import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createConnection } from 'node:net';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** A failure the user can fix; printed without a stack trace. */
export class StackError extends Error {
  override name = 'StackError';
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive but not ours to signal (still counts as alive).
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function readPid(pidFile: string): number | null {
  if (!existsSync(pidFile)) return null;
  const pid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

/**
 * What identifies a process beyond its pid, which the kernel reuses: its start time (clock ticks since
 * boot, field 22 of /proc/<pid>/stat) and the boot it belongs to. Null where /proc is not available.
 */
interface ProcessIdentity {
  startTicks: string;
  bootId: string;
}

function procStatFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses, so split after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

function bootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return null;
  }
}

/** True when this machine has /proc, so a pid can be checked for identity, not just liveness. */
const procAvailable = (): boolean => existsSync('/proc/self/stat');

export function processIdentity(pid: number): ProcessIdentity | null {
  const startTicks = procStatFields(pid)?.[19];
  const boot = bootId();
  return startTicks && boot ? { startTicks, bootId: boot } : null;
}

/** A pid file's text: the pid and how to recognise its process, `<pid>\nstart=<ticks>\nboot=<id>\n`. */
export function pidFileContent(pid: number): string {
  const identity = processIdentity(pid);
  return identity ? `${pid}\nstart=${identity.startTicks}\nboot=${identity.bootId}\n` : `${pid}\n`;
}

/** A process's start time in ms since the epoch, from /proc (USER_HZ is 100 on Linux). */
function processStartedAtMs(pid: number): number | null {
  const ticks = Number(procStatFields(pid)?.[19]);
  const btime = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1];
  return Number.isFinite(ticks) && btime ? Number(btime) * 1000 + ticks * 10 : null;
}

/**
 * The pid a pid file names, when that process is still the one the file was written for; null when it
 * is gone or the pid now belongs to someone else (after a reboot, or reused). A pid file is only ever
 * trusted this way before a process group is signalled or a component is reported running.
 *  - With the start time and boot id recorded, both must match /proc.
 *  - A bare pid (written by an older version) is trusted only if the process is alive, started before
 *    the file was written and, with `groupLeader` (components are spawned detached), leads its group.
 *  - Without /proc (not Linux), liveness is all there is to go on.
 */
export function verifiedPid(pidFile: string, { groupLeader = true } = {}): number | null {
  const pid = readPid(pidFile);
  if (pid === null || !isAlive(pid)) return null;
  if (!procAvailable()) return pid;
  const recorded = readFileSync(pidFile, 'utf8');
  const start = /^start=(\S+)$/m.exec(recorded)?.[1];
  const boot = /^boot=(\S+)$/m.exec(recorded)?.[1];
  const actual = processIdentity(pid);
  if (actual === null) return null;
  if (start !== undefined || boot !== undefined) {
    return start === actual.startTicks && boot === actual.bootId ? pid : null;
  }
  const leadsGroup = !groupLeader || procStatFields(pid)?.[2] === String(pid);
  const startedAt = processStartedAtMs(pid);
  const writtenAt = statSync(pidFile).mtimeMs;
  return leadsGroup && startedAt !== null && startedAt <= writtenAt + 2_000 ? pid : null;
}

/** True when something accepts TCP connections on host:port. */
export function portOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  { timeoutMs, intervalMs = 200, logFile }: { timeoutMs: number; intervalMs?: number; logFile?: string },
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(intervalMs);
  }
  throw new StackError(
    `${what} did not become ready within ${timeoutMs} ms${logFile ? `; see ${logFile}` : ''}`,
  );
}

export interface SpawnOptions {
  command: string;
  args: string[];
  logFile: string;
  pidFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/**
 * Starts a long-running process detached from this one (its own process group, output to a log file)
 * and records its pid, so a later `stack down` from another process can stop exactly it.
 */
export function spawnDetached({ command, args, logFile, pidFile, env, cwd }: SpawnOptions): number {
  mkdirSync(dirname(logFile), { recursive: true });
  const out = openSync(logFile, 'a');
  const child = spawn(command, args, {
    detached: true,
    stdio: ['ignore', out, out],
    env: env ?? process.env,
    cwd,
  });
  closeSync(out);
  if (child.pid === undefined) throw new StackError(`could not start ${command}`);
  child.unref();
  writeFileSync(pidFile, pidFileContent(child.pid));
  return child.pid;
}

/** SIGTERM the process group, then SIGKILL after `graceMs`. */
export async function stopProcessGroup(pid: number, graceMs = 10_000): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        // already gone
      }
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return;
    await sleep(100);
  }
  signal('SIGKILL');
  // Until it is gone its ports are still bound: a start right after this must not find them taken.
  const killDeadline = Date.now() + KILL_WAIT_MS;
  while (isAlive(pid) && Date.now() < killDeadline) await sleep(50);
}

/** How long a SIGKILLed process is given to disappear (the kernel frees it in milliseconds). */
const KILL_WAIT_MS = 5_000;

/**
 * This machine's ephemeral port range (Linux: /proc/sys/net/ipv4/ip_local_port_range, 32768–60999 by
 * default): the local ports the kernel hands to outgoing connections. A fixed listening port inside it
 * can be held by any process's outgoing connection at the moment a component (re)starts, and the bind
 * then fails; the project's stacks keep their fixed ports below it. Null where it cannot be read.
 */
export function ephemeralPortRange(): { first: number; last: number } | null {
  try {
    const [first, last] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    return first !== undefined && last !== undefined && Number.isInteger(first) && Number.isInteger(last)
      ? { first, last }
      : null;
  } catch {
    return null;
  }
}

/** The last `lines` non-empty lines a log file gained after byte `fromByte` (each cut to 300 chars). */
export function logTail(file: string, fromByte: number, lines: number): string[] {
  try {
    return readFileSync(file)
      .subarray(fromByte)
      .toString('utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .slice(-lines)
      .map((line) => (line.length > 300 ? `${line.slice(0, 300)}…` : line));
  } catch {
    return [];
  }
}

/** The size of a file in bytes, 0 when it does not exist. */
export function fileSize(file: string): number {
  return existsSync(file) ? statSync(file).size : 0;
}

export function removeFile(path: string): void {
  rmSync(path, { force: true });
}

/**
 * A cross-process lock (exclusive create of a file holding our pid), so two `stack up` runs, e.g. two
 * test runs started at once, do not both build or start the same component. A lock whose holder died
 * is taken over.
 */
export async function withLock<T>(lockFile: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  mkdirSync(dirname(lockFile), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // The lock appears with its content already in it (a hard link to a file written first), so another
    // process never reads an empty lock file and mistakes it for a stale one.
    const draft = `${lockFile}.${process.pid}.draft`;
    writeFileSync(draft, pidFileContent(process.pid));
    try {
      linkSync(draft, lockFile);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = verifiedPid(lockFile, { groupLeader: false });
      if (holder === null) {
        removeFile(lockFile);
        continue;
      }
      if (Date.now() > deadline) {
        throw new StackError(
          `another stack command (pid ${holder}) holds ${lockFile}; waited ${timeoutMs} ms`,
        );
      }
      await sleep(250);
    } finally {
      removeFile(draft);
    }
  }
  try {
    return await fn();
  } finally {
    removeFile(lockFile);
  }
}
