// End-to-end: the try_before_you_buy shop in Debian's headless Chromium (playwright-core).
// Guest visit, add to cart, register, cart still there, sign out, sign in from a fresh browser
// context as a guest with its own cart: both carts merged. Another site's page that posts a form
// to the shop and loads 20 images from it: the visitor stays signed in with the same cart, and
// no guest is stored for those requests. Screenshots go to ../target/e2e/.
//
// Needs: the example built (`cargo build --example try_before_you_buy`), /usr/bin/chromium,
// `npm ci` here. Run: `npm test` (or `node --test shop.test.mjs`).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const targetDir = process.env.CARGO_TARGET_DIR ? path.resolve(root, process.env.CARGO_TARGET_DIR) : path.join(root, 'target');
const shopBinary = path.join(targetDir, 'debug', 'examples', 'try_before_you_buy');
const shots = path.join(targetDir, 'e2e');
mkdirSync(shots, { recursive: true });

let server;
let browser;
let base;

// The shop binds ADDR=127.0.0.1:0 and prints "Teashop on http://127.0.0.1:PORT"; reading the
// address from that line leaves no window in which another process could take the port.
function boundAddress(child, deadlineMs) {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`shop printed no address: ${seen}`)), deadlineMs);
    child.stdout.on('data', (chunk) => {
      seen += chunk;
      process.stdout.write(chunk);
      const match = seen.match(/on (http:\/\/[0-9.:]+)/);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.on('exit', (code) => reject(new Error(`shop exited with ${code}: ${seen}`)));
  });
}

before(async () => {
  server = spawn(shopBinary, [], {
    env: { ...process.env, ADDR: '127.0.0.1:0', AUTH_DEV_MODE: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  base = await boundAddress(server, 20_000);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
});

async function addToCart(page, product) {
  await page.goto(`${base}/`);
  await page.click(`li[data-product="${product}"] button`);
  await page.waitForURL(`${base}/cart`);
}

async function cartItems(page) {
  await page.goto(`${base}/cart`);
  return (await page.locator('li.cart-item').allInnerTexts()).map((text) => text.trim());
}

test('a guest keeps its cart through register, sign-out and sign-in, and carts merge', async () => {
  const email = `ann+${Date.now()}@example.com`;
  const password = 'correct horse battery staple';

  // A first visit: a guest at once.
  const first = await browser.newContext();
  const page = await first.newPage();
  await page.goto(`${base}/`);
  assert.match(await page.locator('header').innerText(), /Browsing as guest/);
  await page.screenshot({ path: path.join(shots, '1-guest-landing.png'), fullPage: true });

  await addToCart(page, 'tea');
  assert.deepEqual((await cartItems(page)).length, 1);
  assert.match((await cartItems(page))[0], /Lapsang/);
  await page.screenshot({ path: path.join(shots, '2-guest-cart.png'), fullPage: true });

  // Register: the same user, upgraded in place; the cart is still there.
  await page.goto(`${base}/account`);
  await page.fill('#register input[name=email]', email);
  await page.fill('#register input[name=password]', password);
  await page.click('#register button');
  await page.waitForURL(`${base}/cart`);
  assert.match(await page.locator('header').innerText(), new RegExp(`Signed in as ${email.replace(/[+.]/g, '\\$&')}`));
  assert.match((await cartItems(page)).join('\n'), /Lapsang/);
  await page.screenshot({ path: path.join(shots, '3-registered-cart.png'), fullPage: true });

  // Sign out: a new guest with an empty cart.
  await page.goto(`${base}/account`);
  await page.click('#sign-out button');
  await page.waitForURL(`${base}/`);
  assert.match(await page.locator('header').innerText(), /Browsing as guest/);
  assert.deepEqual(await cartItems(page), []);
  await first.close();

  // A fresh browser: a guest fills its own cart, then signs in: both carts, merged.
  const second = await browser.newContext();
  const other = await second.newPage();
  await addToCart(other, 'honey');
  await other.goto(`${base}/account`);
  await other.fill('#sign-in input[name=email]', email);
  await other.fill('#sign-in input[name=password]', password);
  await other.click('#sign-in button');
  await other.waitForURL(`${base}/cart`);
  assert.match(await other.locator('header').innerText(), /Signed in as/);
  const merged = (await cartItems(other)).join('\n');
  assert.match(merged, /Lapsang/);
  assert.match(merged, /honey/i);
  await other.screenshot({ path: path.join(shots, '4-signed-in-merged-cart.png'), fullPage: true });

  // A wrong password is refused with a clear message, and nothing changes.
  await other.goto(`${base}/account`);
  await second.clearCookies();
  await other.goto(`${base}/account`);
  await other.fill('#sign-in input[name=email]', email);
  await other.fill('#sign-in input[name=password]', 'wrong password!');
  await other.click('#sign-in button');
  assert.match(await other.locator('.error').innerText(), /Invalid email or password/i);
  await other.screenshot({ path: path.join(shots, '5-wrong-password.png'), fullPage: true });
  await second.close();
});

test('a form posted without its CSRF token is refused', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${base}/`);
  const status = await page.evaluate(async () => {
    const response = await fetch('/cart', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'product=tea&csrf=forged',
    });
    return response.status;
  });
  assert.equal(status, 403);
  await context.close();
});

/// Users the shop stored, when it runs on Redis (scripts/test.sh sets REDIS_URL and a prefix).
function storedUsers() {
  const url = process.env.REDIS_URL;
  if (!url) return null;
  const prefix = process.env.REDIS_PREFIX || 'taa:';
  const keys = execFileSync('redis-cli', ['-u', url, '--scan', '--pattern', `${prefix}{u:*`], { encoding: 'utf8' });
  return keys.split('\n').filter((key) => key.trim()).length;
}

test("another site's form post and images neither sign the visitor out nor store guests", async () => {
  // The attacker's page, on another site: localhost is not the same site as 127.0.0.1.
  const attacker = createHttpServer((request, response) => {
    const images = Array.from({ length: 20 }, (_, i) => `<img src="${base}/cart?i=${i}" width=1 height=1>`).join('');
    response.writeHead(200, { 'content-type': 'text/html' });
    response.end(`<!doctype html><title>Win a prize</title>${images}
      <form id=f method=post action="${base}/cart"><input name=product value=kettle><input name=csrf value=x></form>
      <script>window.addEventListener('load', () => document.getElementById('f').submit());</script>`);
  });
  await new Promise((resolve) => attacker.listen(0, '127.0.0.1', resolve));
  const evil = `http://localhost:${attacker.address().port}/`;
  try {
    const email = `victim+${Date.now()}@example.com`;
    const context = await browser.newContext();
    const page = await context.newPage();
    await addToCart(page, 'tea');
    await page.goto(`${base}/account`);
    await page.fill('#register input[name=email]', email);
    await page.fill('#register input[name=password]', 'correct horse battery staple');
    await page.click('#register button');
    await page.waitForURL(`${base}/cart`);
    const users = storedUsers();

    await page.goto(evil);
    await page.waitForURL((url) => url.href.startsWith(`${base}/cart`), { timeout: 10_000 });
    await page.screenshot({ path: path.join(shots, '6-after-cross-site-post.png'), fullPage: true });

    const items = (await cartItems(page)).join('\n');
    assert.match(await page.locator('header').innerText(), /Signed in as/, 'still signed in');
    assert.match(items, /Lapsang/, 'the cart is kept');
    assert.doesNotMatch(items, /kettle/i, 'the forged post added nothing');
    if (users !== null) assert.equal(storedUsers(), users, 'no guest stored for the cross-site requests');
    await context.close();
  } finally {
    attacker.close();
  }
});
