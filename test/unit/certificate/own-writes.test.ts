import { describe, expect, it } from 'vitest';
import { OwnWrites } from '../../../src/certificate/own-writes.ts';

describe('OwnWrites: which watch events are our own writes', () => {
  it('a version we wrote is ours once; another version, another object or a later event is not', () => {
    const own = new OwnWrites();
    own.record('secret:ns/a', '10');
    expect(own.consume('secret:ns/b', '10')).toBe(false);
    expect(own.consume('secret:ns/a', '11')).toBe(false);
    expect(own.consume('secret:ns/a', undefined)).toBe(false);
    expect(own.consume('secret:ns/a', '10')).toBe(true);
    expect(own.consume('secret:ns/a', '10')).toBe(false);
    expect(own.size).toBe(0);
  });

  it('an event for a later write drops the versions recorded before it (their events were coalesced)', () => {
    const own = new OwnWrites();
    own.record('certificate:ns/c', '1');
    own.record('certificate:ns/c', '2');
    own.record('certificate:ns/c', '3');
    expect(own.consume('certificate:ns/c', '2')).toBe(true);
    expect(own.consume('certificate:ns/c', '1')).toBe(false);
    expect(own.consume('certificate:ns/c', '3')).toBe(true);
    expect(own.size).toBe(0);
  });

  it('keeps a few versions per object, none without a version, and forgets an object whole', () => {
    const own = new OwnWrites();
    own.record('secret:ns/a', '');
    own.record('secret:ns/a', undefined);
    expect(own.size).toBe(0);
    for (const v of ['1', '2', '3', '4', '5']) own.record('secret:ns/a', v);
    expect(own.consume('secret:ns/a', '1')).toBe(false);
    own.forget('secret:ns/a');
    expect(own.consume('secret:ns/a', '5')).toBe(false);
    expect(own.size).toBe(0);
  });
});
