// facesr serve's page end to end in headless Chromium (playwright-core with Debian's chromium): pick a
// photo of ../shared/data/photos, wait for the result, move the sliders with the keyboard, pick one
// face and restore it alone, download the photo and a face. The page's screenshots and the downloads
// are kept in out/e2e-serve/ (gitignored; replaced by each run). Skipped with a reason when ../shared
// or chromium is absent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { chromium, type Browser } from 'playwright-core';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const main = path.join(repo, 'dist', 'src', 'cli', 'main.js');
const ARTIFACTS = path.join(repo, 'out', 'e2e-serve');
const SHARED = [process.env.FACESR_SHARED, path.join(repo, 'shared'), path.join(repo, '../shared')]
  .filter((p): p is string => Boolean(p))
  .find((p) => existsSync(path.join(p, 'models/retinaface_mnet025.safetensors')));
const PHOTO = SHARED && path.join(SHARED, 'data/photos/ultralight_8.jpg');
const CHROMIUM = [process.env.FACESR_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(
  (p): p is string => Boolean(p && existsSync(p)),
);
const SKIP =
  !PHOTO || !existsSync(PHOTO)
    ? `shared/ (RetinaFace weights and data/photos/ultralight_8.jpg) not found beside ${repo}`
    : !CHROMIUM
      ? "no chromium (Debian's chromium package: scripts/setup.sh installs it; or set FACESR_CHROMIUM)"
      : false;
if (SKIP) console.log(`# e2e serve test skipped: ${SKIP}`);

function serve(args: string[]): Promise<{ child: ChildProcess; url: string; log: () => string }> {
  const child = spawn(process.execPath, [main, 'serve', ...args], {
    env: { ...process.env, OMP_NUM_THREADS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL after 120 s; stderr: ${err}`)), 120_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+?)\/ /.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]!, log: () => err });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}: ${err}`));
    });
  });
}

test(
  'the page restores a photo: boxes, sliders, face picking, downloads',
  { skip: SKIP, timeout: 600_000 },
  async () => {
    // Files are replaced, never the folder removed: another checkout's test run may be writing here too.
    mkdirSync(ARTIFACTS, { recursive: true });
    const started = Date.now() - 1000;
    const weights = path.join(SHARED!, 'models/retinaface_mnet025.safetensors');
    const server = await serve(['--port', '0', '--threads', '1', '--detector-weights', weights]);
    let browser: Browser | undefined;
    try {
      browser = await chromium.launch({ executablePath: CHROMIUM!, args: ['--no-sandbox'] });
      const page = await browser.newPage({ acceptDownloads: true, viewport: { width: 1200, height: 900 } });
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
      page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
      page.on(
        'request',
        (r) =>
          !r.url().startsWith(server.url) &&
          !/^(data|blob):/.test(r.url()) &&
          problems.push(`left the origin: ${r.url()}`),
      );
      await page.goto(`${server.url}/`);

      // Every control has a label; choose x2 and pick the photo through the labelled file input.
      await page.getByLabel('Scale the whole photo').selectOption('2');
      await page.getByLabel('Largest face restored (pixels)').fill('20');
      await page.locator('#files').setInputFiles(PHOTO!);
      const section = page.locator('section.photo').first();
      await section.locator('.result:not([hidden])').waitFor({ timeout: 300_000 });
      const summary = (await section.locator('.summary').textContent())!;
      const m = /490x353 → 980x706, (\d+) of (\d+) faces restored/.exec(summary);
      assert.ok(m, summary);
      const [restored, found] = [Number(m[1]), Number(m[2])];
      assert.ok(restored >= 20 && found >= restored, summary);
      assert.equal(await section.locator('.boxes .box').count(), found, 'one box per face');
      assert.equal(await section.locator('.faces > li').count(), found, 'one card per face');
      assert.equal(
        await section.locator('.faces .face-compare').count(),
        restored,
        'a slider per restored face',
      );

      // The whole-photo slider, by keyboard: Home shows all "after", End all "before".
      const whole = section.getByLabel('Before / after, whole photo');
      await whole.focus();
      await page.keyboard.press('Home');
      assert.equal(
        await section.locator('.compare.whole .before').evaluate((e) => (e as HTMLElement).style.clipPath),
        'inset(0px 100% 0px 0px)',
      );
      await page.keyboard.press('End');
      assert.equal(
        await section.locator('.compare.whole .before').evaluate((e) => (e as HTMLElement).style.clipPath),
        'inset(0px 0% 0px 0px)',
      );
      for (let i = 0; i < 5; i++) await page.keyboard.press('ArrowLeft');
      assert.equal(await whole.inputValue(), '95');
      // A face's slider.
      const faceSlider = section.getByLabel('Before / after, face 0', { exact: true });
      await faceSlider.focus();
      await page.keyboard.press('Home');
      assert.match(
        await section
          .locator('.face')
          .first()
          .locator('.before')
          .evaluate((e) => (e as HTMLElement).style.clipPath),
        /inset\(0px 100%/,
      );

      // Downloads: the whole result (x2) and face 0 (64x64).
      const [dl] = await Promise.all([
        page.waitForEvent('download'),
        section.getByRole('link', { name: 'Download the result' }).click(),
      ]);
      assert.equal(dl.suggestedFilename(), 'ultralight_8-restored.jpg');
      const resultFile = path.join(ARTIFACTS, dl.suggestedFilename());
      await dl.saveAs(resultFile);
      const meta = await sharp(resultFile).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 980, 706]);
      const [dlf] = await Promise.all([
        page.waitForEvent('download'),
        section.getByRole('link', { name: 'Download face 0 (PNG)' }).click(),
      ]);
      const faceFile = path.join(ARTIFACTS, dlf.suggestedFilename());
      await dlf.saveAs(faceFile);
      const fm = await sharp(faceFile).metadata();
      assert.deepEqual([fm.format, fm.width, fm.height], ['png', 64, 64]);

      await section.locator('.summary').evaluate((e) => e.scrollIntoView());
      await page.screenshot({ path: path.join(ARTIFACTS, 'page.png') });

      // Which faces: untick all but face 1, restore again.
      for (const box of await section.locator('.faces .pick').all())
        if ((await box.getAttribute('value')) !== '1') await box.uncheck();
      await section.getByLabel('Restore face 1', { exact: true }).check();
      await section.getByRole('button', { name: 'Restore the ticked faces' }).click();
      await page.waitForFunction(
        () =>
          /, 1 of \d+ faces restored/.test(
            document.querySelector('section.photo .summary')?.textContent ?? '',
          ),
        undefined,
        { timeout: 300_000 },
      );
      assert.equal(await section.locator('.faces .face-compare').count(), 1);
      assert.match(
        (await section.locator('.faces > li').nth(1).locator('.face-title').textContent())!,
        /Face 1 .* restored/,
      );
      await page.screenshot({ path: path.join(ARTIFACTS, 'page-one-face.png'), fullPage: true });
      assert.deepEqual(problems, []);
    } finally {
      await browser?.close();
      server.child.kill('SIGTERM');
      await new Promise((r) => server.child.once('exit', r));
    }
    assert.match(server.log(), /POST \/v1\/enhance 200 1\/\d+ faces restored/);
    for (const f of ['page.png', 'page-one-face.png'])
      assert.ok(statSync(path.join(ARTIFACTS, f)).mtimeMs >= started, `${f} written by this run`);
  },
);
