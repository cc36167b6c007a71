// The command registry against package.json: every contributed command has an id in the registry
// and every registry id (but the internal ones) is contributed; menus name only known commands;
// registerCommands reports a throwing command the same way wherever it lives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { COMMANDS, INTERNAL_COMMANDS, registerCommands, type Command, type CommandId } from '../../src/extension/commandRegistry';
import { describeArg, groupIdArg, runIdArg, trajectoryKeyArg } from '../../src/extension/commandArgs';

interface Manifest {
  contributes: {
    commands: Array<{ command: string; title: string }>;
    menus: Record<string, Array<{ command: string }>>;
    viewsWelcome: Array<{ contents: string }>;
  };
}

const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as Manifest;
const registry = new Set<string>(Object.values(COMMANDS));

test('every contributed command is in the registry, and every public registry id is contributed', () => {
  const contributed = manifest.contributes.commands.map((c) => c.command);
  assert.equal(new Set(contributed).size, contributed.length, 'a command is contributed twice');
  for (const id of contributed) assert.ok(registry.has(id), `package.json contributes ${id}, which no feature registers`);
  for (const id of registry) {
    if (INTERNAL_COMMANDS.has(id as CommandId)) assert.ok(!contributed.includes(id), `${id} is internal but contributed`);
    else assert.ok(contributed.includes(id), `${id} is registered but not in package.json contributes.commands`);
  }
  assert.ok(!registry.has('rewardLens.verifier.labelsChanged'), 'the never-executed labelsChanged command is gone');
});

test('menus and welcome links name only contributed commands', () => {
  const contributed = new Set(manifest.contributes.commands.map((c) => c.command));
  for (const [menu, items] of Object.entries(manifest.contributes.menus)) {
    for (const item of items) assert.ok(contributed.has(item.command), `menu ${menu} names ${item.command}`);
  }
  for (const w of manifest.contributes.viewsWelcome) {
    for (const m of w.contents.matchAll(/\(command:([\w.]+)\)/g)) assert.ok(contributed.has(m[1] as string), `welcome view links ${m[1]}`);
  }
});

function fakeHost() {
  const handlers = new Map<string, (...args: unknown[]) => Promise<void>>();
  const errors: Array<[string, string]> = [];
  const logs: string[] = [];
  return {
    handlers,
    errors,
    logs,
    host: {
      registerCommand: (id: string, h: (...args: unknown[]) => Promise<void>) => {
        handlers.set(id, h);
        return { dispose: () => handlers.delete(id) };
      },
      reportError: (id: CommandId, e: unknown) => void errors.push([id, e instanceof Error ? e.message : String(e)]),
      log: (l: string) => void logs.push(l),
    },
  };
}

test('registerCommands: one wrapper reports throws and rejections, passes arguments, refuses duplicates, names the missing', async () => {
  const { handlers, errors, logs, host } = fakeHost();
  const seen: unknown[] = [];
  const commands: Command[] = [
    { id: COMMANDS.openStore, execute: (...args) => void seen.push(args) },
    { id: COMMANDS.stopRun, execute: () => { throw new Error('sync boom'); } },
    { id: COMMANDS.showLog, execute: async () => { throw new Error('async boom'); } },
    { id: COMMANDS.openStore, execute: () => undefined },
  ];
  const disposables = registerCommands(commands, host);
  assert.equal(disposables.length, 3);
  await handlers.get(COMMANDS.openStore)?.('a', 2);
  assert.deepEqual(seen, [['a', 2]]);
  await handlers.get(COMMANDS.stopRun)?.();
  await handlers.get(COMMANDS.showLog)?.();
  assert.deepEqual(errors, [[COMMANDS.stopRun, 'sync boom'], [COMMANDS.showLog, 'async boom']]);
  assert.ok(logs.some((l) => l.includes(`${COMMANDS.openStore} is registered twice`)));
  const missing = logs.find((l) => l.startsWith('[commands] not registered:'));
  assert.ok(missing?.includes(COMMANDS.startTraining));
  for (const d of disposables) d.dispose();
  assert.equal(handlers.size, 0);
});

test('command arguments are parsed once into branded ids; anything else is refused', () => {
  assert.equal(groupIdArg('12'), 12);
  assert.equal(groupIdArg(12), 12);
  assert.equal(groupIdArg({ kind: 'group', group: { groupId: 7, runId: 'r' } }), 7);
  for (const bad of ['-1', '1e3', 1.5, -2, '../../etc', { group: { groupId: '1; DROP' } }, null, [], Number.NaN, 2 ** 60]) assert.equal(groupIdArg(bad), null, describeArg(bad));
  assert.equal(trajectoryKeyArg('34'), 34);
  assert.equal(trajectoryKeyArg({ trajectoryKey: 34 }), null);
  assert.equal(runIdArg('run-a'), 'run-a');
  assert.equal(runIdArg({ kind: 'run', run: { runId: 'run-b' } }), 'run-b');
  assert.equal(runIdArg({ runId: 'run-c' }), 'run-c');
  assert.equal(runIdArg(''), undefined);
  assert.equal(runIdArg({ run: { runId: 3 } }), undefined);
  assert.ok(describeArg('x'.repeat(500)).length <= 80);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.equal(describeArg(cyclic), '[object Object]');
});
