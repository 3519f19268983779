import type { ChildProcess } from 'node:child_process';

/**
 * Collects a child process's output as it arrives: every stdout line and stderr chunk into `raw`, and
 * each stdout line that is JSON (the worker logs JSON lines) parsed into `json`. A line split across
 * chunks is kept until its end arrives.
 */
export function collectOutput<T>(child: ChildProcess, raw: string[], json: T[]): void {
  let pending = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const complete = pending.split('\n');
    pending = complete.pop() ?? '';
    for (const line of complete) {
      raw.push(line);
      try {
        json.push(JSON.parse(line) as T);
      } catch {
        // not a JSON line
      }
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => raw.push(chunk));
}
