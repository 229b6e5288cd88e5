// Size budgets: the loader every merchant page pays for, and the chat bundle.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { gzipSync, constants } from 'node:zlib';
import { REPO_DIR } from './lib/server.mjs';

const WIDGET_DIR = path.join(REPO_DIR, 'web', 'widget');
const gz = (file) =>
  gzipSync(readFileSync(path.join(WIDGET_DIR, file)), { level: constants.Z_BEST_COMPRESSION }).length;

test('widget.js loader is at most 10 KB gzipped', () => {
  const size = gz('widget.js');
  assert.ok(size <= 10 * 1024, `widget.js is ${size} bytes gzipped`);
});

test('loader plus chat panel is at most 100 KB gzipped', () => {
  const files = readdirSync(WIDGET_DIR).filter((f) => /\.(m?js|css)$/.test(f));
  assert.ok(files.includes('app.js'), 'web/widget/app.js exists');
  const total = files.reduce((sum, f) => sum + gz(f), 0);
  assert.ok(total <= 100 * 1024, `web/widget/{${files.join(',')}} is ${total} bytes gzipped`);
});
