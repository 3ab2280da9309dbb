// Globals every Fluxbase function has without an import (read by `deno check`).
declare const secrets: {
  get(key: string): string | undefined;
  getRequired(key: string): string;
  getUser(key: string): string | undefined;
  getSystem(key: string): string | undefined;
};
