import { describe, expect, it } from "vitest";
import { type ReviewExtension, registerReviewExtension, reviewExtensions } from "../src/review/extension";

describe("review extension registry", () => {
  it("hands over extensions registered before mount and mounts late ones at once", () => {
    const early: ReviewExtension = { mount: () => {} };
    registerReviewExtension(early);
    const late: ReviewExtension[] = [];
    const known = reviewExtensions((ext) => late.push(ext));
    expect(known).toContain(early);
    const after: ReviewExtension = { mount: () => {} };
    registerReviewExtension(after);
    expect(late).toEqual([after]);
  });
});
