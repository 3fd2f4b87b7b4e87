// Type-checks dashboard JSON against @grafana/schema's TypeScript types with the TypeScript
// compiler. @grafana/schema 12.2.1 ships types only (no JSON schema, no validator).
//
// Each dashboard becomes a TypeScript module that assigns:
//  - the whole document to `Json<Dashboard>` (veneer/dashboard.types.ts);
//  - every panel to its plugin's types (raw/composable/<plugin>/panelcfg): `options` to the
//    plugin's Options, `fieldConfig.defaults.custom` to its FieldConfig;
//  - every override property, as the partial field config it sets (`{custom: {lineStyle: ...}}`),
//    to the same types, so an unknown property id or a wrong value is an error.
// One addition: query variables may carry `definition`, which Grafana's own save model writes
// (public/app/features/dashboard-scene/serialization/sceneVariablesSetToVariables.ts) though the
// v1 VariableModel type lacks it.
// Json<T> turns string enums into their values (JSON has no enums). Panel options and field config
// are deep-partial: Grafana fills what a panel leaves out from the plugin's defaults (the items of
// an array, such as the XY chart's series, get no defaults and are checked whole). Object
// literals get TypeScript's excess-property check, so unknown keys are errors too.
//
// Request: {dashboards: {name: dashboard JSON}}  Answer: {name: [diagnostic, ...]}
'use strict';

const path = require('path');
const ts = require('typescript');
const { run } = require('./io.cjs');

const COMPOSABLE = '@grafana/schema/dist/types/raw/composable';
const PLUGINS = {
  timeseries: 'timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen',
  stat: 'stat/panelcfg/x/StatPanelCfg_types.gen',
  table: 'table/panelcfg/x/TablePanelCfg_types.gen',
  barchart: 'barchart/panelcfg/x/BarChartPanelCfg_types.gen',
  bargauge: 'bargauge/panelcfg/x/BarGaugePanelCfg_types.gen',
  trend: 'trend/panelcfg/x/TrendPanelCfg_types.gen',
  xychart: 'xychart/panelcfg/x/XYChartPanelCfg_types.gen',
};

const PRELUDE = `
import type { Dashboard, FieldConfig, FieldConfigSource, Panel, VariableModel } from '@grafana/schema';
${Object.entries(PLUGINS)
  .map(([name, file]) => `import type * as ${name} from '${COMPOSABLE}/${file}';`)
  .join('\n')}

type Json<T> = T extends string
  ? \`\${T}\`
  : T extends number | boolean | null | undefined
    ? T
    : T extends ReadonlyArray<infer U>
      ? Array<Json<U>>
      : T extends object
        ? { [K in keyof T]: Json<T[K]> }
        : T;
type DeepPartial<T> = T extends ReadonlyArray<infer U>
  ? Array<U>
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;
type SavedDashboard = Omit<Dashboard, 'templating'> & {
  templating?: { list?: Array<VariableModel & { definition?: string }> };
};
type Custom<P> = P extends { FieldConfig: infer C } ? C : Record<string, never>;
type FieldConfigOf<P> = Omit<FieldConfig, 'custom'> & { custom?: Custom<P> };
type PanelOf<P extends { Options: unknown }> = Json<Omit<Panel, 'options' | 'fieldConfig'>> & {
  options?: Json<DeepPartial<P['Options']>>;
  fieldConfig?: {
    defaults: Json<DeepPartial<FieldConfigOf<P>>>;
    overrides: Json<FieldConfigSource['overrides']>;
  };
};
type Setting<P> = Json<DeepPartial<FieldConfigOf<P>>>;
`;

// "custom.lineStyle" = v  ->  {custom: {lineStyle: v}}
function nest(id, value) {
  return id
    .split('.')
    .reverse()
    .reduce((inner, key) => ({ [key]: inner }), value);
}

function source(doc) {
  const lines = [PRELUDE, `export const dashboard: Json<SavedDashboard> = ${JSON.stringify(doc)};`];
  const panels = [];
  for (const p of doc.panels || []) {
    panels.push(p);
    for (const child of p.panels || []) panels.push(child);
  }
  panels.forEach((p, i) => {
    if (p.type === 'row') return;
    const plugin = PLUGINS[p.type] ? `typeof ${p.type}` : null;
    if (!plugin) {
      lines.push(`const unknown_${i}: never = ${JSON.stringify(p.type)}; // no schema for panel type`);
      return;
    }
    // typeof a namespace import has no type members: name them through an interface
    lines.push(`interface P${i} { Options: ${p.type}.Options; FieldConfig: ${customOf(p.type)} }`);
    lines.push(`export const panel_${i}: PanelOf<P${i}> = ${JSON.stringify(p)};`);
    ((p.fieldConfig || {}).overrides || []).forEach((o, j) => {
      (o.properties || []).forEach((prop, k) => {
        lines.push(`export const panel_${i}_override_${j}_${k}: Setting<P${i}> = ${JSON.stringify(nest(prop.id, prop.value))};`);
      });
    });
  });
  return lines.join('\n');
}

function customOf(type) {
  // stat and bargauge have no custom field config in their schema
  return ['stat', 'bargauge'].includes(type) ? 'Record<string, never>' : `${type}.FieldConfig`;
}

run(({ dashboards }) => {
  const dir = __dirname;
  const files = {};
  for (const [name, doc] of Object.entries(dashboards)) {
    files[path.join(dir, `__check_${name.replace(/[^A-Za-z0-9]/g, '_')}.ts`)] = { name, text: source(doc) };
  }
  const options = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile;
  host.readFile = (f) => (files[f] ? files[f].text : readFile(f));
  const fileExists = host.fileExists;
  host.fileExists = (f) => Boolean(files[f]) || fileExists(f);
  const getSourceFile = host.getSourceFile;
  host.getSourceFile = (f, lang, ...rest) =>
    files[f] ? ts.createSourceFile(f, files[f].text, lang) : getSourceFile(f, lang, ...rest);
  const program = ts.createProgram(Object.keys(files), options, host);
  const answer = {};
  for (const [file, { name }] of Object.entries(files)) {
    const sf = program.getSourceFile(file);
    const diags = [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)];
    answer[name] = diags.map((d) => {
      const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : null;
      const line = where ? d.file.text.split('\n')[where.line] : '';
      const subject = (line.match(/^(?:export )?const (\w+)/) || [])[1] || 'dashboard';
      return `${subject}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
  }
  // the program must have loaded Grafana's types, or every check above would be vacuous
  const loaded = program.getSourceFiles().some((f) => f.fileName.includes('@grafana/schema/dist/types/veneer'));
  if (!loaded) throw new Error('@grafana/schema types were not loaded');
  return answer;
});
