// The dashboard's axis rules, checked on the series the e2e screenshots showed drawn wrong.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { digitsForStep, stepAxis, tickCountFor, valueAxis, type AxisKind } from '../../webview/dashboard/axes';

const labels = (values: number[], kind: AxisKind, extra: { nonNegative?: boolean; includeZero?: boolean } = {}, maxTicks = 4) => {
  const a = valueAxis(values, { kind, maxTicks, ...extra });
  return { ...a, labels: a.ticks.map(a.format) };
};

const unique = (xs: string[]) => new Set(xs).size === xs.length;

test('step axis: integer ticks only, also for 3 steps on a wide chart', () => {
  const a = stepAxis(0, 2, 9);
  assert.deepEqual(a.ticks, [0, 1, 2]);
  assert.deepEqual(a.ticks.map(a.format), ['0', '1', '2']);
  assert.ok(stepAxis(0, 2000, 8).ticks.every(Number.isInteger));
  const one = stepAxis(5, 5, 6);
  assert.deepEqual(one.domain, [5, 6]);
  assert.deepEqual(one.ticks, [5, 6]);
});

test('accuracy axis stays inside [0, 100%], flat or not', () => {
  for (const values of [[0.625, 0.625, 0.625], [0.1, 0.97], [1, 1], [0, 0], [0.995, 0.999]]) {
    const a = labels(values, 'ratio');
    assert.ok(a.domain[0] >= 0 && a.domain[1] <= 1, `domain ${a.domain} for ${values}`);
    assert.ok(a.ticks.every((t) => t >= 0 && t <= 1), `ticks ${a.ticks}`);
    assert.ok(!a.labels.some((l) => l === '120%' || l.startsWith('−')), a.labels.join(' '));
    assert.ok(unique(a.labels), a.labels.join(' '));
    assert.ok(a.ticks.length >= 2, `at least two ticks for ${values}`);
  }
  assert.ok(labels([0.1, 0.97], 'ratio').labels.includes('100%'));
});

test('failed-response ratio that is 0 at every step: a non-negative domain, no −20%', () => {
  const a = labels([0, 0, 0], 'ratio');
  assert.equal(a.domain[0], 0);
  assert.ok(a.domain[1] > 0 && a.domain[1] <= 1);
  assert.deepEqual(a.labels, ['0%', '5%', '10%']);
});

test('flat response length of 21.5 tokens: integer ticks, no repeated labels', () => {
  const a = labels([21.5, 21.5, 21.5], 'integer', { nonNegative: true }, 5);
  assert.ok(a.ticks.every(Number.isInteger), `ticks ${a.ticks}`);
  assert.ok(unique(a.labels), a.labels.join(' '));
  assert.ok(a.domain[0] <= 21.5 && a.domain[1] >= 21.5);
  assert.ok(a.ticks.length >= 2);
  const big = labels([812.25, 812.5], 'integer', { nonNegative: true }, 5);
  assert.ok(big.ticks.every(Number.isInteger) && unique(big.labels), big.labels.join(' '));
});

test('flat real series (entropy, R_OGER, advantage): sensible domain and distinct labels', () => {
  const entropy = labels([4.593, 4.593], 'real', { nonNegative: true });
  assert.ok(unique(entropy.labels) && entropy.ticks.length >= 2, entropy.labels.join(' '));
  const zeroRoger = labels([0, 0, 0], 'real', { nonNegative: true });
  assert.equal(zeroRoger.domain[0], 0, 'R_OGER of 0 at every step does not get a negative axis');
  assert.ok(unique(zeroRoger.labels) && zeroRoger.labels.every((l) => !l.startsWith('−')), zeroRoger.labels.join(' '));
  const tiny = labels([1e-4, 1e-4], 'real', { nonNegative: true });
  assert.ok(tiny.domain[0] >= 0 && unique(tiny.labels) && !tiny.labels.includes('−0'), tiny.labels.join(' '));
  const adv = labels([0.55, 0.55], 'real', { includeZero: true });
  assert.ok(adv.domain[0] <= 0 && adv.domain[1] >= 0.55 && unique(adv.labels), adv.labels.join(' '));
  const negAdv = labels([-0.4, -0.2], 'real', { includeZero: true });
  assert.ok(negAdv.domain[0] <= -0.4 && negAdv.domain[1] >= 0, `domain ${negAdv.domain}`);
  assert.ok(negAdv.labels.some((l) => l.startsWith('−')), 'negative advantages keep their sign');
});

test('helpers: tick count from height, digits from tick step', () => {
  assert.equal(tickCountFor(120), 4);
  assert.equal(tickCountFor(10), 2);
  assert.equal(digitsForStep(0.05), 2);
  assert.equal(digitsForStep(0.2), 1);
  assert.equal(digitsForStep(1), 0);
  assert.equal(digitsForStep(50), 0);
});
