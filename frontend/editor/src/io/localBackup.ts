/**
 * Local backups in IndexedDB: before "load theirs" replaces local work after a conflict,
 * the local map and table are kept here so nothing drawn is ever lost.
 */
import type { SegmentRecord } from "../model/segments";

export interface LocalBackup {
  taskId: number;
  savedAt: string;
  parent: number | null;
  png: Blob;
  segments: SegmentRecord[];
}

const DB = "tessera-editor";
const STORE = "backups";

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: "taskId" });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error("IndexedDB unavailable"));
  });
}

async function run<T>(mode: IDBTransactionMode, op: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const req = op(db.transaction(STORE, mode).objectStore(STORE));
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error ?? new Error("IndexedDB request failed"));
    });
  } finally {
    db.close();
  }
}

export async function saveBackup(b: LocalBackup): Promise<void> {
  await run("readwrite", (s) => s.put(b));
}

export async function loadBackup(taskId: number): Promise<LocalBackup | null> {
  try {
    return ((await run("readonly", (s) => s.get(taskId))) as LocalBackup | undefined) ?? null;
  } catch {
    return null;
  }
}

export async function deleteBackup(taskId: number): Promise<void> {
  await run("readwrite", (s) => s.delete(taskId));
}
