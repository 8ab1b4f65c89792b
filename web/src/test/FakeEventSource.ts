// A stand-in EventSource that tests drive by hand: open it, send it events, fail it.
import { vi } from 'vitest';

export class FakeEventSource extends EventTarget {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSED = 2;
  static all: FakeEventSource[] = [];
  readyState = FakeEventSource.CONNECTING;
  onopen: ((e: Event) => void) | null = null;
  url: string;
  constructor(url: string) {
    super();
    this.url = url;
    FakeEventSource.all.push(this);
  }
  // Stubs the global EventSource with this class, with no streams yet (vi.unstubAllGlobals undoes it).
  static install() {
    FakeEventSource.all = [];
    vi.stubGlobal('EventSource', FakeEventSource);
  }
  static latest(): FakeEventSource {
    return FakeEventSource.all[FakeEventSource.all.length - 1];
  }
  close() {
    this.readyState = FakeEventSource.CLOSED;
  }
  open() {
    this.readyState = FakeEventSource.OPEN;
    this.onopen?.(new Event('open'));
  }
  send(type: string, id: number, data: unknown) {
    this.dispatchEvent(new MessageEvent(type, { data: JSON.stringify(data), lastEventId: String(id) }));
  }
  fail(closed: boolean) {
    this.readyState = closed ? FakeEventSource.CLOSED : FakeEventSource.CONNECTING;
    this.dispatchEvent(new Event('error'));
  }
}

