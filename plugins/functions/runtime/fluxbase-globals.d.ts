// Globals every Fluxbase function has without an import (read by `deno check`).
declare const secrets: {
  get(key: string): string | undefined;
  getRequired(key: string): string;
  getUser(key: string): string | undefined;
  getSystem(key: string): string | undefined;
};
// Feature flags evaluated for the caller: `isEnabled` is true only for a flag whose value is `true`.
declare const flags: {
  isEnabled(key: string): boolean;
  get(key: string, defaultValue?: unknown): any;
};
