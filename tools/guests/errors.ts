// Errors of the guest-kernel tooling. "unavailable" means the inputs could not
// be had (no package lists, package unknown, no network): the tests skip on it.
// "failed" means something is wrong with what was had (corrupt payload, bad
// ELF, a tool crashed): that is a bug or a broken download, and tests fail.

export type GuestErrorKind = "unavailable" | "failed";

export class GuestError extends Error {
  constructor(readonly kind: GuestErrorKind, message: string) {
    super(message);
    this.name = "GuestError";
  }
}

export const unavailable = (message: string) => new GuestError("unavailable", message);
export const failed = (message: string) => new GuestError("failed", message);
