import { describe, expect, it } from "vitest";
import { parseConfig } from "../src/config";

describe("page config (data-config)", () => {
  it("parses the Django template's contract", () => {
    const c = parseConfig(
      '{"taskId": 12, "mode": "review", "apiBase": "/api/", "csrfToken": "t", "username": "annotator1", "queueUrl": "/queue/", "revisionId": 31, "referenceRevisionId": null}',
    );
    expect(c).toEqual({
      taskId: 12,
      mode: "review",
      apiBase: "/api/",
      csrfToken: "t",
      username: "annotator1",
      queueUrl: "/queue/",
      revisionId: 31,
      referenceRevisionId: null,
      reviewItemId: null,
    });
  });

  it("takes the review item of the review page, and fix mode needs one", () => {
    expect(parseConfig('{"taskId": 3, "mode": "review", "reviewItemId": 9}').reviewItemId).toBe(9);
    expect(parseConfig('{"taskId": 3, "mode": "fix", "reviewItemId": 9}').mode).toBe("fix");
    expect(() => parseConfig('{"taskId": 3, "mode": "fix"}')).toThrow(/reviewItemId/);
    expect(() => parseConfig('{"taskId": 3, "reviewItemId": -1}')).toThrow(/reviewItemId/);
  });

  it.each([
    ["", /missing/],
    ["{", /JSON/],
    ['{"taskId": "12"}', /taskId/],
    ['{"taskId": 1, "mode": "draw"}', /mode/],
    ['{"taskId": 1, "revisionId": -3}', /revisionId/],
  ])("rejects %s", (raw, msg) => {
    expect(() => parseConfig(raw)).toThrow(msg);
  });
});
