import type { Config } from '../../src/config';

export type ComponentState = 'running' | 'stopped' | 'external';

/** One piece of the local stack. `up` is idempotent; `down` stops it only if this project started it. */
export interface Component {
  name: string;
  /** Whether this profile and configuration need it at all (e.g. no emulator with a real Stripe key). */
  enabled(config: Config): boolean;
  /** Starts it unless already running; returns true when this call started it. */
  up(config: Config, log: (line: string) => void): Promise<boolean>;
  down(config: Config, log: (line: string) => void): Promise<void>;
  status(config: Config): Promise<{ state: ComponentState; detail: string }>;
  /** URLs worth printing (the Temporal UI, the emulator's base URL…). */
  urls(config: Config): Record<string, string>;
}
