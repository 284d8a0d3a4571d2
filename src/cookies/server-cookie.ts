// DNS cookies on the server side: RFC 7873 §5.2 (what a server does with a request's COOKIE option)
// with the interoperable server cookie of RFC 9018 §4, so every instance of a fleet sharing one
// secret makes and accepts the same cookies. Hot path: fixed scratch buffers, no allocation.

import { CLIENT_COOKIE_BYTES } from '../dns/cookie-option.js';
import { clientIntoBytes } from '../dns/address.js';
import type { CookieSecrets } from './secret.js';
import { siphash } from './siphash.js';

/** RFC 9018 §4.2: Version(1) Reserved(3) Timestamp(4) Hash(8). */
export const SERVER_COOKIE_BYTES = 16;
const VERSION = 1;
/** RFC 9018 §4.3: a cookie older than an hour, or more than 5 minutes in the future, is not valid… */
const MAX_AGE_S = 3600;
const MAX_FUTURE_S = 300;
/** …and one older than half an hour is replaced by a fresh one. */
const REFRESH_AGE_S = 1800;

/** What a request's cookie was (RFC 7873 §5.2.1–§5.2.5). */
export const CookieVerdict = {
  /** No COOKIE option (§5.2.1). */
  NONE: 0,
  /** A client cookie alone (§5.2.3). */
  CLIENT_ONLY: 1,
  /** A server cookie that we, or a fleet sibling, made for this client recently (§5.2.5). */
  VALID: 2,
  /** A server cookie we cannot validate: another secret, another client address, expired (§5.2.4). */
  INVALID: 3,
} as const;
export type CookieVerdict = (typeof CookieVerdict)[keyof typeof CookieVerdict];

export const COOKIE_VERDICT_LABELS = ['none', 'client_only', 'valid', 'invalid'] as const;

export class CookieJar {
  private secrets: CookieSecrets;
  /** SipHash input (RFC 9018 §4.4): Client Cookie | Version | Reserved | Timestamp | Client-IP. */
  private readonly input = new Uint8Array(CLIENT_COOKIE_BYTES + 8 + 16);
  /** The input's views for no address, IPv4 and IPv6, made once. */
  private readonly inputs = [0, 4, 16].map((n) => this.input.subarray(0, CLIENT_COOKIE_BYTES + 8 + n));
  private readonly ip = new Uint8Array(16);
  private readonly hash = new Uint8Array(8);
  /**
   * The COOKIE option data of the reply to the last request checked: its client cookie and our server
   * cookie. Overwritten by the next check: encode the reply before checking another request.
   */
  readonly reply = new Uint8Array(CLIENT_COOKIE_BYTES + SERVER_COOKIE_BYTES);

  constructor(secrets: CookieSecrets) {
    this.secrets = secrets;
  }

  /** A rotation: the new current secret, and the one it replaces as `previous`. */
  setSecrets(secrets: CookieSecrets): void {
    this.secrets = secrets;
  }

  get source(): string {
    return this.secrets.source;
  }

  /**
   * Judges `cookie` (a COOKIE option's data, length already checked by the decoder) sent from
   * `client` at `nowS` (Unix seconds), and fills `reply`. RFC 7873 §5.2.3–§5.2.5: every reply to a
   * request with a cookie carries the client cookie and a valid server cookie.
   */
  check(cookie: Uint8Array, client: string | Uint8Array, nowS: number): CookieVerdict {
    const ipLen = clientIntoBytes(client, this.ip);
    const reply = this.reply;
    for (let i = 0; i < CLIENT_COOKIE_BYTES; i++) reply[i] = cookie[i];
    if (cookie.length === CLIENT_COOKIE_BYTES) {
      this.make(nowS, ipLen);
      return CookieVerdict.CLIENT_ONLY;
    }
    // RFC 9018 §4.3: only our own layout (version 1, 16 octets) can be valid; other lengths are
    // well-formed (RFC 7873 §4) but were made by someone else's scheme.
    if (cookie.length !== CLIENT_COOKIE_BYTES + SERVER_COOKIE_BYTES || cookie[CLIENT_COOKIE_BYTES] !== VERSION) {
      this.make(nowS, ipLen);
      return CookieVerdict.INVALID;
    }
    const t = CLIENT_COOKIE_BYTES + 4;
    const stamp = ((cookie[t] << 24) | (cookie[t + 1] << 16) | (cookie[t + 2] << 8) | cookie[t + 3]) >>> 0;
    // RFC 9018 §4.3: timestamps compare in serial number arithmetic (RFC 1982), so 2106 is no cliff.
    const age = ((nowS >>> 0) - stamp) | 0;
    if (age > MAX_AGE_S || age < -MAX_FUTURE_S) {
      this.make(nowS, ipLen);
      return CookieVerdict.INVALID;
    }
    const input = this.fillInput(cookie, ipLen);
    let secret: Uint8Array | null = this.secrets.current;
    let current = true;
    if (!this.hashMatches(secret, input, cookie)) {
      secret = this.secrets.previous;
      current = false;
      if (secret === null || !this.hashMatches(secret, input, cookie)) {
        this.make(nowS, ipLen);
        return CookieVerdict.INVALID;
      }
    }
    // Valid. Echo it while fresh and made with the current secret; else a new one (RFC 9018 §4.3).
    if (current && age <= REFRESH_AGE_S) {
      for (let i = 0; i < SERVER_COOKIE_BYTES; i++) reply[CLIENT_COOKIE_BYTES + i] = cookie[CLIENT_COOKIE_BYTES + i];
    } else {
      this.make(nowS, ipLen);
    }
    return CookieVerdict.VALID;
  }

  /** Copies the received client cookie, version, reserved and timestamp, then the client address. */
  private fillInput(cookie: Uint8Array, ipLen: number): Uint8Array {
    const input = this.input;
    for (let i = 0; i < CLIENT_COOKIE_BYTES + 8; i++) input[i] = cookie[i];
    for (let i = 0; i < ipLen; i++) input[CLIENT_COOKIE_BYTES + 8 + i] = this.ip[i];
    return this.inputs[ipLen === 0 ? 0 : ipLen === 4 ? 1 : 2];
  }

  private hashMatches(secret: Uint8Array, input: Uint8Array, cookie: Uint8Array): boolean {
    siphash(secret, input, this.hash);
    let diff = 0;
    for (let i = 0; i < 8; i++) diff |= this.hash[i] ^ cookie[CLIENT_COOKIE_BYTES + 8 + i];
    return diff === 0;
  }

  /** A fresh server cookie in reply[8..24) (RFC 9018 §4.2), for the client cookie already in reply[0..8). */
  private make(nowS: number, ipLen: number): void {
    const reply = this.reply;
    const o = CLIENT_COOKIE_BYTES;
    reply[o] = VERSION;
    reply[o + 1] = 0;
    reply[o + 2] = 0;
    reply[o + 3] = 0;
    const ts = nowS >>> 0;
    reply[o + 4] = ts >>> 24;
    reply[o + 5] = (ts >>> 16) & 0xff;
    reply[o + 6] = (ts >>> 8) & 0xff;
    reply[o + 7] = ts & 0xff;
    const input = this.fillInput(reply, ipLen);
    siphash(this.secrets.current, input, this.hash);
    for (let i = 0; i < 8; i++) reply[o + 8 + i] = this.hash[i];
  }
}
