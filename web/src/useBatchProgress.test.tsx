import { act, renderHook, waitFor } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeEventSource } from './test/FakeEventSource';
import { jsonResponse, makeBatch, makeJob, stubFetch } from './test/fixtures';
import { POLL_MS, useBatchProgress } from './useBatchProgress';

const latest = FakeEventSource.latest;
const running = makeBatch('b1', [makeJob({ job_id: 'j1', state: 'running', progress: 40 }), makeJob({ job_id: 'j2', state: 'queued', progress: 0 })]);
const halfway = makeBatch('b1', [makeJob({ job_id: 'j1' }), makeJob({ job_id: 'j2', state: 'running', progress: 10 })]);
const ended = makeBatch('b1', [makeJob({ job_id: 'j1' }), makeJob({ job_id: 'j2', state: 'failed', error: { code: 'failed', message: 'No audio.' } })]);

beforeEach(() => FakeEventSource.install());
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('useBatchProgress', () => {
  it('loads the batch, then follows its stream until done and closes it', async () => {
    const fetchMock = stubFetch((url) => (url === '/api/batches/b1' ? jsonResponse(200, running) : undefined));
    const { result } = renderHook(() => useBatchProgress('b1'));
    expect(result.current.status).toBe('connecting');
    await waitFor(() => expect(result.current.batch?.state).toBe('running'));
    const es = latest();
    expect(es.url).toBe('/api/progress/batch/b1');
    act(() => es.open());
    expect(result.current.status).toBe('open');
    act(() => es.send('batch', 1, halfway));
    expect(result.current.batch?.counts.done).toBe(1);
    expect(result.current.batch?.progress).toBe(55);
    act(() => es.send('done', 2, ended));
    expect(result.current.status).toBe('done');
    expect(result.current.batch?.counts).toMatchObject({ done: 1, failed: 1 });
    expect(es.readyState).toBe(FakeEventSource.CLOSED);
    expect(fetchMock).toHaveBeenCalledTimes(1);
  });

  it('opens no stream for a batch that has ended already', async () => {
    stubFetch(() => jsonResponse(200, ended));
    const { result } = renderHook(() => useBatchProgress('b1'));
    await waitFor(() => expect(result.current.status).toBe('done'));
    expect(FakeEventSource.all).toHaveLength(0);
  });

  it("reports a batch that is not there, or someone else's, without a stream", async () => {
    stubFetch(() => jsonResponse(404, { code: 'not_found', message: 'No batch with this id.' }));
    const { result } = renderHook(() => useBatchProgress('b9'));
    await waitFor(() => expect(result.current.status).toBe('error'));
    expect(result.current.error?.code).toBe('not_found');
    expect(result.current.batch).toBeNull();
    expect(FakeEventSource.all).toHaveLength(0);
  });

  it('skips a malformed event, and says when it reconnects', async () => {
    stubFetch(() => jsonResponse(200, running));
    const { result } = renderHook(() => useBatchProgress('b1'));
    await waitFor(() => expect(FakeEventSource.all).toHaveLength(1));
    const es = latest();
    act(() => es.dispatchEvent(new MessageEvent('batch', { data: '{not json' })));
    expect(result.current.batch?.progress).toBe(20);
    act(() => es.fail(false));
    expect(result.current.status).toBe('reconnecting');
    act(() => es.send('batch', 3, halfway));
    expect(result.current.status).toBe('open');
  });

  it('asks every 2 s once the browser gives up on the stream, until the batch is done', async () => {
    vi.useFakeTimers();
    let answer = running;
    const fetchMock = stubFetch(() => jsonResponse(200, answer));
    const { result } = renderHook(() => useBatchProgress('b1'));
    await act(() => vi.advanceTimersByTimeAsync(0));
    act(() => latest().fail(true));
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(result.current.status).toBe('lost');
    expect(fetchMock).toHaveBeenCalledTimes(2);
    answer = ended;
    await act(() => vi.advanceTimersByTimeAsync(POLL_MS));
    expect(result.current.status).toBe('done');
    expect(result.current.batch?.state).toBe('done');
    await act(() => vi.advanceTimersByTimeAsync(5 * POLL_MS));
    expect(fetchMock).toHaveBeenCalledTimes(3);
  });

  it('closes the stream when the page goes', async () => {
    stubFetch(() => jsonResponse(200, running));
    const { unmount } = renderHook(() => useBatchProgress('b1'));
    await waitFor(() => expect(FakeEventSource.all).toHaveLength(1));
    unmount();
    expect(latest().readyState).toBe(FakeEventSource.CLOSED);
  });
});
