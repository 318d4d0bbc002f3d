/**
 * Local backups in IndexedDB, so nothing drawn is ever lost:
 *
 * - "conflict": before "load theirs" (or restoring a backup) replaces what is on screen, the
 *   work on screen is kept here;
 * - "unsaved": the last work whose save failed (offline, signed out, task no longer
 *   editable), and a reviewer's fix in progress (fixes have no server drafts).
 *
 * One backup per kind, user and scope ("task:12", "review:7"); the same browser may be shared
 * by several people, so the user is part of the key.
 */
import type { SegmentRecord } from "../model/segments";

export type BackupKind = "conflict" | "unsaved";

export interface LocalBackup {
  kind: BackupKind;
  user: string;
  scope: string;
  savedAt: string;
  /** Revision number the work was based on. */
  parent: number | null;
  png: Blob;
  segments: SegmentRecord[];
}

interface StoredBackup extends LocalBackup {
  key: string;
}

const DB = "tessera-editor";
const STORE = "work";
/** Version 1 kept one "conflict" backup per task, without user, in this store. */
const LEGACY_STORE = "backups";

export function backupKey(kind: BackupKind, user: string, scope: string): string {
  return `${kind}|${user}|${scope}`;
}

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 2);
    req.onupgradeneeded = () => {
      const db = req.result;
      const store = db.objectStoreNames.contains(STORE) ? req.transaction!.objectStore(STORE) : db.createObjectStore(STORE, { keyPath: "key" });
      if (db.objectStoreNames.contains(LEGACY_STORE)) {
        // Carry version-1 backups over (user unknown: "") before dropping their store.
        const legacy = req.transaction!.objectStore(LEGACY_STORE);
        legacy.openCursor().onsuccess = (ev) => {
          const cursor = (ev.target as IDBRequest<IDBCursorWithValue | null>).result;
          if (!cursor) {
            db.deleteObjectStore(LEGACY_STORE);
            return;
          }
          const old = cursor.value as { taskId: number; savedAt: string; parent: number | null; png: Blob; segments: SegmentRecord[] };
          const scope = `task:${old.taskId}`;
          const b: StoredBackup = { key: backupKey("conflict", "", scope), kind: "conflict", user: "", scope, savedAt: old.savedAt, parent: old.parent, png: old.png, segments: old.segments };
          store.put(b);
          cursor.continue();
        };
      }
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error("IndexedDB unavailable"));
  });
}

async function run<T>(mode: IDBTransactionMode, op: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = op(tx.objectStore(STORE));
      let result: T;
      req.onsuccess = () => (result = req.result);
      tx.oncomplete = () => resolve(result);
      tx.onerror = () => reject(tx.error ?? req.error ?? new Error("IndexedDB request failed"));
      tx.onabort = () => reject(tx.error ?? new Error("IndexedDB transaction aborted"));
    });
  } finally {
    db.close();
  }
}

export async function saveBackup(b: LocalBackup): Promise<void> {
  const stored: StoredBackup = { ...b, key: backupKey(b.kind, b.user, b.scope) };
  await run("readwrite", (s) => s.put(stored));
}

export async function loadBackup(kind: BackupKind, user: string, scope: string): Promise<LocalBackup | null> {
  try {
    const own = (await run("readonly", (s) => s.get(backupKey(kind, user, scope)))) as StoredBackup | undefined;
    if (own) return own;
    // A version-1 backup (no user recorded).
    return ((await run("readonly", (s) => s.get(backupKey(kind, "", scope)))) as StoredBackup | undefined) ?? null;
  } catch {
    return null;
  }
}

export async function deleteBackup(kind: BackupKind, user: string, scope: string): Promise<void> {
  await run("readwrite", (s) => s.delete(backupKey(kind, user, scope)));
  await run("readwrite", (s) => s.delete(backupKey(kind, "", scope)));
}

/** "3 min ago", "2 h ago", "5 days ago": how old a backup is, for the restore button. */
export function describeAge(savedAt: string, now: number = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(savedAt)) / 1000));
  if (!Number.isFinite(s)) return "at an unknown time";
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  const d = Math.round(s / 86400);
  return `${d} day${d === 1 ? "" : "s"} ago`;
}
