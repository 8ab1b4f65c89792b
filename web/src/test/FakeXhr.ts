// A stand-in for XMLHttpRequest that answers the way the test says: FakeXhr.queue's answers
// first, in order, then FakeXhr.answer. Each upload reports half and then all of it sent.
export class FakeXhr {
  static answer: { status: number; body: string; headers?: Record<string, string> } | 'network' = { status: 202, body: '' };
  static last: FakeXhr | null = null;
  method = '';
  url = '';
  status = 0;
  statusText = '';
  responseText = '';
  responseType = '';
  sent: FormData | null = null;
  upload: { onprogress: ((e: { lengthComputable: boolean; loaded: number; total: number }) => void) | null } = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  private headers: Record<string, string> = {};
  requestHeaders: Record<string, string> = {};
  static queue: (typeof FakeXhr.answer)[] = []; // answers to give first, in order
  setRequestHeader(name: string, value: string) {
    this.requestHeaders[name] = value;
  }
  open(method: string, url: string) {
    this.method = method;
    this.url = url;
    FakeXhr.last = this;
  }
  getResponseHeader(name: string) {
    return this.headers[name] ?? null;
  }
  abort() {
    this.onabort?.();
  }
  send(body: FormData) {
    this.sent = body;
    const a = FakeXhr.queue.shift() ?? FakeXhr.answer;
    queueMicrotask(() => {
      if (a === 'network') {
        this.onerror?.();
        return;
      }
      this.upload.onprogress?.({ lengthComputable: true, loaded: 50, total: 100 });
      this.upload.onprogress?.({ lengthComputable: true, loaded: 100, total: 100 });
      this.status = a.status;
      this.responseText = a.body;
      this.headers = a.headers ?? {};
      this.onload?.();
    });
  }
}
