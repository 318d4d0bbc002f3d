/** The page contract with Django: `<div id="tessera-editor" data-config='{…}'>`. */

export interface EditorConfig {
  taskId: number;
  /** review: read-only; fix: a reviewer edits a copy of the submission and submits the fix. */
  mode: "edit" | "review" | "fix";
  apiBase: string;
  csrfToken: string;
  username: string;
  queueUrl: string;
  /** Revision to open (review: the submission); null = the task's latest. */
  revisionId: number | null;
  /** Review: the revision to compare against; null = none. */
  referenceRevisionId: number | null;
  /** Review and fix: the review item (pins, fix-and-accept); null elsewhere. */
  reviewItemId: number | null;
}

export class ConfigError extends Error {}

function optionalId(v: unknown, name: string): number | null {
  if (v === null || v === undefined || v === "") return null;
  if (typeof v === "number" && Number.isInteger(v) && v > 0) return v;
  throw new ConfigError(`${name} must be a positive integer or null`);
}

export function parseConfig(raw: string | undefined): EditorConfig {
  if (!raw) throw new ConfigError("missing data-config");
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new ConfigError("data-config is not valid JSON");
  }
  if (typeof v !== "object" || v === null) throw new ConfigError("data-config must be an object");
  const o = v as Record<string, unknown>;
  const taskId = o["taskId"];
  if (typeof taskId !== "number" || !Number.isInteger(taskId) || taskId <= 0) throw new ConfigError("taskId must be a positive integer");
  const mode = o["mode"] ?? "edit";
  if (mode !== "edit" && mode !== "review" && mode !== "fix") throw new ConfigError('mode must be "edit", "review" or "fix"');
  const str = (k: string, dflt: string): string => {
    const x = o[k];
    if (x === undefined || x === null) return dflt;
    if (typeof x !== "string") throw new ConfigError(`${k} must be a string`);
    return x;
  };
  const cfg: EditorConfig = {
    taskId,
    mode,
    apiBase: str("apiBase", "/api/"),
    csrfToken: str("csrfToken", ""),
    username: str("username", ""),
    queueUrl: str("queueUrl", "/"),
    revisionId: optionalId(o["revisionId"], "revisionId"),
    referenceRevisionId: optionalId(o["referenceRevisionId"], "referenceRevisionId"),
    reviewItemId: optionalId(o["reviewItemId"], "reviewItemId"),
  };
  if (cfg.mode === "fix" && cfg.reviewItemId === null) throw new ConfigError("fix mode needs reviewItemId");
  return cfg;
}
