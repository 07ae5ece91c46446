// stopOnSignal (src/train/report.ts): how train and train-fan take Ctrl-C and SIGTERM.
import test from 'node:test';
import assert from 'node:assert/strict';
import { stopOnSignal } from '../src/train/report.js';

test('SIGINT and SIGTERM request a stop; a duplicate within a second does not quit; dispose removes it', () => {
  const before = [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];
  const errors: string[] = [];
  const err = console.error;
  console.error = (m: string) => errors.push(m);
  try {
    const stop = stopOnSignal('train');
    assert.equal(stop.requested, false);
    process.emit('SIGINT');
    assert.equal(stop.requested, true);
    process.emit('SIGINT'); // the same Ctrl-C delivered twice: must not exit (the test would end here)
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /facesr train: stopping after this step and saving a checkpoint/);
    stop.dispose();
    assert.deepEqual([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')], before);

    const term = stopOnSignal('train-fan');
    process.emit('SIGTERM');
    assert.equal(term.requested, true);
    term.dispose();
    const manual = stopOnSignal('train-fan');
    manual.request();
    assert.equal(manual.requested, true);
    manual.dispose();
    assert.equal(errors.length, 2);
  } finally {
    console.error = err;
  }
});
