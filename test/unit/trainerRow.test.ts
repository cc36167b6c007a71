// The Training view's trainer row through a run's life: live, run_end ingested, process exited.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { finalStatusOfExit, trainerPhase, trainerRow } from '../../src/extension/training/trainerRow';

test('a live trainer shows its activity and carries the Stop button', () => {
  const row = trainerRow('run-1', trainerPhase({ state: 'running' }, undefined)!, 4);
  assert.equal(row.label, 'Training run-1');
  assert.equal(row.description, 'running · step 4');
  assert.equal(row.icon, 'pulse');
  assert.equal(row.contextValue, 'trainer');
  assert.equal(row.finished, false);
  assert.equal(trainerRow(undefined, 'starting', null).label, 'Trainer starting');
  assert.equal(trainerRow('run-1', 'stopping', 4).contextValue, 'trainer.stopping', 'no second Stop while stopping');
});

test('run_end ingested while the process still checkpoints: the row is finished, no Stop button', () => {
  const phase = trainerPhase({ state: 'running', ended: 'completed' }, undefined);
  assert.equal(phase, 'completed');
  const row = trainerRow('run-1', phase!, 2);
  assert.equal(row.label, 'Run run-1');
  assert.doesNotMatch(row.label, /Training/);
  assert.equal(row.description, 'completed · step 2');
  assert.equal(row.icon, 'pass');
  assert.equal(row.contextValue, 'trainer.finished');
  assert.equal(row.finished, true);
});

test('after the process exited the row keeps the final status with its own icon', () => {
  assert.equal(trainerPhase(undefined, undefined), null, 'no trainer ever ran in this window');
  const stopped = trainerRow('r', trainerPhase(undefined, finalStatusOfExit('stopped'))!, 7);
  assert.deepEqual([stopped.icon, stopped.description, stopped.contextValue], ['debug-stop', 'stopped · step 7', 'trainer.finished']);
  const failed = trainerRow('r', trainerPhase(undefined, finalStatusOfExit('crashed'))!, null);
  assert.deepEqual([failed.icon, failed.color, failed.description], ['error', 'testing.iconFailed', 'failed']);
  assert.equal(finalStatusOfExit('killed'), 'stopped');
  assert.equal(finalStatusOfExit('spawn-failed'), 'failed');
  assert.equal(finalStatusOfExit('completed'), 'completed');
  assert.equal(trainerRow(undefined, 'failed', null).label, 'Trainer exited');
});
