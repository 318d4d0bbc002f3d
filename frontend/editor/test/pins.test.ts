import { describe, expect, it } from "vitest";
import { firstPinWithoutText, pinsPayload, type PinDraft } from "../src/review/pins";

describe("review pins payload", () => {
  it("points and regions in the decision endpoint's shape, rounded, texts trimmed", () => {
    const pins: PinDraft[] = [
      { kind: "point", x: 10.123, y: 4.567, segmentId: 3, text: "  edge too high " },
      { kind: "region", points: [[1, 1], [5.555, 1], [5, 6]], text: "road here" },
      { kind: "point", x: 2, y: 2, segmentId: null, text: "" },
    ];
    expect(pinsPayload(pins)).toEqual([
      { text: "edge too high", x: 10.12, y: 4.57, segment_id: 3 },
      { text: "road here", region: [[1, 1], [5.56, 1], [5, 6]] },
      { text: "", x: 2, y: 2, segment_id: null },
    ]);
    expect(firstPinWithoutText(pins)).toBe(2);
    expect(firstPinWithoutText(pins.slice(0, 2))).toBe(-1);
  });
});
