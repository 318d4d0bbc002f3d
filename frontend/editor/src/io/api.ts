/**
 * The REST contract of docs/api.md, behind a Backend interface so the editor can also be
 * mounted on synthetic data (benchmark harness) without a server.
 */
import type { TaskInfo, Taxonomy } from "../model/taxonomy";

export interface ApiSegment {
  id: number;
  category_id: number;
  iscrowd: boolean;
  confirmed: boolean;
  source?: string;
  attributes?: Record<string, unknown>;
  area?: number;
  bbox?: number[];
}

/** `GET /api/tasks/{id}/annotation/` (and, by the same shape, `GET /api/revisions/{id}/`). */
export interface RevisionPayload {
  revision: number;
  revision_id: number;
  status: string;
  author: string;
  width: number;
  height: number;
  segments: ApiSegment[];
  index_map: string;
}

export interface SegmentOut {
  id: number;
  category_id: number;
  iscrowd: boolean;
  confirmed: boolean;
  attributes: Record<string, unknown>;
  polygons?: number[][];
}

export interface SaveRequest {
  png: Blob;
  segments: SegmentOut[];
  parent: number | null;
  submit: boolean;
}

export interface SavedRevision {
  /** The task-scoped revision number, the `parent` of the next save. */
  revision: number;
  revisionId: number | null;
}

export interface ApiErrorItem {
  code: string;
  message: string;
  segment_id?: number | null;
}

export interface ApiErrorBody {
  detail?: string;
  code?: string;
  errors?: ApiErrorItem[];
  current_revision?: number;
  [extra: string]: unknown;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiErrorBody,
  ) {
    super(body.detail ?? `HTTP ${status}`);
  }
}

export interface Backend {
  getTask(taskId: number): Promise<TaskInfo>;
  getTaxonomy(taxonomyId: number): Promise<Taxonomy>;
  /** Latest visible revision of the task, or null when there is none yet (404). */
  getLatestAnnotation(taskId: number): Promise<RevisionPayload | null>;
  getRevision(revisionId: number): Promise<RevisionPayload>;
  getIndexMapPng(url: string): Promise<Uint8Array>;
  saveRevision(taskId: number, req: SaveRequest): Promise<SavedRevision>;
  submitRevision(taskId: number, revision: number): Promise<void>;
}

export interface HttpBackendOptions {
  apiBase: string;
  csrfToken: string;
  fetchImpl?: typeof fetch;
}

/** The server does not document the save response body; accept the plausible spellings. */
export function parseSavedRevision(body: Record<string, unknown>): SavedRevision {
  const num = body["revision"] ?? body["number"];
  const id = body["revision_id"] ?? body["id"];
  if (typeof num !== "number") throw new ApiError(500, { detail: "save response has no revision number" });
  return { revision: num, revisionId: typeof id === "number" ? id : null };
}

export class HttpBackend implements Backend {
  private readonly base: string;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly opts: HttpBackendOptions) {
    this.base = opts.apiBase.endsWith("/") ? opts.apiBase : `${opts.apiBase}/`;
    this.fetchImpl = opts.fetchImpl ?? ((input, init) => fetch(input, init));
  }

  private async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set("Accept", "application/json");
    if (init.method && init.method !== "GET") headers.set("X-CSRFToken", this.opts.csrfToken);
    const url = /^https?:|^\//.test(path) ? path : this.base + path;
    const res = await this.fetchImpl(url, { credentials: "same-origin", ...init, headers });
    if (!res.ok) {
      let body: ApiErrorBody = {};
      try {
        body = (await res.json()) as ApiErrorBody;
      } catch {
        body = { detail: res.statusText };
      }
      throw new ApiError(res.status, body);
    }
    return res;
  }

  private async json<T>(path: string, init?: RequestInit): Promise<T> {
    return (await (await this.request(path, init)).json()) as T;
  }

  getTask(taskId: number): Promise<TaskInfo> {
    return this.json(`tasks/${taskId}/`);
  }

  getTaxonomy(taxonomyId: number): Promise<Taxonomy> {
    return this.json(`taxonomies/${taxonomyId}/`);
  }

  async getLatestAnnotation(taskId: number): Promise<RevisionPayload | null> {
    try {
      return await this.json<RevisionPayload>(`tasks/${taskId}/annotation/`);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return null;
      throw e;
    }
  }

  getRevision(revisionId: number): Promise<RevisionPayload> {
    return this.json(`revisions/${revisionId}/`);
  }

  async getIndexMapPng(url: string): Promise<Uint8Array> {
    const res = await this.request(url, { headers: { Accept: "image/png" } });
    return new Uint8Array(await res.arrayBuffer());
  }

  async saveRevision(taskId: number, req: SaveRequest): Promise<SavedRevision> {
    const form = new FormData();
    form.append("index_map", req.png, "index_map.png");
    form.append("segments", JSON.stringify(req.segments));
    form.append("parent", req.parent === null ? "" : String(req.parent));
    if (req.submit) form.append("submit", "true");
    const body = await this.json<Record<string, unknown>>(`tasks/${taskId}/revisions/`, { method: "POST", body: form });
    return parseSavedRevision(body);
  }

  async submitRevision(taskId: number, revision: number): Promise<void> {
    await this.request(`tasks/${taskId}/submit/`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ revision }),
    });
  }
}
