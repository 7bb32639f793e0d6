// End-to-end: the try_before_you_buy shop in Debian's headless Chromium (playwright-core).
// Guest visit, add to cart, register, cart still there, sign out, sign in from a fresh browser
// context as a guest with its own cart: both carts merged. Another site's page that posts a form
// to the shop and loads 20 images from it: the visitor stays signed in with the same cart, and
// no guest is stored for those requests. Against a real OpenID provider (node `oidc-provider`,
// e2e/oidc-provider.mjs) on its own login pages: a guest's first sign-in upgrades it in place
// with its cart, a second browser's guest signs in to the same account and the carts merge, and
// a third browser signs in with a one-time email code. On PostgreSQL (DATABASE_URL set) the
// carts are rows of the shop's own table, checked there too. Screenshots go to ../target/e2e/.
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
import { startProvider } from './oidc-provider.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const targetDir = process.env.CARGO_TARGET_DIR ? path.resolve(root, process.env.CARGO_TARGET_DIR) : path.join(root, 'target');
const shopBinary = path.join(targetDir, 'debug', 'examples', 'try_before_you_buy');
const shots = path.join(targetDir, 'e2e');
mkdirSync(shots, { recursive: true });

let server;
let browser;
let base;
let provider;

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
  // The provider listens first (the shop is told its issuer), and learns the shop's redirect
  // URI once the shop has printed the port it bound; the shop discovers it on first use.
  provider = await startProvider();
  server = spawn(shopBinary, [], {
    env: { ...process.env, ADDR: '127.0.0.1:0', AUTH_DEV_MODE: '1', OIDC_ISSUER: provider.issuer },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  base = await boundAddress(server, 20_000);
  provider.configure(base);
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
  await provider?.close();
});

/// A fresh browser (its own cookies); the provider's pages ask for a web font, which this
/// loopback-only machine cannot reach: refused at once rather than waited for.
async function newContext() {
  const context = await browser.newContext();
  await context.route(/fonts\.(googleapis|gstatic)\.com/, (route) => route.abort());
  return context;
}

const onShop = (pathname) => (url) => url.origin === base && url.pathname === pathname;

async function addToCart(page, product) {
  await page.goto(`${base}/`);
  await page.click(`li[data-product="${product}"] button`);
  await page.waitForURL(onShop('/cart'));
}

async function cartItems(page) {
  await page.goto(`${base}/cart`);
  return (await page.locator('li.cart-item').allInnerTexts()).map((text) => text.trim());
}

test('a guest keeps its cart through register, sign-out and sign-in, and carts merge', async () => {
  const email = `ann+${Date.now()}@example.com`;
  const password = 'correct horse battery staple';

  // A first visit: a guest at once.
  const first = await newContext();
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
  await page.waitForURL(onShop('/cart'));
  assert.match(await page.locator('header').innerText(), new RegExp(`Signed in as ${email.replace(/[+.]/g, '\\$&')}`));
  assert.match((await cartItems(page)).join('\n'), /Lapsang/);
  await page.screenshot({ path: path.join(shots, '3-registered-cart.png'), fullPage: true });

  // Sign out: a new guest with an empty cart.
  await page.goto(`${base}/account`);
  await page.click('#sign-out button');
  await page.waitForURL(onShop('/'));
  assert.match(await page.locator('header').innerText(), /Browsing as guest/);
  assert.deepEqual(await cartItems(page), []);
  await first.close();

  // A fresh browser: a guest fills its own cart, then signs in: both carts, merged.
  const second = await newContext();
  const other = await second.newPage();
  await addToCart(other, 'honey');
  await other.goto(`${base}/account`);
  await other.fill('#sign-in input[name=email]', email);
  await other.fill('#sign-in input[name=password]', password);
  await other.click('#sign-in button');
  await other.waitForURL(onShop('/cart'));
  assert.match(await other.locator('header').innerText(), /Signed in as/);
  const merged = (await cartItems(other)).join('\n');
  assert.match(merged, /Lapsang/);
  assert.match(merged, /honey/i);
  await other.screenshot({ path: path.join(shots, '4-signed-in-merged-cart.png'), fullPage: true });
  const account = await other.locator('header .who').getAttribute('data-user-id');
  const rows = cartRows(account);
  if (rows !== null) assert.deepEqual(rows, ['honey', 'tea'], "the guest's row moved to the account in the carts table");

  // A wrong password is refused with a clear message, and nothing changes.
  await other.goto(`${base}/account`);
  await second.clearCookies();
  await other.goto(`${base}/account`);
  await other.fill('#sign-in input[name=email]', email);
  await other.fill('#sign-in input[name=password]', 'wrong password!');
  await other.click('#sign-in button');
  assert.match(await other.locator('.error').innerText(), /email and password do not match/i);
  assert.equal(await other.inputValue('#sign-in input[name=email]'), email, 'the email is kept');
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

/// The products in `userId`'s rows of the shop's `carts` table, sorted, when it runs on
/// PostgreSQL.
function cartRows(userId) {
  const database = process.env.DATABASE_URL;
  if (!database) return null;
  const schema = process.env.DATABASE_SCHEMA || 'teashop';
  const sql = `SELECT product FROM "${schema}".carts WHERE owner_id = '${userId.replace(/'/g, "''")}' ORDER BY product`;
  return execFileSync('psql', [database, '-qAtc', sql], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

/// Users the shop stored, when it runs on PostgreSQL or Redis (scripts/test.sh sets
/// DATABASE_URL and a schema, or REDIS_URL and a prefix).
function storedUsers() {
  const database = process.env.DATABASE_URL;
  if (database) {
    const schema = process.env.DATABASE_SCHEMA || 'teashop';
    const count = execFileSync('psql', [database, '-qAtc', `SELECT count(*) FROM "${schema}".users`], { encoding: 'utf8' });
    return Number(count.trim());
  }
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
    await page.waitForURL(onShop('/cart'));
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

async function userId(page) {
  return page.locator('.who').getAttribute('data-user-id');
}

/// Signs in with OpenID on the provider's own login page (any login, any password), and its
/// consent page the first time; back on the shop's cart.
async function signInWithOpenId(page, login, shot) {
  await page.goto(`${base}/account`);
  await page.click('#openid');
  await page.waitForSelector('input[name=login]');
  assert.equal(new URL(page.url()).origin, provider.issuer, "on the provider's own page");
  if (shot) await page.screenshot({ path: path.join(shots, shot), fullPage: true });
  await page.fill('input[name=login]', login);
  await page.fill('input[name=password]', 'any password will do');
  await page.click('button[type=submit]');
  // Either the consent page or, once consent was given, straight back to the shop.
  await page.locator('input[name="prompt"][value="consent"], .who').first().waitFor({ state: 'attached' });
  if (new URL(page.url()).origin !== base) await page.click('button[type=submit]');
  await page.waitForURL(onShop('/cart'));
}

test('OpenID and email codes link the guest: kept in place, merged, signed in by code', async () => {
  const login = `oidc-${Date.now()}`;

  // A first browser: a guest fills a cart and signs in with OpenID for the first time. The
  // guest becomes the account (same user id) and keeps its cart.
  const first = await newContext();
  const page = await first.newPage();
  await addToCart(page, 'tea');
  const guestId = await userId(page);
  assert.ok(guestId, 'a guest id');
  await signInWithOpenId(page, login, '7-openid-provider-login.png');
  assert.match(await page.locator('header').innerText(), new RegExp(`Signed in as ${login}@example\\.com`));
  assert.equal(await userId(page), guestId, 'the guest was upgraded in place');
  assert.match(await page.locator('.done').innerText(), /Signed in/);
  assert.match((await cartItems(page)).join('\n'), /Lapsang/);
  await page.screenshot({ path: path.join(shots, '8-openid-first-sign-in-cart.png'), fullPage: true });
  await page.goto(`${base}/account`);
  await page.click('#sign-out button');
  await page.waitForURL(onShop('/'));
  await first.close();

  // A fresh browser: another guest, another cart, the same OpenID account: carts merged.
  const second = await newContext();
  const other = await second.newPage();
  await addToCart(other, 'honey');
  const secondGuest = await userId(other);
  assert.notEqual(secondGuest, guestId);
  await signInWithOpenId(other, login);
  assert.equal(await userId(other), guestId, 'signed in to the same account');
  const merged = (await cartItems(other)).join('\n');
  assert.match(merged, /Lapsang/);
  assert.match(merged, /honey/i);
  await other.screenshot({ path: path.join(shots, '9-openid-merged-cart.png'), fullPage: true });
  await second.close();

  // A third browser: a guest signs up with a one-time email code, read from the outbox.
  const email = `cy-${Date.now()}@example.com`;
  const third = await newContext();
  const shopper = await third.newPage();
  await addToCart(shopper, 'mug');
  const thirdGuest = await userId(shopper);
  await shopper.goto(`${base}/account`);
  await shopper.fill('#email-code input[name=email]', email);
  await shopper.click('#email-code button');
  await shopper.waitForSelector('#enter-code');
  await shopper.screenshot({ path: path.join(shots, '10-email-code-sent.png'), fullPage: true });
  const inbox = await third.newPage();
  await inbox.goto(`${base}/dev/outbox`);
  const code = (await inbox.locator(`li.mail[data-to="${email}"] .code`).first().innerText()).trim();
  assert.match(code, /^\d{6}$/);
  await inbox.screenshot({ path: path.join(shots, '11-dev-outbox.png'), fullPage: true });
  await inbox.close();
  await shopper.fill('#enter-code input[name=code]', code.replace(/\d$/, (d) => String((Number(d) + 1) % 10)));
  await shopper.click('#enter-code button');
  assert.match(await shopper.locator('.error').innerText(), /wrong or has expired/);
  await shopper.fill('#enter-code input[name=code]', code);
  await shopper.click('#enter-code button');
  await shopper.waitForURL(onShop('/cart'));
  assert.match(await shopper.locator('header').innerText(), new RegExp(`Signed in as ${email.replace(/[.]/g, '\\.')}`));
  assert.equal(await userId(shopper), thirdGuest, 'the guest was upgraded in place');
  assert.match((await cartItems(shopper)).join('\n'), /mug/i);
  await shopper.screenshot({ path: path.join(shots, '12-email-code-signed-in.png'), fullPage: true });
  await third.close();
});
