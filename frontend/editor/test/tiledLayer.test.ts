/**
 * Partial tile redraws (TiledLayer.markRect) must leave the canvases exactly as a full
 * redraw would: checked on a fake canvas that records putImageData into pixel buffers.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { LabelMap, newGuard } from "../src/model/labelMap";
import { TiledLayer } from "../src/render/tiledLayer";
import { LabelTileSource } from "../src/render/tileSources";
import { rasterizeCapsule } from "../src/geometry/capsule";
import { mulberry32 } from "./helpers";

class FakeImageData {
  readonly data: Uint8ClampedArray;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.data = new Uint8ClampedArray(width * height * 4);
  }
}

class FakeCanvas {
  style: Record<string, string> = {};
  pixels = new Uint32Array(0);
  private w = 0;
  private h = 0;
  get width(): number {
    return this.w;
  }
  set width(v: number) {
    this.w = v;
    this.pixels = new Uint32Array(this.w * this.h);
  }
  get height(): number {
    return this.h;
  }
  set height(v: number) {
    this.h = v;
    this.pixels = new Uint32Array(this.w * this.h);
  }
  getContext(): unknown {
    return {
      putImageData: (img: FakeImageData, dx: number, dy: number, sx: number, sy: number, sw: number, sh: number) => {
        const src = new Uint32Array(img.data.buffer);
        for (let y = sy; y < sy + sh; y++) {
          for (let x = sx; x < sx + sw; x++) {
            const cx = dx + x;
            const cy = dy + y;
            if (cx >= 0 && cy >= 0 && cx < this.w && cy < this.h) this.pixels[cy * this.w + cx] = src[y * img.width + x]!;
          }
        }
      },
    };
  }
}

class FakeElement {
  style: Record<string, string> = {};
  className = "";
  children: unknown[] = [];
  appendChild(c: unknown): void {
    this.children.push(c);
  }
}

beforeAll(() => {
  vi.stubGlobal("ImageData", FakeImageData);
  vi.stubGlobal("document", { createElement: (tag: string) => (tag === "canvas" ? new FakeCanvas() : new FakeElement()) });
});
afterAll(() => {
  vi.unstubAllGlobals();
});

describe("tiled layer partial redraws", () => {
  it.each([
    [1, false],
    [2, false],
    [1, true],
    [4, true],
  ])("leave every canvas pixel as the source renders it (level %i, outline %s)", (level, outline) => {
    const w = 700;
    const h = 530;
    const map = new LabelMap(w, h);
    const lut = new Uint32Array(65536);
    for (let i = 1; i < lut.length; i++) lut[i] = (0xff000000 | (i * 2654435761)) >>> 0;
    const src = new LabelTileSource(map, lut);
    src.outline = outline;
    const layer = new TiledLayer(src, "a");
    layer.setLevel(level);
    map.addDirtyListener((_a, _b, _c, _d, x0, y0, x1, y1) => layer.markRect(x0, y0, x1, y1));
    layer.flush(Infinity);
    const rnd = mulberry32(level * 10 + (outline ? 1 : 0));
    const guard = newGuard().fill(1);
    for (let s = 0; s < 40; s++) {
      const p0 = { x: rnd() * w, y: rnd() * h };
      const p1 = { x: p0.x + (rnd() - 0.5) * 300, y: p0.y + (rnd() - 0.5) * 300 };
      const value = 1 + Math.floor(rnd() * 5);
      map.batch(() => rasterizeCapsule(p0, p1, 1 + rnd() * 20, (y, x0, x1) => map.writeRowSpan(y, x0, x1, value, guard), map));
      if (s % 3 === 0) layer.flush(Infinity);
    }
    layer.flush(Infinity);
    // Reference, independent of the layer's bookkeeping: every canvas pixel (i, j) shows the
    // sample at its chunk's origin + (i, j)·level, the overlap column/row included.
    const one = new Uint32Array(1);
    let wrong = 0;
    for (const c of (layer.element as unknown as FakeElement).children as FakeCanvas[]) {
      const left = parseInt(c.style["left"]!, 10);
      const top = parseInt(c.style["top"]!, 10);
      for (let j = 0; j < c.height; j++) {
        for (let i = 0; i < c.width; i++) {
          src.renderTile(left + i * level, top + j * level, 1, 1, level, one, 1);
          if (c.pixels[j * c.width + i] !== one[0]) wrong++;
        }
      }
    }
    expect(wrong).toBe(0);
  });
});
