import { act, renderHook } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeEventSource } from './test/FakeEventSource';
import { useJobProgress } from './useJobProgress';

const ID = '1b4e28ba-2fa1-41d2-883f-0016d3cca427';
const latest = FakeEventSource.latest;

beforeEach(() => FakeEventSource.install());
afterEach(() => vi.unstubAllGlobals());

describe('useJobProgress', () => {
  it('connects to the job stream and applies progress events in order', () => {
    const { result } = renderHook(() => useJobProgress(ID));
    const es = latest();
    expect(es.url).toBe(`/api/progress/${ID}`);
    expect(result.current.status).toBe('connecting');
    act(() => es.open());
    expect(result.current.status).toBe('open');
    act(() => es.send('progress', 1, { progress: 1, stage: 'decode', message: 'Decoding', ts: 100 }));
    act(() => es.send('progress', 2, { progress: 40.5, stage: 'separate', message: 'Chunk 2/4', ts: 101 }));
    expect(result.current.progress).toBe(40.5);
    expect(result.current.stage).toBe('separate');
    expect(result.current.message).toBe('Chunk 2/4');
    expect(result.current.log.map((l) => l.id)).toEqual([1, 2]);
    expect(result.current.log[1]).toMatchObject({ ts: 101, stage: 'separate' });
  });

  it('drops events it has already seen (replayed history after a reconnect)', () => {
    const { result } = renderHook(() => useJobProgress(ID));
    const es = latest();
    act(() => es.send('progress', 1, { progress: 5, stage: 'separate', message: 'a', ts: 1 }));
    act(() => es.send('progress', 2, { progress: 10, stage: 'separate', message: 'b', ts: 2 }));
    act(() => es.fail(false));
    expect(result.current.status).toBe('reconnecting');
    act(() => es.send('progress', 2, { progress: 10, stage: 'separate', message: 'b', ts: 2 }));
    act(() => es.send('progress', 3, { progress: 20, stage: 'separate', message: 'c', ts: 3 }));
    expect(result.current.log.map((l) => l.message)).toEqual(['a', 'b', 'c']);
    expect(result.current.status).toBe('open');
  });

  it('finishes on done at 100 % and closes the stream', () => {
    const { result } = renderHook(() => useJobProgress(ID));
    const es = latest();
    act(() => es.send('progress', 1, { progress: 97, stage: 'midi', message: 'Writing', ts: 1 }));
    act(() => es.send('done', 2, { job_id: ID, progress: 100, ts: 2 }));
    expect(result.current.status).toBe('done');
    expect(result.current.progress).toBe(100);
    expect(es.readyState).toBe(FakeEventSource.CLOSED);
    // Nothing after the end changes the state.
    act(() => es.fail(true));
    expect(result.current.status).toBe('done');
  });

  it('tells a server error event from a connection error', () => {
    const { result } = renderHook(() => useJobProgress(ID));
    const es = latest();
    act(() => es.send('error', 4, { code: 'cancelled', message: 'The job was cancelled.', ts: 9 }));
    expect(result.current.status).toBe('error');
    expect(result.current.error).toEqual({ code: 'cancelled', message: 'The job was cancelled.' });
    expect(es.readyState).toBe(FakeEventSource.CLOSED);
    expect(result.current.log.at(-1)).toMatchObject({ stage: 'error', message: 'The job was cancelled.' });
  });

  it('reports a stream the browser gave up on as lost', () => {
    const { result } = renderHook(() => useJobProgress(ID));
    act(() => latest().fail(true));
    expect(result.current.status).toBe('lost');
  });

  it('skips a malformed event without failing', () => {
    const { result } = renderHook(() => useJobProgress(ID));
    const es = latest();
    act(() => es.dispatchEvent(new MessageEvent('progress', { data: '{not json', lastEventId: '1' })));
    act(() => es.send('progress', 2, { progress: 3, stage: 'tempo', message: 'ok', ts: 1 }));
    expect(result.current.log.map((l) => l.id)).toEqual([2]);
  });

  it('opens nothing without a job, closes on unmount and starts clean for a new job', () => {
    const { result, rerender, unmount } = renderHook(({ id }) => useJobProgress(id), { initialProps: { id: null as string | null } });
    expect(FakeEventSource.all).toHaveLength(0);
    rerender({ id: ID });
    const first = latest();
    act(() => first.send('progress', 1, { progress: 50, stage: 'separate', message: 'x', ts: 1 }));
    rerender({ id: 'other-job' });
    expect(first.readyState).toBe(FakeEventSource.CLOSED);
    expect(result.current.log).toHaveLength(0);
    expect(result.current.progress).toBe(0);
    unmount();
    expect(latest().readyState).toBe(FakeEventSource.CLOSED);
  });
});
