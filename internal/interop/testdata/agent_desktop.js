// Drives the agent desktop in headless Chromium for TestBrowserAgentDesktop:
// sign in, take the call that comes in, hold and resume it, read the page's
// RTP counters, and set the agent available after the call. It prints one
// line per step ("STEP name") and a last line "RESULT {json}", and saves a
// screenshot of the page in each state to the artefact directory.
//
// usage: node agent_desktop.js PAGE_URL AGENT PASSWORD ARTEFACT_DIR
'use strict';
const path = require('path');
const { chromium } = require(path.join(process.env.CALLWERK_WEB, 'node_modules', 'playwright-core'));

const [url, agent, password, artefacts] = process.argv.slice(2);
const step = (name) => console.log('STEP ' + name);

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream', '--allow-loopback-in-peer-connection'],
  });
  const result = {};
  try {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, permissions: ['microphone'] });
    const page = await context.newPage();
    page.on('console', (m) => { if (m.type() === 'error') console.log('CONSOLE ' + m.text()); });
    const shot = (name) => page.screenshot({ path: path.join(artefacts, 'agent-' + name + '.png'), fullPage: true });
    // Functions, not strings: the page's CSP forbids eval.
    const waitFor = (fn, ms) => page.waitForFunction(fn, null, { timeout: ms || 15000 });

    await page.goto(url);
    await shot('signin');
    await page.fill('#agent', agent);
    await page.fill('#password', password);
    await page.click('#signin-button');
    await waitFor(() => window.callwerk.registered);
    await waitFor(() => window.callwerk.state === 'available'); // as the node has it
    await shot('signed-in');
    step('registered');

    await waitFor(() => window.callwerk.callState === 'ringing', 30000);
    result.panel = {
      queue: await page.textContent('#in-queue'),
      caller: await page.textContent('#in-caller'),
      waited: await page.textContent('#in-waited'),
    };
    await shot('ringing');
    await page.click('#answer');
    await waitFor(() => window.callwerk.callState === 'talking');
    step('answered');
    await waitFor(() => window.callwerk.state === 'on-call');
    await page.waitForTimeout(2000);
    await shot('talking');
    result.before_hold = await page.evaluate(() => window.callwerk.stats());
    await page.click('#hold');
    await waitFor(() => window.callwerk.callState === 'held');
    await shot('held');
    await page.waitForTimeout(500);
    await page.click('#hold');
    await waitFor(() => window.callwerk.callState === 'talking');
    step('resumed');
    await page.waitForTimeout(1500);
    result.stats = await page.evaluate(() => window.callwerk.stats());

    await waitFor(() => window.callwerk.callState === 'idle', 30000);
    step('ended');
    await page.waitForTimeout(1500); // the queue's wrap-up time
    await page.click('#pause');
    await waitFor(() => window.callwerk.state.startsWith('paused: '));
    await shot('paused');
    await page.click('#available');
    await waitFor(() => window.callwerk.state === 'available');
    await shot('after-call');
    step('available');
  } catch (e) {
    result.error = String(e);
  } finally {
    console.log('RESULT ' + JSON.stringify(result));
    await browser.close();
  }
})();
