// UTKFace identity by age, gender and race (src/eval/utk.ts): labels from file names, groups, and a
// small run on the shared data (skipped with a reason where it is absent) with resume and the CLI.
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ageBucket,
  listUtk,
  parseUtkName,
  utkGroups,
  utkIdentity,
  utkMarkdown,
  type UtkFace,
} from '../src/eval/utk.js';
import { bicubicMethod, spread } from '../src/eval/run.js';
import { utkCommand, EVAL_UTK_HELP } from '../src/cli/evalextra.js';

const UTK = path.join(process.env.FACESR_DATA ?? '/work/shared/data', 'eval', 'utkface');
const SKIP = existsSync(UTK) ? false : `UTKFace not found at ${UTK}`;
if (SKIP) console.log(`# UTKFace protocol tests skipped: ${SKIP}`);

test('parseUtkName and ageBucket', () => {
  assert.deepEqual(parseUtkName('/x/26_1_2_20170116174525125.webp'), {
    age: 26,
    age_bucket: '20-29',
    gender: 'female',
    race: 'asian',
  });
  assert.equal(parseUtkName('100_0_4_2017.jpg').age_bucket, '70+');
  assert.deepEqual([0, 2, 3, 9, 10, 19, 20, 59, 60, 69, 70].map(ageBucket), [
    '0-2',
    '0-2',
    '3-9',
    '3-9',
    '10-19',
    '10-19',
    '20-29',
    '50-59',
    '60-69',
    '60-69',
    '70+',
  ]);
  assert.throws(
    () => parseUtkName('/d/39_1_20170116174525125.jpg'),
    /\/d\/39_1_20170116174525125\.jpg: not a UTKFace name '<age>_<gender>_<race>_<date>\.<ext>'/,
  );
  assert.throws(() => parseUtkName('a_0_0_1.jpg'), /a_0_0_1\.jpg: not a UTKFace name/);
  assert.throws(() => listUtk('/no/such/folder'), /--utk: \/no\/such\/folder is not a folder/);
});

test('utkGroups: all, buckets present only, paired difference to bicubic', () => {
  const faces: UtkFace[] = [
    {
      file: 'a',
      age: 25,
      age_bucket: '20-29',
      gender: 'male',
      race: 'white',
      cosine: { bicubic: 0.9, m: 0.95 },
    },
    {
      file: 'b',
      age: 27,
      age_bucket: '20-29',
      gender: 'female',
      race: 'white',
      cosine: { bicubic: 0.8, m: 0.82 },
    },
    {
      file: 'c',
      age: 71,
      age_bucket: '70+',
      gender: 'female',
      race: 'black',
      cosine: { bicubic: 0.7, m: 0.69 },
    },
  ];
  const g = utkGroups(faces, ['bicubic', 'm']);
  assert.deepEqual(
    g.map((x) => [x.group, x.faces]),
    [
      ['all', 3],
      ['age 20-29', 2],
      ['age 70+', 1],
      ['gender male', 1],
      ['gender female', 2],
      ['race white', 2],
      ['race black', 1],
    ],
  );
  assert.ok(Math.abs(g[0]!.methods['bicubic']!.mean - 0.8) < 1e-12);
  assert.ok(Math.abs(g[1]!.vs_bicubic!['m']!.mean - 0.035) < 1e-12);
  assert.equal(g[0]!.vs_bicubic!['bicubic'], undefined);
  assert.equal(utkGroups(faces, ['m'])[0]!.vs_bicubic, undefined);
});

test('utk: a small run with bicubic, resume, CLI', { skip: SKIP }, async (t) => {
  const all = listUtk(UTK);
  assert.ok(all.length > 100);
  const files = spread(all, 6);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'facesr-utk-'));
  try {
    const progressFile = path.join(tmp, 'p.jsonl');
    const r = await utkIdentity({ files, methods: [bicubicMethod()], batch: 4, progressFile });
    assert.equal(r.faces.length, 6);
    assert.equal(r.groups[0]!.group, 'all');
    assert.equal(r.groups[0]!.faces, 6);
    for (const f of r.faces) {
      const c = f.cosine['bicubic']!;
      assert.ok(c > 0.5 && c < 1, `${f.file}: bicubic identity cosine ${c}`);
    }
    t.diagnostic(utkMarkdown(r));
    const lines = readFileSync(progressFile, 'utf8').split('\n');
    writeFileSync(progressFile, lines.slice(0, 4).join('\n') + '\n');
    const again = await utkIdentity({
      files,
      methods: [bicubicMethod()],
      batch: 4,
      progressFile,
      resume: true,
    });
    assert.deepEqual(
      again.faces.map((f) => f.cosine['bicubic']),
      r.faces.map((f) => f.cosine['bicubic']),
    );
    const log = console.log;
    const out: string[] = [];
    console.log = (s: string) => out.push(String(s));
    try {
      assert.equal(await utkCommand(['--help']), 0);
      assert.equal(out[0], EVAL_UTK_HELP);
      await assert.rejects(utkCommand(['--json', 'x']), /Missing --utk DIR/);
      await assert.rejects(utkCommand(['--utk', UTK]), /Missing --json OUT/);
      const json = path.join(tmp, 'utk.json');
      const code = await utkCommand([
        '--utk',
        UTK,
        '--methods',
        'bicubic',
        '--limit',
        '3',
        '--json',
        json,
        '--report',
        path.join(tmp, 'utk.md'),
        '--quiet',
      ]);
      assert.equal(code, 0);
      const j = JSON.parse(readFileSync(json, 'utf8')) as { faces: unknown[]; groups: { group: string }[] };
      assert.equal(j.faces.length, 3);
      assert.equal(j.groups[0]!.group, 'all');
      assert.match(readFileSync(path.join(tmp, 'utk.md'), 'utf8'), /\| all \| 3 \|/);
    } finally {
      console.log = log;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
