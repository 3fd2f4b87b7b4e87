// @grafana/data expects a browser: its module body subscribes to window "storage" events and reads
// window.grafanaBootData. Grafana's own unit tests run it under jsdom (jest-environment-jsdom);
// so do these checks. Exports the real @grafana/data module.
'use strict';

const { JSDOM } = require('jsdom');

// @grafana/data's i18n setup logs to the console; answers go to stdout alone.
for (const level of ['log', 'info', 'warn', 'debug']) {
  console[level] = (...args) => process.stderr.write(args.join(' ') + '\n');
}

const dom = new JSDOM('<!doctype html><html><body></body></html>', { url: 'http://localhost/' });
globalThis.window = dom.window;
globalThis.document = dom.window.document;
Object.defineProperty(globalThis, 'navigator', { value: dom.window.navigator, configurable: true });

module.exports = require('@grafana/data');
