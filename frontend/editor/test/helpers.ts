import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { LabelMap } from "../src/model/labelMap";

export function fixturePath(name: string): string {
  return fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
}

export function readFixture(name: string): Uint8Array {
  return new Uint8Array(readFileSync(fixturePath(name)));
}

export function readJsonFixture<T>(name: string): T {
  return JSON.parse(readFileSync(fixturePath(name), "utf8")) as T;
}

/** Builds a map from rows of digits/letters, e.g. ["0011", "0221"] (base 36 labels). */
export function mapFromRows(rows: string[]): LabelMap {
  const h = rows.length;
  const w = rows[0]!.length;
  const data = new Uint16Array(w * h);
  rows.forEach((r, y) => {
    for (let x = 0; x < w; x++) data[y * w + x] = parseInt(r[x]!, 36);
  });
  return new LabelMap(w, h, data);
}

export function rowsOf(map: LabelMap): string[] {
  const out: string[] = [];
  for (let y = 0; y < map.height; y++) {
    let s = "";
    for (let x = 0; x < map.width; x++) s += map.getLabel(x, y).toString(36);
    out.push(s);
  }
  return out;
}

/** Deterministic PRNG so failures reproduce. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fast element-wise equality: toEqual on large typed arrays is slow enough to time out. */
export function sameArray(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
