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
  /** Drawn polygons (provenance): a fill ring as [x1, y1, …], a cut ring as {vertices, cut: true}. */
  polygons?: ApiPolygon[];
}

export type ApiPolygon = number[] | { vertices: number[]; cut: boolean };

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
  polygons?: ApiPolygon[];
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
  /** The token, or a function read at each request (Django rotates it when you sign in again). */
  csrfToken: string | (() => string);
  fetchImpl?: typeof fetch;
}

/** Django's CSRF cookie, read when a request is made; `fallback` when there is none. */
export function csrfFromCookie(fallback: string, cookie: () => string = () => (typeof document === "undefined" ? "" : document.cookie)): () => string {
  return () => {
    for (const part of cookie().split(";")) {
      const [k, ...v] = part.trim().split("=");
      if (k === "csrftoken" && v.length > 0) return decodeURIComponent(v.join("="));
    }
    return fallback;
  };
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

  protected async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set("Accept", "application/json");
    if (init.method && init.method !== "GET") {
      const token = this.opts.csrfToken;
      headers.set("X-CSRFToken", typeof token === "function" ? token() : token);
    }
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

  protected async json<T>(path: string, init?: RequestInit): Promise<T> {
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

/**
 * A reviewer's "fix and accept": the editor edits a copy of the submission, and submitting
 * posts it to `POST /api/reviews/{id}/fix/` (a revision attributed to the reviewer, source
 * review_fix, that becomes the accepted one). Fixes have no server drafts.
 */
export class ReviewFixBackend extends HttpBackend {
  constructor(
    opts: HttpBackendOptions,
    private readonly reviewItemId: number,
    private readonly comment: () => string,
    private readonly pins: () => unknown[] = () => [],
  ) {
    super(opts);
  }

  override async saveRevision(_taskId: number, req: SaveRequest): Promise<SavedRevision> {
    if (!req.submit) throw new Error("a fix is only sent when it is submitted");
    const form = new FormData();
    form.append("index_map", req.png, "index_map.png");
    form.append("segments", JSON.stringify(req.segments));
    form.append("comment", this.comment());
    form.append("comments", JSON.stringify(this.pins()));
    const item = await this.json<{ decisions?: Array<{ fixed_revision_id?: number | null }> }>(`reviews/${this.reviewItemId}/fix/`, { method: "POST", body: form });
    const fixed = [...(item.decisions ?? [])].reverse().find((d) => typeof d.fixed_revision_id === "number")?.fixed_revision_id;
    if (typeof fixed !== "number") throw new ApiError(500, { detail: "the fix response names no fixed revision" });
    const rev = await this.getRevision(fixed);
    return { revision: rev.revision, revisionId: fixed };
  }

  override async submitRevision(): Promise<void> {
    throw new Error("a fix is submitted with its map");
  }
}
