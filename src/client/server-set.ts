/**
 * The replicas a client may talk to (one URL for a single server). In replicated
 * mode one of them is the active; a standby answers `503 not_ready` naming it in
 * `error.active`, and the client moves there. A replica it cannot reach sends it
 * to the next URL in the list.
 */
export class ServerSet {
  readonly urls: readonly string[];
  private index = 0;
  /** An active a standby named that is not in the list (it advertises another name). */
  private named: string | null = null;

  constructor(urls: string | readonly string[]) {
    const list = (typeof urls === 'string' ? urls.split(',') : urls).map((url) => url.trim().replace(/\/+$/, '')).filter((url) => url !== '');
    if (list.length === 0) throw new RangeError('lockring client: no server URL given');
    this.urls = list;
  }

  /** The URL requests go to now. */
  get current(): string {
    return this.named ?? this.urls[this.index]!;
  }

  /** One server and no standby has named another: nothing to follow. */
  get single(): boolean {
    return this.urls.length === 1 && this.named === null;
  }

  /** `url` could not be reached: try the next one. */
  unreachable(url: string): void {
    if (url !== this.current) return;
    if (this.named !== null) this.named = null;
    else this.index = (this.index + 1) % this.urls.length;
  }

  /** A standby at `url` named the active (or none yet: null). */
  follow(url: string, active: string | null): void {
    if (url !== this.current) return;
    if (active === null) {
      this.unreachable(url);
      return;
    }
    const at = this.urls.indexOf(active.replace(/\/+$/, ''));
    if (at >= 0) {
      this.index = at;
      this.named = null;
    } else {
      this.named = active.replace(/\/+$/, '');
    }
  }
}
